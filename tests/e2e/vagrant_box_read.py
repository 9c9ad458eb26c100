#!/usr/bin/python3
"""Read an extracted Hyper-V or VMware box the way Vagrant does, and check it.

  vagrant_box_read.py hyperv DIR GENERATION
  vagrant_box_read.py vmware DIR FIRMWARE(bios|efi) BUS(ide|sata) UUID|-

hyperv mirrors hashicorp/vagrant plugins/providers/hyperv/action/import.rb
(the first *.xml of "Virtual Machines", the first *.vhd/*.vhdx of "Virtual
Hard Disks") and scripts/utils/VagrantVM/VagrantVM.psm1 New-VagrantVMXML
(the same paths and XPaths), including PowerShell's XML adapter: a child
element without attributes reads as a plain string, so `."#text"` on it is
$null.  Every drive pathname must name a file of the box.

vmware mirrors vagrant-vmware-desktop: action/import.rb (the first *.vmx at
the top level) and driver/base.rb read_vmx_data (`key = "value"` lines,
keys lowercased, the quotes stripped).

Prints what it read; exits 1 with the first failed check.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


class PS:
    """PowerShell's view of an XmlElement: .child gives the element if it
    has attributes or children, its text if it is a bare text element, and
    ."#text" is the text of an element (None for a plain string)."""

    def __init__(self, el):
        self.el = el

    def get(self, name):
        if self.el is None:
            return None
        kids = [c for c in self.el if c.tag == name]
        if not kids:
            return None
        c = kids[0]
        if len(c.attrib) == 0 and len(c) == 0:
            return c.text or ""          # a plain string in PowerShell
        return PS(c)


def text(v):
    """."#text" of what PS.get returned."""
    if isinstance(v, PS):
        return v.el.text
    return None   # a string's "#text" is $null


def select(root, xpath_tag):
    """Select-Xml -XPath "//TAG": the first such element, as a PS node."""
    for el in root.iter(xpath_tag):
        return PS(el)
    return None


def hyperv(d, want_gen):
    vm_dir, hd_dir = os.path.join(d, "Virtual Machines"), os.path.join(d, "Virtual Hard Disks")
    if not os.path.isdir(vm_dir) or not os.path.isdir(hd_dir):
        fail("import.rb: 'Virtual Machines' or 'Virtual Hard Disks' missing")
    configs = [f for f in sorted(os.listdir(vm_dir)) if os.path.splitext(f)[1].lower() in (".xml", ".vmcx")]
    images = [f for f in sorted(os.listdir(hd_dir)) if os.path.splitext(f)[1].lower() in (".vhd", ".vhdx")]
    if len(configs) != 1 or len(images) != 1:
        fail("import.rb takes the first config and image: expected one of each, found %s %s" % (configs, images))
    config, image = os.path.join(vm_dir, configs[0]), images[0]
    raw = open(config, "rb").read()
    if not raw.startswith(b"\xef\xbb\xbf"):
        fail("no UTF-8 byte order mark: Windows PowerShell's Get-Content would read the file as ANSI")
    root = ET.fromstring(raw.decode("utf-8-sig").encode("utf-8"))
    if root.tag != "configuration":
        fail("root element %s, expected configuration" % root.tag)
    conf = PS(root)
    props = conf.get("properties")
    subtype = text(props.get("subtype") if isinstance(props, PS) else None)
    if subtype is None or not re.fullmatch(r"\d+", subtype):
        fail("configuration.properties.subtype.\"#text\" is missing (New-VagrantVMXML: $Gen = [int](...) + 1)")
    gen = int(subtype) + 1
    name = text(props.get("name"))
    if not name:
        fail("configuration.properties.name.\"#text\" is empty")
    boot = select(root, "boot")
    device0 = text(boot.get("device0")) if boot else None
    table = {1: {"Floppy": "Floppy", "HardDrive": "IDE", "Optical": "CD", "Network": "LegacyNetworkAdapter", "Default": "IDE"},
             2: {"HardDrive": "VHD", "Optical": "CD", "Network": "NetworkAdapter", "Default": "VHD"}}
    boot_device = table.get(gen, {}).get(device0)
    if boot_device not in ("IDE", "VHD"):
        fail("//boot device0 %r: the VM would not boot from its disk (generation %d)" % (device0, gen))
    sb = select(root, "secure_boot_enabled")
    secure = sb.el.text if sb else None      # (Select-Xml ...).Node."#text"
    if gen > 1 and secure == "True":
        fail("secure boot on")
    # //*[starts-with(name(.),'controller')]
    drives = []
    parents = {c: p for p in root.iter() for c in p}
    for el in root.iter():
        if not el.tag.startswith("controller"):
            continue
        ctype = "SCSI" if parents.get(el) is not None and parents[el].get("ChannelInstanceGuid") else "IDE"
        m = re.search(r"\d", el.tag)     # $DriveNumberMatcher.Match($Controller.node.name)
        for drv in el:
            node = PS(drv)
            pathname = text(node.get("pathname"))
            if not pathname:
                continue                 # where {$_.pathname."#text"}
            if text(node.get("type")) != "VHD":
                continue
            drives.append((ctype, m.group(0) if m else "", pathname))
    if len(drives) != 1:
        fail("Add-VMHardDiskDrive would run %d times, expected once: %s" % (len(drives), drives))
    ctype, number, pathname = drives[0]
    if (gen, ctype) not in ((1, "IDE"), (2, "SCSI")) or number != "0":
        fail("the disk on %s controller %r: generation %d boots from %s 0" % (ctype, number, gen, "IDE" if gen == 1 else "SCSI"))
    member = os.path.join(d, pathname.replace("\\", "/"))
    if not os.path.isfile(member):
        fail("the drive's pathname %r is not a file of the box" % pathname)
    if os.path.basename(member) != image:
        fail("the drive names %r, import.rb copies %r" % (pathname, image))
    settings = conf.get("settings")
    processors = text(settings.get("processors").get("count"))
    bank = select(root, "memory").get("bank")
    dynamic = text(bank.get("dynamic_memory_enabled"))
    size = text(bank.get("size"))
    notes_node = select(root, "notes")
    notes = notes_node.el.text if notes_node else None
    for what, v in (("processors", processors), ("memory size", size)):
        if v is None or not re.fullmatch(r"[1-9]\d*", v):
            fail("%s.\"#text\" is %r: Set-VM would get no value" % (what, v))
    if dynamic != "False":
        fail("dynamic_memory_enabled %r, expected False (static memory)" % dynamic)
    want_ext = ".vhd" if want_gen == 1 else ".vhdx"
    if gen != want_gen or os.path.splitext(image)[1] != want_ext:
        fail("generation %d with %s, expected %d with %s" % (gen, image, want_gen, want_ext))
    print("hyperv: name=%s generation=%d boot=%s secure_boot=%s drive=%s %s:%s %s processors=%s memory=%sMB notes=%r"
          % (name, gen, boot_device, secure, ctype, ctype, number, pathname, processors, size, notes))


def read_vmx(path):
    """vagrant-vmware-desktop driver/base.rb read_vmx_data."""
    data = {}
    contents = open(path, encoding="utf-8").read().replace("\r\n", "\n").replace("\r", "\n")
    for line in contents.split("\n"):
        if line.startswith("#"):
            continue
        m = re.match(r"^(.+?)\s*=\s*(.*?)\s*$", line)
        if not m:
            continue
        key, value = m.group(1).strip().lower(), m.group(2)
        if re.match(r'^".*?"$', value):
            value = value[1:-1]
        data[key] = value
    return data


def vmware(d, firmware, bus, uuid):
    vmxs = [f for f in sorted(os.listdir(d)) if re.match(r"^(.+?)\.vmx$", f)]
    if not vmxs:
        fail("import.rb: no *.vmx at the box's top level")
    vmx = read_vmx(os.path.join(d, vmxs[0]))
    if open(os.path.join(d, vmxs[0]), encoding="utf-8").readline().strip() != '.encoding = "UTF-8"':
        fail(".encoding is not the first line")
    want = {"config.version": "8", "guestos": "windows9srv-64", "ethernet0.present": "TRUE",
            "ethernet0.virtualdev": "e1000", "ethernet0.addresstype": "generated",
            "%s0.present" % bus: "TRUE", "%s0:0.present" % bus: "TRUE", "%s0:0.devicetype" % bus: "disk"}
    for k, v in want.items():
        if vmx.get(k) != v:
            fail("%s = %r, expected %r" % (k, vmx.get(k), v))
    for k in ("virtualhw.version", "memsize", "numvcpus"):
        if not re.fullmatch(r"[1-9]\d*", vmx.get(k, "")):
            fail("%s = %r" % (k, vmx.get(k)))
    other = "ide" if bus == "sata" else "sata"
    if "%s0:0.filename" % other in vmx:
        fail("a disk on %s0:0 too" % other)
    if vmx.get("firmware", "bios") != firmware:
        fail("firmware %r, expected %s" % (vmx.get("firmware"), firmware))
    disk = vmx.get("%s0:0.filename" % bus, "")
    if not disk or "/" in disk or not os.path.isfile(os.path.join(d, disk)):
        fail("%s0:0.fileName %r is not a file of the box" % (bus, disk))
    if uuid != "-":
        h = uuid.replace("-", "").lower()
        pairs = [h[i:i + 2] for i in range(0, 32, 2)]
        form = " ".join(pairs[:8]) + "-" + " ".join(pairs[8:])
        if vmx.get("uuid.bios") != form:
            fail("uuid.bios %r, expected %r" % (vmx.get("uuid.bios"), form))
    print("vmware: %s guestOS=%s hw=%s firmware=%s disk=%s0:0 %s memsize=%s numvcpus=%s uuid.bios=%s"
          % (vmxs[0], vmx["guestos"], vmx["virtualhw.version"], firmware, bus, disk, vmx["memsize"],
             vmx["numvcpus"], vmx.get("uuid.bios")))
    print(disk)


if __name__ == "__main__":
    if sys.argv[1] == "hyperv" and len(sys.argv) == 4:
        hyperv(sys.argv[2], int(sys.argv[3]))
    elif sys.argv[1] == "vmware" and len(sys.argv) == 6:
        vmware(*sys.argv[2:6])
    else:
        sys.exit("usage: see the docstring")
