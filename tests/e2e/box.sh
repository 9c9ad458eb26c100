#!/usr/bin/env bash
# The Vagrant box writer (src/box/) on a real VMDK: nano-base.vhd through
# `convert --sparsify`, packed by tests/tools/box_write plain and gzip.
# Checked by tools that are not ours: tar lists exactly box.ovf,
# metadata.json, Vagrantfile and box-disk001.vmdk; python3's xml.etree
# parses box.ovf and runs FORMATS.md's content checks (every ovf:href in
# the tar, every Item with a rasd:ResourceType, the disk's Parent an IDE
# controller, its HostResource a Disk, ovf:capacity = the VMDK header's
# capacity * 512 = qemu-img's virtual-size, the Disk's vbox:uuid = the
# <Image uuid> of vbox:Machine, the MAC = the Vagrantfile's base_mac);
# hostile names and passwords survive XML and Ruby; Vagrant's own config
# loader reads the Vagrantfile (one WinRM forward, the credentials, the
# hardware UUID); and, when Vagrant is installed (Debian 12: vagrant
# 2.3.4), `vagrant box add` of the box and of a catalog from another
# directory, with the checksum verified (a wrong one refused) and a name
# mismatch refused.
. "$SRCDIR/tests/e2e/lib.sh"
TOOL=$BUILDDIR/tests/tools/box_write
[ -x "$TOOL" ] || { echo "$TOOL missing: build check_PROGRAMS"; exit 99; }
need_fixture nano-base.vhd

vmdk=$SCRATCH/x.vmdk
expect_exit 0 "convert --sparsify nano-base.vhd to VMDK" "$BOXWRIGHT" convert --quiet --sparsify "$FIXTURES/nano-base.vhd" "$vmdk"
[ -s "$vmdk" ] || { bad "no VMDK to pack"; finish; exit; }
qsize=$(qemu-img info --output=json -f vmdk "$vmdk" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')

HOSTILE_NAME="nano<&'> é"
HOSTILE_PASS='p"a\s#{`id`}'"'"'<&#@x é'
HWUUID=12345678-9abc-4ef0-8123-56789abcdef0

# check_box BOX LABEL [NAME PASSWORD PLAINTEXT HWUUID]: the content checks
# on one box; PLAINTEXT 1 when it was written with --winrm-plaintext.
check_box() {
  local box=$1 label=$2 name=${3:-boxwright-nano} pass=${4:-vagrant} plain=${5:-0} hw=${6:-}
  local d=$SCRATCH/unpack-$label
  rm -rf "$d"; mkdir -p "$d"
  if [ "$(tar tf "$box" | sort | tr '\n' ' ')" = "Vagrantfile box-disk001.vmdk box.ovf metadata.json " ]; then
    ok "$label: tar lists exactly the 4 entries"
  else
    bad "$label: tar lists: $(tar tf "$box" | tr '\n' ' ')"
  fi
  tar xf "$box" -C "$d" || { bad "$label: tar cannot extract"; return; }
  cmp -s "$d/box-disk001.vmdk" "$vmdk" && ok "$label: the disk entry is the VMDK byte for byte" || bad "$label: disk entry differs from the VMDK"
  if out=$($PY - "$d" "$qsize" "$name" "$hw" <<'EOF'
import json, os, struct, sys
import xml.etree.ElementTree as ET
d, qsize, want_name, want_hw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
NS = {"ovf": "http://schemas.dmtf.org/ovf/envelope/1",
      "rasd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData",
      "vssd": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData",
      "vbox": "http://www.virtualbox.org/ovf/machine"}
O = "{%s}" % NS["ovf"]
V = "{%s}" % NS["vbox"]
msgs = []
def fail(m):
    print(m)
    sys.exit(1)
def local(e): return e.tag.rsplit("}", 1)[-1]
def under(e, *path):
    """Descendants of E along local names: VirtualBox writes the settings
    inside vbox:Machine unprefixed, so they sit in the default (OVF)
    namespace, exactly as in its own exports; match them by local name."""
    found = [e]
    for name in path:
        found = [c for f in found for c in f.iter() if c is not f and local(c) == name]
    return found
root = ET.parse(os.path.join(d, "box.ovf")).getroot()
if root.tag != O + "Envelope" or root.get(O + "version") != "1.0":
    fail("root is %s version %s" % (root.tag, root.get(O + "version")))
# The literal prefixes as VirtualBox writes them (tools XPath on them).
head = open(os.path.join(d, "box.ovf"), encoding="utf-8").read(2000)
for p, uri in NS.items():
    if 'xmlns:%s="%s"' % (p, uri) not in head:
        fail("prefix %s is not bound to %s" % (p, uri))
if 'xmlns="%s"' % NS["ovf"] not in head:
    fail("default namespace is not the OVF envelope")
files = {f.get(O + "id"): f.get(O + "href") for f in root.findall("ovf:References/ovf:File", NS)}
for fid, href in files.items():
    if not href or not os.path.isfile(os.path.join(d, href)):
        fail("ovf:href %r is not in the box" % href)
disks = root.findall("ovf:DiskSection/ovf:Disk", NS)
if len(disks) != 1:
    fail("%d Disks" % len(disks))
disk = disks[0]
if disk.get(O + "fileRef") not in files:
    fail("Disk fileRef %r names no File" % disk.get(O + "fileRef"))
if not disk.get(O + "format", "").endswith("vmdk.html#streamOptimized"):
    fail("Disk format %r" % disk.get(O + "format"))
vmdk = os.path.join(d, files[disk.get(O + "fileRef")])
hdr = open(vmdk, "rb").read(512)
if hdr[:4] != b"KDMV":
    fail("the disk is not a VMDK sparse extent")
cap_sectors = struct.unpack_from("<Q", hdr, 12)[0]
cap = int(disk.get(O + "capacity"))
if not (cap == cap_sectors * 512 == qsize):
    fail("capacity: OVF %d, VMDK header %d*512, qemu-img %d" % (cap, cap_sectors, qsize))
msgs.append("capacity %d = VMDK header = qemu-img" % cap)
vs = root.find("ovf:VirtualSystem", NS)
if vs.get(O + "id") != want_name:
    fail("VirtualSystem id %r, expected %r" % (vs.get(O + "id"), want_name))
os_sec = vs.find("ovf:OperatingSystemSection", NS)
if os_sec.get(O + "id") != "118" or os_sec.find("vbox:OSType", NS).text != "Windows2016_64":
    fail("OperatingSystemSection %s" % os_sec.get(O + "id"))
hw = vs.find("ovf:VirtualHardwareSection", NS)
if hw.find("ovf:System/vssd:VirtualSystemType", NS).text != "virtualbox-2.2":
    fail("VirtualSystemType")
items = hw.findall("ovf:Item", NS)
ids, by_type = {}, {}
for it in items:
    rt = it.find("rasd:ResourceType", NS)
    iid = it.find("rasd:InstanceID", NS)
    if rt is None or iid is None:
        fail("an Item without ResourceType or InstanceID")
    if iid.text in ids:
        fail("InstanceID %s twice" % iid.text)
    ids[iid.text] = it
    by_type.setdefault(int(rt.text), []).append(it)
if sorted(by_type) != [3, 4, 5, 10, 17]:
    fail("ResourceTypes %s" % sorted(by_type))
mem = by_type[4][0]
if mem.find("rasd:AllocationUnits", NS).text != "MegaBytes":
    fail("memory units")
dk = by_type[17][0]
parent = ids.get(dk.find("rasd:Parent", NS).text)
if parent is None or parent.find("rasd:ResourceType", NS).text != "5" or parent.find("rasd:ResourceSubType", NS).text != "PIIX4":
    fail("the disk's Parent is not a PIIX4 IDE controller")
hr = dk.find("rasd:HostResource", NS).text
if not hr.startswith("/disk/") or hr[6:] != disk.get(O + "diskId"):
    fail("HostResource %r names no Disk" % hr)
nic = by_type[10][0]
if nic.find("rasd:ResourceSubType", NS).text != "E1000" or nic.find("rasd:Connection", NS).text != "NAT":
    fail("NIC")
if root.find("ovf:NetworkSection/ovf:Network", NS).get(O + "name") != "NAT":
    fail("NetworkSection")
m = vs.find("vbox:Machine", NS)
if m is None or m.get(O + "required") != "false" or m.get("name") != want_name:
    fail("vbox:Machine")
img = [i for c in under(m, "StorageControllers", "StorageController") if c.get("type") == "PIIX4"
       for a in c if local(a) == "AttachedDevice" and a.get("type") == "HardDisk" and a.get("port") == "0"
       for i in a if local(i) == "Image"]
if len(img) != 1 or img[0].get("uuid") != "{%s}" % disk.get(V + "uuid"):
    fail("Image uuid %s != Disk vbox:uuid %s" % ([i.get("uuid") for i in img], disk.get(V + "uuid")))
msgs.append("vbox:uuid %s = Image uuid" % disk.get(V + "uuid"))
ad = under(m, "Hardware", "Network", "Adapter")[0]
mac = ad.get("MACAddress")
if ad.get("type") != "82540EM" or len(mac) != 12 or int(mac[:2], 16) & 1:
    fail("Adapter %s %s" % (ad.get("type"), mac))
# The hardware UUID as VirtualBox's settings keep it: <Hardware uuid="{...}">,
# the SMBIOS UUID still little-endian.
hwel = under(m, "Hardware")[0]
if (hwel.get("uuid") or "") != ("{%s}" % want_hw if want_hw else ""):
    fail("Hardware uuid %r, expected %r" % (hwel.get("uuid"), want_hw))
le = under(m, "Hardware", "BIOS", "SmbiosUuidLittleEndian")
if len(le) != 1 or le[0].get("enabled") != "true":
    fail("SmbiosUuidLittleEndian")
if want_hw:
    msgs.append("Hardware uuid {%s}" % want_hw)
vf = open(os.path.join(d, "Vagrantfile"), encoding="utf-8").read()
if 'Vagrant.require_version ">= 1.9.2"\n' not in vf:
    fail("no require_version >= 1.9.2")
if 'config.vm.base_mac = "%s"' % mac not in vf:
    fail("base_mac is not the OVF MAC %s" % mac)
msgs.append("MAC %s = base_mac" % mac)
meta = json.load(open(os.path.join(d, "metadata.json")))
if meta.get("provider") != "virtualbox":
    fail("metadata.json %r" % meta)
print("; ".join(msgs))
EOF
  ); then ok "$label: box.ovf content: $out"; else bad "$label: box.ovf: $out"; fi

  # The Vagrantfile through Vagrant's own config loader, when installed.
  if [ "$have_vagrant_ruby" = 1 ]; then
    if got=$(VAGRANT_HOME=$SCRATCH/vh-loader /usr/bin/ruby - "$d/Vagrantfile" <<'EOF' 2>&1
require "vagrant"
require "pathname"
loader = Vagrant::Config::Loader.new(Vagrant::Config::VERSIONS, Vagrant::Config::VERSIONS_ORDER)
loader.set(:box, Pathname.new(ARGV[0]))
c = loader.load([:box])[0]
c.finalize!
winrm = c.vm.networks.select { |t, o| t == :forwarded_port && o[:guest] == 5985 }
vb = c.vm.get_provider_config(:virtualbox)
puts [c.vm.guest, c.vm.communicator, c.winrm.transport, c.winrm.basic_auth_only,
      c.winrm.username, c.winrm.password, c.vm.base_mac,
      winrm.map { |t, o| "#{o[:id]}:#{o[:host]}" }.join(","),
      vb.customizations.map { |e, a| a.join(" ") }.join(";")].join("\n")
EOF
    ); then
      mac=$(sed -n 's/.*MACAddress="\([0-9A-F]*\)".*/\1/p' "$d/box.ovf")
      if [ "$plain" = 1 ]; then transport="plaintext true"; else transport="negotiate false"; fi
      want=$(printf '%s\n' windows winrm $transport administrator "$pass" "$mac" winrm:55985)
      if [ "$(printf '%s\n' "$got" | head -8)" = "$want" ]; then
        ok "$label: Vagrant's loader reads the Vagrantfile: credentials, base_mac, one WinRM forward (55985)"
      else
        bad "$label: Vagrant's loader read:"; printf '%s\n' "$got" | sed 's/^/  /'; printf 'expected:\n%s\n' "$want" | sed 's/^/  /'
      fi
      printf '%s\n' "$got" | tail -1 | grep -q 'modifyvm id --memory' && ok "$label: provider memory/cpus as modifyvm customizations" || bad "$label: no memory customization"
    else
      bad "$label: Vagrant's config loader refused the Vagrantfile:"; printf '%s\n' "$got" | tail -5 | sed 's/^/  /'
    fi
  fi
}

if /usr/bin/ruby -e 'require "vagrant"' >/dev/null 2>&1; then have_vagrant_ruby=1; else have_vagrant_ruby=0; fi

expect_exit 0 "box_write plain" "$TOOL" "$vmdk" "$SCRATCH/x.box"
check_box "$SCRATCH/x.box" plain
expect_exit 0 "box_write --gzip" "$TOOL" "$vmdk" "$SCRATCH/g.box" --gzip
gzip -t "$SCRATCH/g.box" 2>"$SCRATCH/gz" && [ ! -s "$SCRATCH/gz" ] && ok "gzip: gzip -t clean (no trailing garbage)" || bad "gzip: gzip -t: $(cat "$SCRATCH/gz")"
check_box "$SCRATCH/g.box" gzip
expect_exit 0 "box_write with a hostile name and password" "$TOOL" "$vmdk" "$SCRATCH/h.box" \
  --vm-name "$HOSTILE_NAME" --password "$HOSTILE_PASS" --hardware-uuid "$HWUUID" --memory 2048 --cpus 2 --winrm-plaintext
check_box "$SCRATCH/h.box" hostile "$HOSTILE_NAME" "$HOSTILE_PASS" 1 "$HWUUID"
tar xOf "$SCRATCH/h.box" Vagrantfile | grep -qF "vb.customize [\"modifyvm\", :id, \"--hardwareuuid\", \"$HWUUID\"]" \
  && ok "hostile: hardware UUID customization" || bad "hostile: no --hardwareuuid line"
tar xOf "$SCRATCH/x.box" Vagrantfile | grep -q hardwareuuid && bad "plain: a hardwareuuid line without one asked" || ok "plain: no hardwareuuid line"

# Refusals: an existing output (O_EXCL, left alone), a quote in the VM
# name, a disk that is not streamOptimized; no partial box left behind.
before=$(sha256sum < "$SCRATCH/x.box")
expect_exit 1 "an existing output is refused" "$TOOL" "$vmdk" "$SCRATCH/x.box"
[ "$(sha256sum < "$SCRATCH/x.box")" = "$before" ] && ok "the existing output is untouched" || bad "the existing output changed"
expect_exit 2 "a double quote in the VM name is refused" "$TOOL" "$vmdk" "$SCRATCH/q.box" --vm-name 'a"b'
[ -e "$SCRATCH/q.box" ] && bad "a refused box left a file" || ok "no file after a refusal"
qemu-img convert -f vmdk -O vmdk "$vmdk" "$SCRATCH/sparse.vmdk"
expect_exit 2 "a monolithicSparse VMDK is refused" "$TOOL" "$SCRATCH/sparse.vmdk" "$SCRATCH/m.box"
[ -e "$SCRATCH/m.box" ] && bad "a refused box left a file" || ok "no file after a refusal"
rm -f "$SCRATCH/sparse.vmdk"

# Catalog: relative URLs refused; then a real one, from another directory.
expect_exit 2 "catalog: a relative URL is refused" "$TOOL" "$vmdk" "$SCRATCH/r.box" --catalog "$SCRATCH/cat.json" boxwright/nano 1.0.0 r.box
expect_exit 0 "box_write --catalog" "$TOOL" "$vmdk" "$SCRATCH/c.box" --catalog "$SCRATCH/cat.json" boxwright/nano 1.0.0 "file://$SCRATCH/c.box"
sha=$(sha256sum "$SCRATCH/c.box" | awk '{print $1}')
if $PY - "$SCRATCH/cat.json" "$sha" "file://$SCRATCH/c.box" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
p = c["versions"][0]["providers"][0]
assert c["name"] == "boxwright/nano" and c["versions"][0]["version"] == "1.0.0", c
assert p == {"name": "virtualbox", "url": sys.argv[3], "checksum_type": "sha256", "checksum": sys.argv[2], "architecture": "amd64"}, p
EOF
then ok "catalog: name, version, provider, URL and sha256sum's checksum"; else bad "catalog content"; fi
expect_exit 0 "catalog: a second version" "$TOOL" "$vmdk" "$SCRATCH/c2.box" --catalog "$SCRATCH/cat.json" boxwright/nano 1.10.0 "file://$SCRATCH/c2.box"
expect_exit 2 "catalog: another box's name is refused" "$TOOL" "$vmdk" "$SCRATCH/c3.box" --catalog "$SCRATCH/cat.json" other/box 1.0.0 "file://$SCRATCH/c3.box"
[ "$($PY -c 'import json,sys; print(" ".join(v["version"] for v in json.load(open(sys.argv[1]))["versions"]))' "$SCRATCH/cat.json")" = "1.0.0 1.10.0" ] \
  && ok "catalog: two versions, in order" || bad "catalog versions: $(cat "$SCRATCH/cat.json")"
# Eight builds adding versions to one catalog at once (batch -j): the
# directory lock must keep every update (without it, about half are lost).
for i in 1 2 3 4 5 6 7 8; do
  "$TOOL" "$vmdk" "$SCRATCH/p$i.box" --catalog "$SCRATCH/par.json" par/box "2.0.$i" "file://$SCRATCH/p$i.box" >/dev/null 2>"$SCRATCH/par$i.err" &
done
wait
n=$($PY -c 'import json,sys; print(" ".join(v["version"] for v in json.load(open(sys.argv[1]))["versions"]))' "$SCRATCH/par.json" 2>&1)
[ "$n" = "2.0.1 2.0.2 2.0.3 2.0.4 2.0.5 2.0.6 2.0.7 2.0.8" ] && ok "catalog: 8 concurrent updates all kept" || bad "catalog after 8 concurrent updates: $n $(cat "$SCRATCH"/par*.err)"
ls "$SCRATCH" | grep -q '\.tmp' && bad "catalog: temporary file left behind" || ok "catalog: no temporary file left"
rm -f "$SCRATCH"/p[0-9].box

if command -v vagrant >/dev/null 2>&1 && command -v bsdtar >/dev/null 2>&1; then
  export VAGRANT_HOME=$SCRATCH/vagrant-home VAGRANT_CHECKPOINT_DISABLE=1
  mkdir -p "$SCRATCH/elsewhere"
  # Debian's vagrant lacks the winrm gem that loading the communicator
  # needs (tests/e2e/vagrant-stub/winrm.rb says why a stand-in is enough).
  export RUBYLIB=$SRCDIR/tests/e2e/vagrant-stub${RUBYLIB:+:$RUBYLIB}
  for b in x g h; do
    if (cd "$SCRATCH" && vagrant box add --name "t$b" "./$b.box") >"$SCRATCH/va" 2>&1; then
      vagrant box list 2>/dev/null | grep -q "^t$b *(virtualbox, 0)" && ok "vagrant box add $b.box: listed as virtualbox" || bad "vagrant box list: $(vagrant box list 2>&1)"
    else
      bad "vagrant box add $b.box:"; tail -5 "$SCRATCH/va" | sed 's/^/  /'; continue
    fi
    # The box's Vagrantfile merged under a user's, through `vagrant
    # validate`.  --ignore-provider: without VirtualBox installed the
    # virtualbox provider reports itself unusable before any validation;
    # its settings are read by the config loader above instead.
    mkdir -p "$SCRATCH/proj-$b"
    printf 'Vagrant.configure("2") { |c| c.vm.box = "t%s" }\n' "$b" > "$SCRATCH/proj-$b/Vagrantfile"
    if (cd "$SCRATCH/proj-$b" && VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant validate --ignore-provider) >"$SCRATCH/vv" 2>&1; then
      ok "vagrant validate: t$b's Vagrantfile merged and validated"
    else
      bad "vagrant validate t$b:"; tail -8 "$SCRATCH/vv" | sed 's/^/  /'
    fi
  done
  # The control: validate really loads the box's Vagrantfile.
  bv=$VAGRANT_HOME/boxes/tx/0/virtualbox/Vagrantfile
  if [ -f "$bv" ]; then
    cp "$bv" "$SCRATCH/vf.keep"
    echo 'raise "boxwright-control"' >> "$bv"
    if (cd "$SCRATCH/proj-x" && VAGRANT_DEFAULT_PROVIDER=virtualbox vagrant validate --ignore-provider) >"$SCRATCH/vv" 2>&1; then
      bad "control: vagrant validate did not load the box's Vagrantfile"
    else
      grep -q boxwright-control "$SCRATCH/vv" && ok "control: vagrant validate loads the box's Vagrantfile" || { bad "control failed otherwise:"; tail -5 "$SCRATCH/vv" | sed 's/^/  /'; }
    fi
    cp "$SCRATCH/vf.keep" "$bv"
  fi
  # The catalog from another directory: the file:// URL is absolute and
  # the checksum is verified.
  if (cd "$SCRATCH/elsewhere" && vagrant box add --box-version 1.0.0 "$SCRATCH/cat.json") >"$SCRATCH/va" 2>&1 \
     && grep -q "Calculating and comparing box checksum" "$SCRATCH/va" \
     && grep -q "Successfully added box 'boxwright/nano' (v1.0.0) for 'virtualbox'" "$SCRATCH/va"; then
    ok "vagrant box add CATALOG from another directory: checksum compared, v1.0.0 added"
  else
    bad "vagrant box add CATALOG:"; tail -8 "$SCRATCH/va" | sed 's/^/  /'
  fi
  vagrant box list 2>/dev/null | grep -q "^boxwright/nano *(virtualbox, 1.0.0)" && ok "vagrant box list: boxwright/nano 1.0.0" || bad "vagrant box list: $(vagrant box list 2>&1)"
  # A wrong checksum must be refused: proof that it is checked at all.
  sed 's/"checksum": "[0-9a-f]/"checksum": "x/' "$SCRATCH/cat.json" > "$SCRATCH/bad.json"
  if (cd "$SCRATCH/elsewhere" && VAGRANT_HOME=$SCRATCH/vh-bad vagrant box add --box-version 1.0.0 "$SCRATCH/bad.json") >"$SCRATCH/va" 2>&1; then
    bad "vagrant box add accepted a wrong checksum"
  else
    grep -qi "checksum" "$SCRATCH/va" && ok "vagrant box add refuses a wrong checksum" || { bad "vagrant box add failed, but not on the checksum:"; tail -5 "$SCRATCH/va" | sed 's/^/  /'; }
  fi
  if (cd "$SCRATCH/elsewhere" && VAGRANT_HOME=$SCRATCH/vh-name vagrant box add --name other/name "$SCRATCH/cat.json") >"$SCRATCH/va" 2>&1; then
    bad "vagrant box add accepted a name that is not the catalog's"
  else
    ok "vagrant box add refuses a --name that is not the catalog's"
  fi
else
  echo "note: vagrant or bsdtar not installed (Debian: apt-get install vagrant libarchive-tools): vagrant box add not tried"
fi
finish
