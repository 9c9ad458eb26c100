#!/usr/bin/env bash
# build of "System Reserved" layouts (DESIGN.md "Disk layouts"): the
# active boot partition (bootmgr, \Boot\BCD) kept -- or moved to 1 MiB
# when it is not aligned (nano-sysreserved63, at LBA 63) -- and Windows
# grown to the end of the disk.  Checked on the box's disk read back by
# qemu-img: the partition table (slots, active flag, 1 MiB alignment,
# Windows to the end), each BCD device and MountedDevices value naming
# the same partition as in the input, now at its new (signature, offset),
# no diagnosis (hidden sectors, BCD, MountedDevices all match), and the
# boot partition's files byte for byte (ntfscat, not our code).
. "$SRCDIR/tests/e2e/lib.sh"

# part_file RAW SLOT OUT: partition SLOT of the raw disk RAW
part_file() {
  local start sectors
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+16*(int(sys.argv[2])-1)+8))" "$1" "$2")
  dd if="$1" of="$3" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
}

check() {   # NAME SIZE MOVES EXTRA...: MOVES 0 when no partition changes identity
  local name=$1 size=$2 moves=$3; shift 3
  need_fixture "$name.vhd"
  local img=$FIXTURES/$name.vhd box=$SCRATCH/$name.box d=$SCRATCH/$name
  mkdir -p "$d"
  if ! "$BOXWRIGHT" build "$img" -o "$box" --size "$size" --winrm --quiet --json "$@" > "$d/build.json" 2> "$d/err"; then
    bad "$name $*: build failed: $(cat "$d/err")"; return
  fi
  ok "$name $*: build"
  tar -xf "$box" -C "$d" box-disk001.vmdk && qemu-img convert -f vmdk -O raw "$d/box-disk001.vmdk" "$d/disk.raw" \
    || { bad "$name: reading the box's disk"; return; }
  "$BOXWRIGHT" inspect --json "$img" > "$d/in.json" && "$BOXWRIGHT" inspect --json "$d/disk.raw" > "$d/out.json" \
    || { bad "$name: inspect"; return; }
  $PY - "$d/in.json" "$d/out.json" "$d/build.json" "$size" <<'PYEOF' && ok "$name $*: layout, BCD and MountedDevices follow the partitions; no diagnosis" || bad "$name $*: see above"
import json, sys
i, o, b = (json.load(open(p)) for p in sys.argv[1:4])
size = int(sys.argv[4][:-1]) << 30
bad = []
pi, po = i["partition_table"], o["partition_table"]
ip = {p["index"]: p for p in pi["partitions"]}; op = {p["index"]: p for p in po["partitions"]}
if sorted(ip) != sorted(op): bad.append("slots %s -> %s" % (sorted(ip), sorted(op)))
for k in ip:
    if k in op and (ip[k]["active"] != op[k]["active"] or ip[k]["type"] != op[k]["type"]):
        bad.append("slot %d changed its active flag or type" % k)
    if k in op and op[k]["start_lba"] % 2048: bad.append("slot %d not at a 1 MiB boundary: %d" % (k, op[k]["start_lba"]))
boot = [k for k in ip if ip[k]["active"]][0]; win = [k for k in ip if not ip[k]["active"]][0]
if op[boot]["sectors"] != ip[boot]["sectors"]: bad.append("the boot partition changed size")
if op[win]["offset"] + op[win]["sectors"] * 512 != size: bad.append("Windows does not reach the end of the disk")
if op[boot]["offset"] + op[boot]["sectors"] * 512 > op[win]["offset"]: bad.append("the partitions overlap")
sig = po["disk_signature"]
if b["disk_signature"] != sig: bad.append("--json says signature %s, the disk %s" % (b["disk_signature"], sig))
if b["partition_offset"] != op[win]["offset"]: bad.append("--json partition_offset %s" % b["partition_offset"])
def devices(j):
    return [(ob["guid"], d["element"], d.get("partition"), d.get("disk_signature"), d.get("offset"))
            for ob in j["bcd"]["objects"] for d in ob["devices"]]
di, do = devices(i), devices(o)
if len(di) != len(do) or not di: bad.append("BCD devices: %d in, %d out" % (len(di), len(do)))
for (g, e, p, s, off), (g2, e2, p2, s2, off2) in zip(di, do):
    if (g, e, p) != (g2, e2, p2) or s2 != sig or off2 != op[p]["offset"]:
        bad.append("BCD %s %s: partition %s -> %s (%s, %s)" % (g, e, p, p2, s2, off2))
mi = {m["name"]: m.get("partition") for m in i["windows"]["mounted_devices"] if m["kind"] == "mbr"}
mo = {m["name"]: (m.get("partition"), m.get("disk_signature")) for m in o["windows"]["mounted_devices"] if m["kind"] == "mbr"}
for n, p in mi.items():
    if mo.get(n) != (p, sig): bad.append("MountedDevices %s: partition %s -> %s" % (n, p, mo.get(n)))
if o["diagnoses"]: bad.append("diagnoses: %s" % [x["code"] for x in o["diagnoses"]])
for x in bad: print("  " + x)
sys.exit(1 if bad else 0)
PYEOF
  # the boot partition's files, byte for byte (the BCD too when nothing
  # moved; when something did, its devices were checked above)
  qemu-img convert -O raw "$img" "$d/in.raw"
  part_file "$d/in.raw" 1 "$d/p1.in" && part_file "$d/disk.raw" 1 "$d/p1.out"
  local f same=1 files=bootmgr
  [ "$moves" = 0 ] && files="bootmgr Boot/BCD"
  for f in $files; do
    cmp -s <(ntfscat "$d/p1.in" "/$f") <(ntfscat "$d/p1.out" "/$f") || same=0
  done
  [ "$(ntfsls -R -f "$d/p1.in" 2>/dev/null | sort | md5sum)" = "$(ntfsls -R -f "$d/p1.out" 2>/dev/null | sort | md5sum)" ] || same=0
  [ $same = 1 ] && ok "$name $*: the boot partition's files are the same" || bad "$name $*: the boot partition's files differ"
  # both volumes, every file; the BCD may change only when a device moved
  local bcd=()
  [ "$moves" = 0 ] || bcd=(--allow 'Boot/BCD')
  volcompare "$name $*" "$d/in.raw" "$d/disk.raw" --special 2 "${HIVES_EDITED[@]}" "${bcd[@]}"
  rm -rf "$d"
}
# BW_LAYOUT_CASES=moves (build-sysreserved-sandbox.sh): only the image
# whose partitions both move.
if [ "${BW_LAYOUT_CASES:-all}" != moves ]; then
  check nano-sysreserved 1G 0
  check nano-sysreserved 1G 1 --new-signature
fi
check nano-sysreserved63 2G 1
finish
