#!/usr/bin/env bash
# The libvirt box (src/box/libvirt.c): nano-base.vhd through `convert -O
# qcow2 --sparsify`, packed by tests/tools/box_write --provider libvirt.
# Checked by tools that are not ours: tar lists exactly box.img,
# metadata.json and Vagrantfile; python3's json reads metadata.json
# (provider libvirt, format qcow2, virtual_size = qemu-img's virtual-size
# in GiB rounded up); `qemu-img check` finds box.img clean and `qemu-img
# compare` finds it identical to boxwright's own `--sparsify` raw; the
# same options give the same sha256; and with vagrant-libvirt (Debian:
# vagrant-libvirt) `vagrant box add --provider libvirt` accepts the box and
# `vagrant validate` loads its Vagrantfile merged under a user's (the
# libvirt provider's own validation runs: a control box with the loader
# line removed must fail it), for SATA+UEFI+hardware UUID and IDE+BIOS
# boxes; then `vagrant box remove`.  SKIP (77) only if vagrant-libvirt is
# not installed.
. "$SRCDIR/tests/e2e/lib.sh"
TOOL=$BUILDDIR/tests/tools/box_write
[ -x "$TOOL" ] || { echo "$TOOL missing: build check_PROGRAMS"; exit 99; }
need_fixture nano-base.vhd
if ! command -v vagrant >/dev/null 2>&1 || ! vagrant plugin list 2>/dev/null | grep -q '^vagrant-libvirt'; then
  echo "SKIP: vagrant-libvirt is not installed (Debian: apt-get install vagrant-libvirt; scripts/deps.sh)"
  exit 77
fi

HWUUID=12345678-9abc-4ef0-8123-56789abcdef0
q=$SCRATCH/x.qcow2
raw=$SCRATCH/x.raw
expect_exit 0 "convert -O qcow2 --sparsify nano-base.vhd" "$BOXWRIGHT" convert --quiet -O qcow2 --sparsify "$FIXTURES/nano-base.vhd" "$q"
expect_exit 0 "convert -O raw --sparsify nano-base.vhd (the reference)" "$BOXWRIGHT" convert --quiet -O raw --sparsify "$FIXTURES/nano-base.vhd" "$raw"
[ -s "$q" ] || { bad "no qcow2 to pack"; finish; exit; }
vsize=$(qemu-img info --output=json -f qcow2 "$q" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')

# check_box BOX LABEL: the content checks on one libvirt box.
check_box() {
  local box=$1 label=$2 d=$SCRATCH/unpack-$2
  rm -rf "$d"; mkdir -p "$d"
  if [ "$(tar tf "$box" | sort | tr '\n' ' ')" = "Vagrantfile box.img metadata.json " ]; then
    ok "$label: tar lists exactly box.img, metadata.json, Vagrantfile"
  else
    bad "$label: tar lists: $(tar tf "$box" | tr '\n' ' ')"
  fi
  tar xf "$box" -C "$d" || { bad "$label: tar cannot extract"; return; }
  if out=$(qemu-img check -f qcow2 "$d/box.img" 2>&1); then
    ok "$label: qemu-img check: box.img is clean"
  else
    bad "$label: qemu-img check:"; printf '%s\n' "$out" | sed 's/^/  /'
  fi
  if out=$(qemu-img compare -f qcow2 -F raw "$d/box.img" "$raw" 2>&1); then
    ok "$label: qemu-img compare: box.img = the sparsified raw ($out)"
  else
    bad "$label: qemu-img compare: $out"
  fi
  if out=$($PY - "$d/metadata.json" "$vsize" <<'PYEOF'
import json, sys
m = json.load(open(sys.argv[1]))
vs = int(sys.argv[2])
want = {"provider": "libvirt", "format": "qcow2", "virtual_size": -(-vs // 2**30)}
if m != want:
    print("metadata %r, expected %r" % (m, want)); sys.exit(1)
print("virtual_size %d GiB for %d bytes" % (m["virtual_size"], vs))
PYEOF
  ); then ok "$label: metadata.json: $out"; else bad "$label: $out"; fi
  grep -qx 'Vagrant.require_version ">= 1.9.2"' "$d/Vagrantfile" && ok "$label: require_version >= 1.9.2" || bad "$label: no require_version line"
}

expect_exit 0 "box_write --provider libvirt --disk-bus sata --efi --hardware-uuid --winrm-plaintext" \
  "$TOOL" "$q" "$SCRATCH/s.box" --provider libvirt --disk-bus sata --efi --hardware-uuid "$HWUUID" --winrm-plaintext --mtime 1700000000
check_box "$SCRATCH/s.box" sata-efi
vf=$(tar xOf "$SCRATCH/s.box" Vagrantfile)
for line in 'lv.disk_bus = "sata"' 'lv.machine_type = "q35"' 'lv.nic_model_type = "e1000"' \
            'lv.loader = "/usr/share/OVMF/OVMF_CODE.fd"' "\"uuid\" => \"$HWUUID\"" 'config.winrm.transport = :plaintext'; do
  printf '%s\n' "$vf" | grep -qF "$line" && ok "sata-efi: Vagrantfile has $line" || bad "sata-efi: Vagrantfile lacks $line"
done
expect_exit 0 "box_write --provider libvirt (defaults: ide, BIOS)" "$TOOL" "$q" "$SCRATCH/i.box" --provider libvirt
check_box "$SCRATCH/i.box" ide
vf=$(tar xOf "$SCRATCH/i.box" Vagrantfile)
printf '%s\n' "$vf" | grep -qF 'lv.machine_type = "pc"' && printf '%s\n' "$vf" | grep -qF 'lv.disk_bus = "ide"' \
  && ok "ide: disk_bus ide on the pc machine type" || bad "ide: $vf"
printf '%s\n' "$vf" | grep -q 'loader\|nvram\|plaintext' && bad "ide: loader/nvram/plaintext without being asked" || ok "ide: no loader, nvram or plaintext"

# Reproducible: the same options twice give the same bytes (gzip too).
for gz in "" --gzip; do
  "$TOOL" "$q" "$SCRATCH/r1.box" --provider libvirt --mtime 1700000000 $gz >/dev/null
  sleep 1
  "$TOOL" "$q" "$SCRATCH/r2.box" --provider libvirt --mtime 1700000000 $gz >/dev/null
  [ "$(sha256sum < "$SCRATCH/r1.box")" = "$(sha256sum < "$SCRATCH/r2.box")" ] \
    && ok "reproducible${gz:+ $gz}: the same sha256 twice" || bad "reproducible${gz:+ $gz}: two writes differ"
  rm -f "$SCRATCH"/r[12].box
done
# A VMDK is not a qcow2: refused, nothing left.
expect_exit 0 "convert to VMDK" "$BOXWRIGHT" convert --quiet "$FIXTURES/nano-base.vhd" "$SCRATCH/x.vmdk"
expect_exit 2 "a VMDK as box.img is refused" "$TOOL" "$SCRATCH/x.vmdk" "$SCRATCH/v.box" --provider libvirt
[ -e "$SCRATCH/v.box" ] && bad "a refused box left a file" || ok "no file after a refusal"
rm -f "$SCRATCH/x.vmdk"

export VAGRANT_HOME=$SCRATCH/vagrant-home VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt
# Debian's vagrant lacks the winrm gem that loading the communicator needs.
export RUBYLIB=$SRCDIR/tests/e2e/vagrant-stub${RUBYLIB:+:$RUBYLIB}
# vagrant_validate NAME LABEL [EXPECT_FAIL]: a user's Vagrantfile naming the box.
vagrant_validate() {
  local p=$SCRATCH/proj-$2
  mkdir -p "$p"
  printf 'Vagrant.configure("2") { |c| c.vm.box = "%s" }\n' "$1" > "$p/Vagrantfile"
  (cd "$p" && vagrant validate) >"$SCRATCH/vv" 2>&1
}
for b in s i; do
  if (cd "$SCRATCH" && vagrant box add --provider libvirt --name "t$b" "./$b.box") >"$SCRATCH/va" 2>&1; then
    vagrant box list 2>/dev/null | grep -q "^t$b *(libvirt, 0)" && ok "vagrant box add $b.box: listed as libvirt" || bad "vagrant box list: $(vagrant box list 2>&1)"
  else
    bad "vagrant box add $b.box:"; tail -5 "$SCRATCH/va" | sed 's/^/  /'; continue
  fi
  if vagrant_validate "t$b" "$b"; then
    ok "vagrant validate: t$b's Vagrantfile merged and validated by the libvirt provider"
  else
    bad "vagrant validate t$b:"; tail -8 "$SCRATCH/vv" | sed 's/^/  /'
  fi
done
# The control: validation really reads the box's Vagrantfile.
bv=$VAGRANT_HOME/boxes/ts/0/libvirt/Vagrantfile
if [ -f "$bv" ]; then
  cp "$bv" "$SCRATCH/vf.keep"
  sed -i '/lv.loader/d' "$bv"
  if vagrant_validate ts control; then
    bad "vagrant validate accepted nvram without loader: the box Vagrantfile is not validated"
  else
    grep -q "nvram" "$SCRATCH/vv" && ok "control: vagrant validate refuses the box Vagrantfile without its loader" || { bad "control failed otherwise:"; tail -5 "$SCRATCH/vv" | sed 's/^/  /'; }
  fi
  cp "$SCRATCH/vf.keep" "$bv"
fi
for b in s i; do
  expect_exit 0 "vagrant box remove t$b" vagrant box remove --provider libvirt "t$b"
done
vagrant box list 2>/dev/null | grep -q '^t[si] ' && bad "boxes left after remove" || ok "no boxes left"
finish
