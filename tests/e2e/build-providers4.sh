#!/usr/bin/env bash
# One build, four providers (--provider virtualbox,libvirt,hyperv,
# vmware_desktop), on an MBR image (nano-base: Hyper-V Generation 1, VHD,
# BIOS) and a GPT one (nano-gpt.vhdx: Generation 2, VHDX, UEFI), and the
# GPT one again on the guestfs backend (--sandbox).  For every box: the
# tar's member list and metadata.json; every disk read by qemu-img (format,
# `check` for the VMDKs and the qcow2) and compared identical to the
# VirtualBox box's VMDK; the Hyper-V box read as Vagrant's New-VagrantVMXML
# reads it (vagrant_box_read.py: the same paths, XPaths and PowerShell
# "#text" rules; every pathname a file of the box) and its disk by
# vhdiinfo; the VMware .vmx parsed as vagrant-vmware-desktop's
# read_vmx_data does and its disk by vmdkinfo; the catalog lists the four
# with their sha256; the Hyper-V Vagrantfile loaded by `vagrant validate`
# (with a control that it really is loaded), the VMware one, whose plugin
# is not installable here, by `ruby -c` and evaluated under a recorder.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
need_fixture nano-gpt.vhdx
ALL=virtualbox,libvirt,hyperv,vmware_desktop
READ="$PY $SRCDIR/tests/e2e/vagrant_box_read.py"

# check_boxes TAG GEN JSON: the four boxes of one build, listed in JSON
check_boxes() {
  local tag=$1 gen=$2 json=$3 d=$SCRATCH/$1 uuid fw ext fmt bus
  fw=$([ "$gen" = 2 ] && echo efi || echo bios)
  ext=$([ "$gen" = 2 ] && echo vhdx || echo vhd)
  fmt=$([ "$gen" = 2 ] && echo vhdx || echo vpc)
  uuid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["hardware_uuid"] or "-")' "$json")
  $PY - "$json" "$tag" <<'PYEOF' && ok "$tag: --json lists the four boxes in --provider's order, NAME-PROVIDER.box" || bad "$tag: --json boxes: $(cat "$json")"
import json, sys
b = json.load(open(sys.argv[1]))["boxes"]
want = ["virtualbox", "libvirt", "hyperv", "vmware_desktop"]
sys.exit(0 if [x["provider"] for x in b] == want and all(x["box"].endswith("%s-%s.box" % (sys.argv[2], x["provider"])) for x in b) else 1)
PYEOF
  for p in virtualbox libvirt hyperv vmware_desktop; do
    mkdir -p "$d/$p" && tar -xf "$SCRATCH/$tag-$p.box" -C "$d/$p" || bad "$tag: cannot extract the $p box"
  done
  local vmdk=$d/virtualbox/box-disk001.vmdk
  # member lists, in order (descriptor, metadata.json, Vagrantfile, disk)
  local want
  for p in virtualbox libvirt hyperv vmware_desktop; do
    case $p in
      virtualbox) want="box.ovf|metadata.json|Vagrantfile|box-disk001.vmdk|" ;;
      libvirt) want="metadata.json|Vagrantfile|box.img|" ;;
      hyperv) want="Virtual Machines/boxwright-nano.xml|metadata.json|Vagrantfile|Virtual Hard Disks/boxwright-nano.$ext|" ;;
      vmware_desktop) want="boxwright-nano.vmx|metadata.json|Vagrantfile|boxwright-nano.vmdk|" ;;
    esac
    got=$(tar -tf "$SCRATCH/$tag-$p.box" | tr '\n' '|')
    [ "$got" = "$want" ] && ok "$tag: the $p box holds ${want//|/ }" || bad "$tag: $p members: $got (expected $want)"
  done
  $PY - "$d" <<'PYEOF' && ok "$tag: metadata.json of each names its provider (libvirt: qcow2, virtual_size)" || bad "$tag: metadata.json: $(cat "$d"/*/metadata.json)"
import json, sys, os
d = sys.argv[1]
m = {p: json.load(open(os.path.join(d, p, "metadata.json"))) for p in ("virtualbox", "libvirt", "hyperv", "vmware_desktop")}
ok = all(m[p] == {"provider": p} for p in ("virtualbox", "hyperv", "vmware_desktop"))
ok = ok and m["libvirt"]["provider"] == "libvirt" and m["libvirt"]["format"] == "qcow2" and m["libvirt"]["virtual_size"] >= 1
sys.exit(0 if ok else 1)
PYEOF
  # Hyper-V: the XML as Vagrant reads it, the disk by qemu-img and libvhdi
  if out=$($READ hyperv "$d/hyperv" "$gen" 2>&1); then ok "$tag: Hyper-V box read as New-VagrantVMXML does: ${out#hyperv: }"; else bad "$tag: Hyper-V: $out"; fi
  local hd="$d/hyperv/Virtual Hard Disks/boxwright-nano.$ext"
  [ "$(qemu-img info --output=json "$hd" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')" = "$fmt" ] \
    && ok "$tag: qemu-img reads the Hyper-V disk as $fmt" || bad "$tag: qemu-img info: $(qemu-img info "$hd" 2>&1)"
  if command -v vhdiinfo >/dev/null 2>&1; then
    vi=$(vhdiinfo "$hd" 2>&1)
    echo "$vi" | grep -q "Disk type.*: Dynamic" && echo "$vi" | grep -q "Format.*: VHD$([ "$gen" = 2 ] && echo X)" \
      && ok "$tag: vhdiinfo: a dynamic $(echo "$ext" | tr a-z A-Z)" || bad "$tag: vhdiinfo: $vi"
  else
    skip_part "vhdiinfo (libvhdi-utils) missing"
  fi
  qemu-img compare "$hd" "$vmdk" 2>&1 | grep -q "Images are identical" \
    && ok "$tag: the Hyper-V disk holds the VirtualBox box's disk" || bad "$tag: Hyper-V disk differs: $(qemu-img compare "$hd" "$vmdk" 2>&1)"
  # VMware: the .vmx as the plugin reads it, the monolithicSparse disk
  local bus
  bus=$(sed -n 's/^ *lv.disk_bus = "\(.*\)"$/\1/p' "$d/libvirt/Vagrantfile")
  if out=$($READ vmware "$d/vmware_desktop" "$fw" "$bus" "$uuid" 2>&1); then
    ok "$tag: VMware .vmx read as read_vmx_data does: $(echo "$out" | head -1)"
  else
    bad "$tag: VMware: $out"
  fi
  local vd=$d/vmware_desktop/boxwright-nano.vmdk
  chk=$(qemu-img check "$vd" 2>&1) && echo "$chk" | grep -q "No errors" && ok "$tag: qemu-img check: the VMware VMDK is clean" || bad "$tag: qemu-img check: $chk"
  [ "$(qemu-img info --output=json "$vd" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["create-type"])')" = monolithicSparse ] \
    && ok "$tag: qemu-img: createType monolithicSparse" || bad "$tag: VMware VMDK type: $(qemu-img info "$vd" 2>&1)"
  if command -v vmdkinfo >/dev/null 2>&1; then
    vi=$(vmdkinfo "$vd" 2>&1)
    echo "$vi" | grep -q "Disk type:.*Monolithic sparse" && echo "$vi" | grep -q "Filename:.*boxwright-nano.vmdk" \
      && ok "$tag: vmdkinfo: monolithic sparse, its extent named boxwright-nano.vmdk" || bad "$tag: vmdkinfo: $vi"
  else
    skip_part "vmdkinfo (libvmdk-utils) missing"
  fi
  qemu-img compare "$vd" "$vmdk" 2>&1 | grep -q "Images are identical" \
    && ok "$tag: the VMware disk holds the VirtualBox box's disk" || bad "$tag: VMware disk differs"
  chk=$(qemu-img check -f qcow2 "$d/libvirt/box.img" 2>&1) && echo "$chk" | grep -q "No errors" && ! echo "$chk" | grep -qi leak \
    && ok "$tag: qemu-img check: box.img clean" || bad "$tag: box.img: $chk"
  qemu-img compare "$d/libvirt/box.img" "$vmdk" 2>&1 | grep -q "Images are identical" \
    && ok "$tag: box.img holds the VirtualBox box's disk" || bad "$tag: box.img differs"
  # the Vagrantfiles: Ruby, the WinRM login of the others, each provider's block
  for p in virtualbox libvirt hyperv vmware_desktop; do
    ruby -c "$d/$p/Vagrantfile" >/dev/null 2>&1 || bad "$tag: ruby -c $p/Vagrantfile"
  done
  same=1
  for p in libvirt hyperv vmware_desktop; do
    diff <(grep -E '^Vagrant.require_version|config.winrm|config.vm.(guest|communicator)' "$d/virtualbox/Vagrantfile") \
         <(grep -E '^Vagrant.require_version|config.winrm|config.vm.(guest|communicator)' "$d/$p/Vagrantfile") >/dev/null || same=0
  done
  [ "$same" = 1 ] && ok "$tag: every Vagrantfile parses and carries the same WinRM settings and require_version" || bad "$tag: Vagrantfiles differ in WinRM"
}

# vmware_vf VAGRANTFILE UUID: evaluate it under a recorder of Vagrant.configure
vmware_vf() {
  ruby - "$1" "$2" <<'RBEOF'
$rec = {}
class Rec
  def initialize(path) @path = path end
  def vmx() ($rec[@path + ".vmx"] ||= {}) end
  def method_missing(m, *a, &b)
    if m.to_s.end_with?("=") then $rec[@path + "." + m.to_s.chomp("=")] = a[0]; return end
    if m == :provider then $rec["providers"] = ($rec["providers"] || []) + [a[0]]; b.call(Rec.new(a[0].to_s)) if b; return end
    Rec.new(@path + "." + m.to_s)
  end
  def respond_to_missing?(*) true end
end
module Vagrant
  def self.require_version(*v) $rec["require_version"] = v end
  def self.configure(v) yield Rec.new("config") end
end
load ARGV[0]
vmx = $rec["vmware_desktop.vmx"] || {}
ok = $rec["providers"] == ["vmware_desktop"] && vmx["memsize"] == "1024" && vmx["numvcpus"] == "1" &&
     $rec["config.vm.communicator"] == "winrm"
if ARGV[1] != "-"
  h = ARGV[1].delete("-").downcase.scan(/../)
  ok &&= vmx["uuid.bios"] == h[0, 8].join(" ") + "-" + h[8, 8].join(" ") && vmx["uuid.action"] == "keep"
end
puts $rec.inspect
exit(ok ? 0 : 1)
RBEOF
}

expect_exit 0 "build --provider $ALL (MBR)" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/mbr.box" \
  --provider "$ALL" --winrm --size 2G --quiet --json --catalog "$SCRATCH/c.json" --box-name t/nano --box-version 1.0.0
cp "$SCRATCH/out" "$SCRATCH/mbr.json"
check_boxes mbr 1 "$SCRATCH/mbr.json"
$PY - "$SCRATCH/mbr.json" "$SCRATCH/c.json" <<'PYEOF' && ok "the catalog's version lists the four providers, each with its box's sha256" || bad "catalog: $(cat "$SCRATCH/c.json")"
import hashlib, json, sys
b, c = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
provs = {p["name"]: p for p in c["versions"][0]["providers"]}
ok = sorted(provs) == ["hyperv", "libvirt", "virtualbox", "vmware_desktop"]
for x in b["boxes"]:
    sha = hashlib.sha256(open(x["box"], "rb").read()).hexdigest()
    ok = ok and x["sha256"] == sha and provs[x["provider"]]["checksum"] == sha and provs[x["provider"]]["url"].endswith(x["box"].split("/")[-1])
sys.exit(0 if ok else 1)
PYEOF
muuid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["hardware_uuid"] or "-")' "$SCRATCH/mbr.json")
out=$(vmware_vf "$SCRATCH/mbr/vmware_desktop/Vagrantfile" "$muuid" 2>&1) \
  && ok "the VMware Vagrantfile, evaluated: vmware.vmx memsize, numvcpus, uuid.bios (VMware's form) and uuid.action keep" || bad "VMware Vagrantfile: $out"

expect_exit 0 "build --provider $ALL (GPT)" "$BOXWRIGHT" build "$FIXTURES/nano-gpt.vhdx" -o "$SCRATCH/gpt.box" \
  --provider "$ALL" --winrm --quiet --json --hardware-uuid 8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f
cp "$SCRATCH/out" "$SCRATCH/gpt.json"
check_boxes gpt 2 "$SCRATCH/gpt.json"
grep -q '^uuid.bios = "8f 6d 2f 4e 5a 1b 4c 3d-9e 7f 0a 1b 2c 3d 4e 5f"$' "$SCRATCH/gpt/vmware_desktop/boxwright-nano.vmx" \
  && ok "gpt: --hardware-uuid in the .vmx as uuid.bios" || bad "gpt: uuid.bios: $(grep uuid "$SCRATCH/gpt/vmware_desktop/boxwright-nano.vmx")"

# The guestfs backend builds the same four (disks identical to each other;
# against the native build, backends-compare.sh compares the contents).
if [ -e /dev/kvm ] || [ -n "${LIBGUESTFS_BACKEND_SETTINGS:-}" ]; then
  expect_exit 0 "build --sandbox --provider $ALL (GPT)" "$BOXWRIGHT" build "$FIXTURES/nano-gpt.vhdx" -o "$SCRATCH/sbx.box" \
    --provider "$ALL" --winrm --quiet --json --sandbox --hardware-uuid 8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f
  if [ -s "$SCRATCH/sbx-vmware_desktop.box" ]; then
    cp "$SCRATCH/out" "$SCRATCH/sbx.json"
    check_boxes sbx 2 "$SCRATCH/sbx.json"
  else
    bad "--sandbox: no boxes: $(cat "$SCRATCH/err")"
  fi
else
  skip_part "no /dev/kvm and no LIBGUESTFS_BACKEND_SETTINGS: the --sandbox build"
fi

# Vagrant loads the Hyper-V box's Vagrantfile (hyperv is built in).
if command -v vagrant >/dev/null 2>&1 && command -v bsdtar >/dev/null 2>&1; then
  export VAGRANT_HOME=$SCRATCH/vh VAGRANT_CHECKPOINT_DISABLE=1
  export RUBYLIB=$SRCDIR/tests/e2e/vagrant-stub${RUBYLIB:+:$RUBYLIB}
  for t in mbr gpt; do
    if (cd "$SCRATCH" && vagrant box add --name "h$t" "./$t-hyperv.box") >"$SCRATCH/va" 2>&1 &&
       vagrant box list 2>/dev/null | grep -q "^h$t *(hyperv, 0)"; then
      ok "$t: vagrant box add: listed as hyperv"
    else
      bad "$t: vagrant box add hyperv:"; tail -5 "$SCRATCH/va" | sed 's/^/  /'; continue
    fi
    mkdir -p "$SCRATCH/p$t" && printf 'Vagrant.configure("2") { |c| c.vm.box = "h%s" }\n' "$t" > "$SCRATCH/p$t/Vagrantfile"
    (cd "$SCRATCH/p$t" && VAGRANT_DEFAULT_PROVIDER=hyperv vagrant validate --ignore-provider) >"$SCRATCH/vv" 2>&1 \
      && ok "$t: vagrant validate loads the Hyper-V box's Vagrantfile" || { bad "$t: vagrant validate:"; tail -8 "$SCRATCH/vv" | sed 's/^/  /'; }
  done
  bv=$VAGRANT_HOME/boxes/hmbr/0/hyperv/Vagrantfile
  if [ -f "$bv" ]; then
    echo 'raise "boxwright-control"' >> "$bv"
    (cd "$SCRATCH/pmbr" && VAGRANT_DEFAULT_PROVIDER=hyperv vagrant validate --ignore-provider) >"$SCRATCH/vv" 2>&1
    grep -q boxwright-control "$SCRATCH/vv" && ok "control: vagrant validate really loads the Hyper-V box's Vagrantfile" \
      || bad "control: vagrant validate did not load the box's Vagrantfile"
  fi
else
  skip_part "vagrant or bsdtar missing: vagrant box add / validate of the Hyper-V box"
fi

expect_exit 2 "an unknown provider is a usage error naming all four" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/x.box" --provider hyperv,vmware
grep -q "virtualbox, libvirt, hyperv, vmware_desktop" "$SCRATCH/err" && ok "the error lists virtualbox, libvirt, hyperv, vmware_desktop" || bad "error: $(cat "$SCRATCH/err")"
expect_exit 2 "a provider named twice is a usage error" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/x.box" --provider hyperv,vmware_desktop,hyperv
ls "$SCRATCH"/x* >/dev/null 2>&1 && bad "a refused build left output" || ok "nothing written by the refused builds"
finish
