#!/usr/bin/python3
"""check_inspect.py [--disk-only] FACTS.json INSPECT.json

Compare `boxwright inspect --json` with the facts the fixture builder
recorded of what it put into the image (fixtures/README.md).  One line per
check, "ok - ..." or "not ok - ...", as the e2e harness counts them.
Exit 1 when any check failed.  --disk-only: the output of
`inspect --json --disk-only` (no guest facts: only the container, the
partition table and the volumes are checked).  GPT fixtures
(partition_table "gpt" in the facts) are checked by check_gpt() below.
"""
import json
import sys

args = [a for a in sys.argv[1:] if a != "--disk-only"]
disk_only = len(args) != len(sys.argv) - 1
facts = json.load(open(args[0]))
got = json.load(open(args[1]))
failed = 0


def check(what, actual, expected):
    global failed
    if actual == expected:
        print("ok - %s = %r" % (what, actual))
    else:
        failed += 1
        print("not ok - %s: got %r, expected %r" % (what, actual, expected))


def get(d, *path):
    for p in path:
        if d is None:
            return None
        d = d.get(p) if isinstance(d, dict) else None
    return d


def check_gpt():
    """A GPT fixture (nano-gpt*).  inspect does not read GPT yet (exit 3,
    "only MBR disks are supported"), so tests/e2e/inspect-gpt-fixture.sh
    skips this until it does; the names below for the GPT partition table
    are a proposal that follows struct bw_gpt / bw_gpt_part (part.h) and
    FORMATS.md "GPT", to be settled with the code that prints them.  GUIDs
    are bw_guid_format's text: lowercase, in braces."""
    check("format", got["format"], facts["format"])
    check("virtual_size", got["virtual_size"], facts["virtual_size"])
    if "vhd" in facts:
        check("vhd block_size", get(got, "vhd", "block_size"),
              facts["vhd"]["block_size"])
    pt = got.get("partition_table") or {}
    g = facts["gpt"]
    check("partition table type", pt.get("type"), "gpt")
    check("disk GUID", pt.get("disk_guid"), g["disk_guid"])
    for k in ("first_usable_lba", "last_usable_lba"):
        check(k, pt.get(k), g[k])
    gparts = {p.get("index"): p for p in pt.get("partitions", [])}
    check("partition count", len(gparts), len(facts["partitions"]))
    by_guid = {p["unique_guid"]: p["index"] for p in facts["partitions"]}
    for fp in facts["partitions"]:
        i = fp["index"]
        gp = gparts.get(i, {})
        for k in ("kind", "type_guid", "unique_guid", "first_lba", "last_lba",
                  "start_lba", "sectors", "offset", "attributes", "name"):
            check("partition %d %s" % (i, k), gp.get(k), fp[k])
    vols = {v["partition"]: v for v in got.get("volumes", [])}
    for fp in facts["partitions"]:
        i = fp["index"]
        v = vols.get(i, {})
        if fp["filesystem"] != "ntfs":
            check("volume %d is not NTFS" % i, v.get("filesystem") == "ntfs",
                  False)
            continue
        n = v.get("ntfs") or {}
        check("volume %d filesystem" % i, v.get("filesystem"), "ntfs")
        for k in ("hidden_sectors", "total_sectors", "cluster_size"):
            check("volume %d %s" % (i, k), n.get(k), fp["ntfs"][k])
        check("volume %d label" % i, n.get("label"), fp["label"])
        check("volume %d dirty" % i, n.get("dirty"), False)
        if not disk_only:           # what the guest holds: null with --disk-only
            check("volume %d has_windows" % i, v.get("has_windows"),
                  fp["role"] == "windows")
    if disk_only:
        return
    check("guest_inspected", got.get("guest_inspected"), True)
    w = got.get("windows") or {}
    check("windows partition", w.get("partition"), facts["windows_partition"])
    for k in ("product_name", "current_build", "edition_id", "computer_name",
              "hostname"):
        check("windows " + k, w.get(k), facts[k])
    md = {m["name"]: m for m in w.get("mounted_devices", [])}
    check("MountedDevices names", sorted(md), sorted(facts["mounted_devices"]))
    for name, fm in facts["mounted_devices"].items():
        gm = md.get(name, {})
        check("MountedDevices %s kind" % name, gm.get("kind"), fm["kind"])
        if fm["kind"] == "gpt":
            check("MountedDevices %s partition_guid" % name,
                  gm.get("partition_guid"), fm["partition_guid"])
            check("MountedDevices %s names partition" % name,
                  by_guid.get(gm.get("partition_guid")), fm["partition"])
        else:
            check("MountedDevices %s length" % name, gm.get("length"),
                  fm["length"])
    b = got.get("bcd") or {}
    check("bcd partition", b.get("partition"), facts["boot_partition"])
    objs = {o["guid"]: o for o in b.get("objects", [])}
    check("bcd object guids", sorted(objs), sorted(facts["bcd_objects"]))
    for guid, fo in facts["bcd_objects"].items():
        go = objs.get(guid, {})
        check("bcd %s type" % guid, go.get("type"), fo["type"])
        devs = {d["element"]: d for d in go.get("devices", [])}
        check("bcd %s device elements" % guid, sorted(devs), sorted(fo["devices"]))
        for el, fd in fo["devices"].items():
            gd = devs.get(el, {})
            check("bcd %s %s kind" % (guid, el), gd.get("kind"), "partition-gpt")
            check("bcd %s %s partition_guid" % (guid, el),
                  gd.get("partition_guid"), fd["partition_guid"])
            check("bcd %s %s disk_guid" % (guid, el), gd.get("disk_guid"),
                  fd["disk_guid"])
            check("bcd %s %s names partition" % (guid, el),
                  by_guid.get(gd.get("partition_guid")), fd["partition"])
    check("diagnoses", sorted({d["code"] for d in got["diagnoses"]}),
          sorted(set(facts["expected_diagnoses"])))
    for d in got["diagnoses"]:
        print("# %s: %s" % (d["code"], d["message"]))


if facts.get("partition_table") == "gpt":
    check_gpt()
    sys.exit(1 if failed else 0)

check("format", got["format"], facts["format"])
check("virtual_size", got["virtual_size"], facts["virtual_size"])
check("vhd creator", get(got, "vhd", "creator"), facts["vhd"]["creator_application"])
if facts["vhd"]["block_size"]:
    check("vhd block_size", get(got, "vhd", "block_size"), facts["vhd"]["block_size"])
g = facts["vhd"]["geometry"]
check("vhd geometry", get(got, "vhd", "geometry"),
      [g["cylinders"], g["heads"], g["sectors_per_track"]])

pt = got["partition_table"] or {}
check("disk signature", pt.get("disk_signature"), facts["disk_signature"])
gparts = {p["index"]: p for p in pt.get("partitions", [])}
check("partition count", len(gparts), len(facts["partitions"]))
part_at = {p["offset"]: p["index"] for p in facts["partitions"]}
for fp in facts["partitions"]:
    i = fp["index"]
    gp = gparts.get(i, {})
    for k in ("active", "type", "start_lba", "sectors", "offset"):
        check("partition %d %s" % (i, k), gp.get(k), fp[k])

vols = {v["partition"]: v for v in got["volumes"]}
for fp in facts["partitions"]:
    i = fp["index"]
    v = vols.get(i, {})
    n = v.get("ntfs") or {}
    check("volume %d filesystem" % i, v.get("filesystem"), "ntfs")
    for k in ("hidden_sectors", "total_sectors", "cluster_size"):
        check("volume %d %s" % (i, k), n.get(k), fp["ntfs"][k])
    check("volume %d backup_hidden_sectors" % i, n.get("backup_hidden_sectors"),
          fp["ntfs"]["hidden_sectors"])
    check("volume %d label" % i, n.get("label"), fp["label"])
    check("volume %d dirty" % i, n.get("dirty"), False)
    check("volume %d logfile" % i, n.get("logfile"), "clean")
    check("volume %d hibernated" % i, n.get("hibernated"), False)
    check("volume %d used+free = clusters" % i,
          (n.get("used_bytes", 0) + n.get("free_bytes", 0)) // fp["ntfs"]["cluster_size"],
          n.get("total_clusters"))
    if disk_only:                   # what the guest holds: null with --disk-only
        continue
    check("volume %d has_windows" % i, v.get("has_windows"), fp["role"] in ("both", "windows"))
    check("volume %d has_bcd" % i, v.get("has_bcd"), fp["role"] in ("both", "boot"))
    check("volume %d has_bootmgr" % i, v.get("has_bootmgr"), fp["role"] in ("both", "boot"))
if disk_only:
    sys.exit(1 if failed else 0)
check("guest_inspected", got.get("guest_inspected"), True)

w = got.get("windows")
if not facts["has_windows"]:
    check("windows", w, None)
else:
    w = w or {}
    check("windows partition", w.get("partition"), facts["windows_partition"])
    for k in ("product_name", "current_build", "edition_id", "computer_name", "hostname"):
        check("windows " + k, w.get(k), facts[k])
    check("controlset", w.get("controlset"), "ControlSet%03d" % facts["controlset"])
    check("select_current", w.get("select_current"), facts["controlset"])
    s = w.get("setup") or {}
    check("setup system_setup_in_progress", s.get("system_setup_in_progress"),
          facts["setup"]["SystemSetupInProgress"])
    check("setup setup_type", s.get("setup_type"), facts["setup"]["SetupType"])
    check("setup oobe_in_progress", s.get("oobe_in_progress"), facts["setup"]["OOBEInProgress"])
    check("setup cmdline", s.get("cmdline"), facts["setup"]["CmdLine"])
    check("setup pending", s.get("pending"), facts["setup_in_progress"])
    check("hardware_uuid", w.get("hardware_uuid"), facts.get("hardware_uuid"))
    check("SetupComplete.cmd present", w.get("setup_complete_cmd"), facts["has_setupcomplete"])
    check("unattend.xml present", w.get("unattend_xml"), facts["has_unattend"])
    drivers = {d["service"]: d for d in w.get("drivers", [])}
    for name, d in facts["drivers"].items():
        check("driver %s present" % name, get(drivers, name, "present"), True)
        check("driver %s start" % name, get(drivers, name, "start"), d["start"])
    wr = w.get("winrm") or {}
    check("winrm service_start", wr.get("service_start"), facts["winrm_start"])
    check("winrm firewall_5985", wr.get("firewall_5985"), facts["winrm_firewall_rule"])
    check("wsman allow_unencrypted", wr.get("allow_unencrypted"),
          facts["wsman"]["service"]["allow_unencrypted"])
    check("wsman service auth_basic", wr.get("service_auth_basic"),
          facts["wsman"]["service"]["auth_basic"])
    check("wsman client auth_basic", wr.get("client_auth_basic"),
          facts["wsman"]["client"]["auth_basic"])
    check("winrm ready_for_vagrant", wr.get("ready_for_vagrant"), False)
    hs = get(w, "hives", "SYSTEM") or {}
    check("SYSTEM hive dirty", hs.get("dirty"), facts["system_hive_dirty"])
    check("SYSTEM hive log files", hs.get("log_files"), 2 if facts["system_hive_logs"] else 0)
    check("SOFTWARE hive dirty", get(w, "hives", "SOFTWARE", "dirty"), False)
    md = {m["name"]: m for m in w.get("mounted_devices", [])}
    check("MountedDevices names", sorted(md), sorted(facts["mounted_devices"]))
    for name, fm in facts["mounted_devices"].items():
        gm = md.get(name, {})
        check("MountedDevices %s kind" % name, gm.get("kind"), fm["kind"])
        if fm["kind"] == "mbr":
            check("MountedDevices %s signature" % name, gm.get("disk_signature"), fm["signature"])
            check("MountedDevices %s offset" % name, gm.get("offset"), fm["offset"])
            check("MountedDevices %s partition" % name, gm.get("partition"),
                  part_at.get(fm["offset"]))
        else:
            check("MountedDevices %s length" % name, gm.get("length"), fm["length"])

if "bcd_objects" in facts:
    b = got.get("bcd") or {}
    check("bcd partition", b.get("partition"), facts["boot_partition"])
    objs = {o["guid"]: o for o in b.get("objects", [])}
    check("bcd object guids", sorted(objs), sorted(facts["bcd_objects"]))
    for guid, fo in facts["bcd_objects"].items():
        go = objs.get(guid, {})
        check("bcd %s type" % guid, go.get("type"), fo["type"])
        if "description" in fo:
            check("bcd %s description" % guid, go.get("description"), fo["description"])
        devs = {d["element"]: d for d in go.get("devices", [])}
        check("bcd %s device elements" % guid, sorted(devs), sorted(fo["devices"]))
        for el, fd in fo["devices"].items():
            gd = devs.get(el, {})
            check("bcd %s %s kind" % (guid, el), gd.get("kind"), "partition-mbr")
            check("bcd %s %s signature" % (guid, el), gd.get("disk_signature"), fd["signature"])
            check("bcd %s %s offset" % (guid, el), gd.get("offset"), fd["offset"])
            check("bcd %s %s partition" % (guid, el), gd.get("partition"),
                  part_at.get(fd["offset"]))
else:
    check("bcd", got.get("bcd"), None)

check("diagnoses", sorted({d["code"] for d in got["diagnoses"]}),
      sorted(set(facts["expected_diagnoses"])))
for d in got["diagnoses"]:
    print("# %s: %s" % (d["code"], d["message"]))
sys.exit(1 if failed else 0)
