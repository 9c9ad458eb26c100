#!/usr/bin/python3
"""Check inspect --json's drivers[] and hardware[] against the image itself,
read by other code: the SYSTEM hive with hivex (Python bindings) and the
driver files listed by ntfsls.  The rules are the ones DESIGN.md states
(live control set from Select\\Current, names in any case, a boot-path
driver must be Start 0 without a StartOverride\\0 other than 0, a NIC any
Start but 4, the file ImagePath names must exist), written again here.

usage: drivers_check.py INSPECT.json SYSTEM DRIVERS-LISTING [WANT...]
WANT: provider[/gen].disk_bus=VALUE, provider[/gen].disk_ok=true|false,
provider[/gen].nic_ok=true|false (what the test expects of this image).
"""
import json
import sys

import hivex

BOOT_KINDS = {"ide-channel", "ide-controller", "ahci", "vmbus", "storvsc",
              "virtio-blk", "virtio-scsi"}


def child(h, node, name):
    for c in h.node_children(node):
        if h.node_name(c).lower() == name.lower():
            return c
    return None


def value(h, node, name):
    for v in h.node_values(node):
        if h.value_key(v).lower() == name.lower():
            return v
    return None


def dword(h, node, name):
    v = value(h, node, name) if node else None
    return h.value_dword(v) if v else -1


def string(h, node, name):
    v = value(h, node, name) if node else None
    if not v:
        return None
    return h.value_value(v)[1].decode("utf-16-le").split("\0")[0]


def file_of(service, image_path):
    """The driver file's name in System32\\drivers, None when elsewhere."""
    p = image_path if image_path else "System32\\drivers\\%s.sys" % service
    low = p.lower()
    for prefix in ("\\systemroot\\", "%systemroot%\\"):
        if low.startswith(prefix):
            low = low[len(prefix):]
    if not low.startswith("system32\\drivers\\") or low.count("\\") != 2:
        return None
    return low.split("\\")[2]


def main():
    insp = json.load(open(sys.argv[1]))
    h = hivex.Hivex(sys.argv[2])
    files = {l.strip().lower() for l in open(sys.argv[3]) if l.strip()}
    wants = sys.argv[4:]
    root = h.root()
    cur = h.value_dword(value(h, child(h, root, "Select"), "Current"))
    services = child(h, child(h, root, "ControlSet%03d" % cur), "Services")
    fails = []
    kinds = set()
    w = insp["windows"]
    for d in w["drivers"]:
        key = child(h, services, d["service"])
        start = dword(h, key, "Start")
        so_key = child(h, key, "StartOverride") if key else None
        override = dword(h, so_key, "0") if so_key else -1
        image = string(h, key, "ImagePath") if key else None
        got = (d["present"], d["start"], d["start_override"], d["image_path"])
        exp = (key is not None, start if key else None, override if override >= 0 else None,
               image if image else None)
        # inspect says null for -1
        got = tuple(None if x == -1 else x for x in got)
        exp = tuple(None if x == -1 else x for x in exp)
        if got != exp:
            fails.append("%s: inspect %r, hive %r" % (d["service"], got, exp))
        fname = file_of(d["service"], image) if key else None
        file_ok = (fname in files) if fname else True
        boot = d["kind"] in BOOT_KINDS
        usable = (key is not None and start >= 0 and start != 4 and file_ok
                  and (not boot or (start == 0 and override in (-1, 0))))
        if d["usable"] != usable:
            fails.append("%s: usable %s, expected %s" % (d["service"], d["usable"], usable))
        if key is not None and fname and d["file"] != (fname in files):
            fails.append("%s: file %s, but %s %s" % (d["service"], d["file"], fname,
                                                     "is there" if fname in files else "is not"))
        if usable:
            kinds.add(d["kind"])
    ide = {"ide-channel", "ide-controller"} <= kinds
    ahci = "ahci" in kinds
    hv_disk = {"vmbus", "storvsc"} <= kinds
    hv_nic = {"vmbus", "netvsc"} <= kinds
    e1000 = "e1000" in kinds
    expect = {
        "virtualbox": ("ide", ide, e1000),
        "libvirt": ("sata" if ahci or not ide else "ide", ahci or ide, e1000),
        "hyperv/1": ("ide", ide or hv_disk, hv_nic),
        "hyperv/2": ("scsi", hv_disk, hv_nic),
        "vmware_desktop": ("sata" if ahci or not ide else "ide", ahci or ide, e1000),
    }
    hw = {}
    for v in w["hardware"]:
        name = v["provider"] + ("/%d" % v["generation"] if v["generation"] else "")
        hw[name] = v
        bus, disk_ok, nic_ok = expect[name]
        if (v["disk_bus"], v["disk_ok"], v["nic_ok"]) != (bus, disk_ok, nic_ok):
            fails.append("%s: inspect %r, expected %r" % (
                name, (v["disk_bus"], v["disk_ok"], v["nic_ok"]), (bus, disk_ok, nic_ok)))
        if (v["missing"] is None) != (disk_ok and nic_ok):
            fails.append("%s: missing %r" % (name, v["missing"]))
    if sorted(hw) != sorted(expect):
        fails.append("providers %s" % sorted(hw))
    for want in wants:
        lhs, val = want.split("=")
        name, key = lhs.rsplit(".", 1)
        got = hw.get(name, {}).get(key)
        if str(got).lower() != val:
            fails.append("%s: %s, wanted %s" % (lhs, got, val))
    for f in fails:
        print(f)
    sys.exit(1 if fails else 0)


main()
