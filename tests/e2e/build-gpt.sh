#!/usr/bin/env bash
# build of GPT (UEFI, Generation 2) images: nano-gpt.vhdx (ESP + MSR +
# Windows) and nano-gpt-recovery.vhd (+ a Recovery partition after
# Windows).  On the box's disk read back by qemu-img: sgdisk -v finds no
# problem; the disk GUID and every partition's type and unique GUID, name
# and attributes are kept; the ESP and MSR keep their LBAs and bytes (cmp);
# Windows keeps its start and fills the disk up to Recovery, which moved to
# the end unchanged in size (its Winre.wim byte for byte, hidden sectors =
# its new start); inspect finds no diagnosis; the box declares EFI firmware.
. "$SRCDIR/tests/e2e/lib.sh"
command -v sgdisk >/dev/null || { echo "SKIP: sgdisk (gdisk) not installed"; exit 77; }

check() {   # FIXTURE SIZE
  local name=$1 size=$2 img d
  img=$(ls "$FIXTURES/$1".vhd* 2>/dev/null | head -n 1)
  [ -n "$img" ] || { echo "fixture $name missing"; exit 99; }
  d=$SCRATCH/$name && mkdir -p "$d"
  if ! "$BOXWRIGHT" build "$img" -o "$d/b.box" --size "$size" --winrm --quiet --json > "$d/build.json" 2> "$d/err"; then
    bad "$name: build failed: $(cat "$d/err")"; return
  fi
  ok "$name: build"
  tar -xf "$d/b.box" -C "$d" && qemu-img convert -f vmdk -O raw "$d/box-disk001.vmdk" "$d/out.raw" &&
    qemu-img convert -O raw "$img" "$d/in.raw" || { bad "$name: reading the disks"; return; }
  sgdisk -v "$d/out.raw" > "$d/v.txt" 2>&1; grep -q "No problems found" "$d/v.txt" && ok "$name: sgdisk -v: no problems" || bad "$name: sgdisk -v: $(cat "$d/v.txt")"
  grep -q '<Firmware type="EFI"/>' "$d/box.ovf" && grep -q '"--firmware", "efi"' "$d/Vagrantfile" \
    && ok "$name: the box declares EFI firmware" || bad "$name: no EFI firmware in the box"
  "$BOXWRIGHT" inspect --json "$d/in.raw" > "$d/i.json" && "$BOXWRIGHT" inspect --json "$d/out.raw" > "$d/o.json" || { bad "$name: inspect"; return; }
  $PY - "$d" "$size" <<'PYEOF' && ok "$name: GUIDs, names, places and sizes as planned; no diagnosis" || bad "$name: see above"
import json, sys, subprocess
d = sys.argv[1]; size = int(sys.argv[2][:-1]) << 30
i, o = json.load(open(d + "/i.json")), json.load(open(d + "/o.json"))
pi, po = i["partition_table"], o["partition_table"]
bad = []
if pi["disk_guid"] != po["disk_guid"]: bad.append("disk GUID changed")
ip = {p["index"]: p for p in pi["partitions"]}; op = {p["index"]: p for p in po["partitions"]}
if sorted(ip) != sorted(op): bad.append("partitions %s -> %s" % (sorted(ip), sorted(op)))
last_usable = size // 512 - 34
win = [k for k in ip if ip[k]["kind"] == "basic-data"][0]
for k in ip:
    a, b = ip[k], op.get(k, {})
    for f in ("kind", "type_guid", "unique_guid", "name", "attributes"):
        if a[f] != b.get(f): bad.append("partition %d %s changed" % (k, f))
    if k < win and (a["first_lba"], a["last_lba"]) != (b["first_lba"], b["last_lba"]): bad.append("partition %d moved" % k)
    if k > win:
        if b["sectors"] != a["sectors"]: bad.append("partition %d changed size" % k)
        if b["first_lba"] % 2048: bad.append("partition %d not at 1 MiB" % k)
        if b["last_lba"] > last_usable or b["last_lba"] < last_usable - 2048: bad.append("partition %d not at the end" % k)
if op[win]["first_lba"] != ip[win]["first_lba"]: bad.append("Windows moved")
after = [op[k]["first_lba"] for k in op if k > win]
if op[win]["last_lba"] != (min(after) - 1 if after else last_usable): bad.append("Windows does not fill the disk: ends at %d" % op[win]["last_lba"])
for v in o["volumes"]:
    if v["filesystem"] == "ntfs" and v["ntfs"]["hidden_sectors"] != v["offset"] // 512: bad.append("hidden sectors of %d" % v["partition"])
if o["diagnoses"]: bad.append("diagnoses %s" % [x["code"] for x in o["diagnoses"]])
if i["windows"]["mounted_devices"] != o["windows"]["mounted_devices"]: bad.append("MountedDevices changed")
for x in bad: print("  " + x)
with open(d + "/parts", "w") as f:
    for k in sorted(ip): f.write("%d %s %d %d %d\n" % (k, ip[k]["kind"], ip[k]["offset"], op[k]["offset"], ip[k]["sectors"] * 512))
sys.exit(1 if bad else 0)
PYEOF
  local k kind ioff ooff len same=1
  while read -r k kind ioff ooff len; do
    case $kind in
      esp|msr)
        cmp -s <(dd if="$d/in.raw" bs=1M iflag=skip_bytes,count_bytes skip=$ioff count=$len status=none) \
               <(dd if="$d/out.raw" bs=1M iflag=skip_bytes,count_bytes skip=$ooff count=$len status=none) || same=0 ;;
      recovery)
        dd if="$d/in.raw" of="$d/r.in" bs=1M iflag=skip_bytes,count_bytes skip=$ioff count=$len status=none conv=sparse
        dd if="$d/out.raw" of="$d/r.out" bs=1M iflag=skip_bytes,count_bytes skip=$ooff count=$len status=none conv=sparse
        cmp -s <(ntfscat "$d/r.in" /Recovery/WindowsRE/Winre.wim) <(ntfscat "$d/r.out" /Recovery/WindowsRE/Winre.wim) &&
          ok "$name: Recovery's Winre.wim byte for byte at its new place" || bad "$name: Winre.wim differs" ;;
    esac
  done < "$d/parts"
  [ $same = 1 ] && ok "$name: the ESP and MSR byte for byte" || bad "$name: the ESP or MSR differs"
  local win; win=$(awk '$2 == "basic-data" { print $1 }' "$d/parts")
  volcompare "$name" "$d/in.raw" "$d/out.raw" --special "$win" "${HIVES_EDITED[@]}"
  rm -rf "$d"
}
# BW_LAYOUT_CASES=moves (build-gpt-sandbox.sh): only the image whose
# partitions move.
[ "${BW_LAYOUT_CASES:-all}" = moves ] || check nano-gpt 6G
check nano-gpt-recovery 6G
finish
