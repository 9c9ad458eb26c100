#!/usr/bin/env bash
# One build, two providers (--provider virtualbox,libvirt): both boxes from
# the same working files, named NAME-PROVIDER.box (or DIR/IMAGE-PROVIDER.box);
# the libvirt box holds box.img (qcow2: qemu-img check clean, compare says
# identical to the VirtualBox box's disk), metadata.json for libvirt and a
# Vagrantfile with the libvirt settings; one catalog version lists both;
# and vagrant-libvirt's `vagrant box add` + `vagrant validate` accept the
# libvirt box (that part skipped, and said so, without vagrant-libvirt).
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
expect_exit 0 "build --provider virtualbox,libvirt -o NAME.box" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/n.box" \
  --provider virtualbox,libvirt --winrm --size 2G --quiet --json --catalog "$SCRATCH/c.json" --box-name t/nano --box-version 1.0.0
[ -s "$SCRATCH/n-virtualbox.box" ] && [ -s "$SCRATCH/n-libvirt.box" ] && [ ! -e "$SCRATCH/n.box" ] \
  && ok "two boxes, NAME-PROVIDER.box" || bad "boxes: $(ls "$SCRATCH")"
cp "$SCRATCH/out" "$SCRATCH/b.json"
$PY - "$SCRATCH/b.json" "$SCRATCH/c.json" <<'PYEOF' && ok "--json lists both boxes; the catalog's version has both providers with their sha256" || bad "json/catalog: $(cat "$SCRATCH/b.json")"
import hashlib, json, sys
b, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
boxes = {x["provider"]: x for x in b["boxes"]}
ok = sorted(boxes) == ["libvirt", "virtualbox"]
provs = {p["name"]: p for p in c["versions"][0]["providers"]}
for name, x in boxes.items():
    sha = hashlib.sha256(open(x["box"], "rb").read()).hexdigest()
    ok = ok and x["sha256"] == sha and provs.get(name, {}).get("checksum") == sha and provs[name]["url"].endswith(x["box"].split("/")[-1])
sys.exit(0 if ok else 1)
PYEOF
mkdir -p "$SCRATCH/v" "$SCRATCH/l"
tar xf "$SCRATCH/n-virtualbox.box" -C "$SCRATCH/v" && tar xf "$SCRATCH/n-libvirt.box" -C "$SCRATCH/l"
[ "$(tar tf "$SCRATCH/n-libvirt.box" | sort | tr '\n' ' ')" = "Vagrantfile box.img metadata.json " ] && ok "the libvirt box holds box.img, metadata.json, Vagrantfile" || bad "libvirt box: $(tar tf "$SCRATCH/n-libvirt.box")"
chk=$(qemu-img check -f qcow2 "$SCRATCH/l/box.img" 2>&1) && echo "$chk" | grep -q "No errors" && ! echo "$chk" | grep -qi leak \
  && ok "qemu-img check: box.img clean" || bad "qemu-img check: $chk"
qemu-img compare "$SCRATCH/l/box.img" "$SCRATCH/v/box-disk001.vmdk" 2>&1 | grep -q "identical" \
  && ok "box.img and the VirtualBox VMDK hold the same disk" || bad "the two disks differ"
$PY -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if m=={"provider":"libvirt","format":"qcow2","virtual_size":2} else 1)' "$SCRATCH/l/metadata.json" \
  && ok "metadata.json: libvirt, qcow2, 2 GiB" || bad "metadata.json: $(cat "$SCRATCH/l/metadata.json")"
grep -q 'nic_model_type = "e1000"' "$SCRATCH/l/Vagrantfile" && grep -q 'disk_bus = ' "$SCRATCH/l/Vagrantfile" \
  && ok "the libvirt Vagrantfile sets the NIC model and disk bus" || bad "Vagrantfile: $(cat "$SCRATCH/l/Vagrantfile")"
mkdir -p "$SCRATCH/dir"
expect_exit 0 "build --provider libvirt -o DIR/" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/dir/" --provider libvirt --winrm --quiet
[ -s "$SCRATCH/dir/nano-base.box" ] && ok "DIR/IMAGE.box for one provider" || bad "dir: $(ls "$SCRATCH/dir")"
expect_exit 2 "an unknown provider is a usage error" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/x.box" --provider virtualbox,parallels
if command -v vagrant >/dev/null 2>&1 && vagrant plugin list 2>/dev/null | grep -q '^vagrant-libvirt'; then
  export VAGRANT_HOME=$SCRATCH/vh VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DEFAULT_PROVIDER=libvirt
  export RUBYLIB=$SRCDIR/tests/e2e/vagrant-stub${RUBYLIB:+:$RUBYLIB}
  if (cd "$SCRATCH" && vagrant box add --provider libvirt --name tnano ./n-libvirt.box) > "$SCRATCH/va" 2>&1; then
    ok "vagrant box add --provider libvirt accepts the built box"
    mkdir -p "$SCRATCH/p" && printf 'Vagrant.configure("2") { |c| c.vm.box = "tnano" }\n' > "$SCRATCH/p/Vagrantfile"
    (cd "$SCRATCH/p" && vagrant validate) > "$SCRATCH/vv" 2>&1 && ok "vagrant validate loads its Vagrantfile" || bad "vagrant validate: $(tail -5 "$SCRATCH/vv")"
    vagrant box remove -f tnano >/dev/null 2>&1
  else
    bad "vagrant box add: $(tail -5 "$SCRATCH/va")"
  fi
else
  skip_part "vagrant-libvirt not installed: vagrant box add of the libvirt box"
fi
finish
