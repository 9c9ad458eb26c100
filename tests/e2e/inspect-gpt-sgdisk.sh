#!/usr/bin/env bash
# inspect of GPT disks made by sgdisk (not our code): ESP + MSR + an NTFS
# "Windows" partition (+ a Recovery one): the partition table in --json
# (disk GUID, each partition's kind, type and unique GUIDs, LBAs, name)
# equals what `sgdisk -i` says, the NTFS volumes are found at their
# offsets with hidden sectors = their start, and the text report names
# the table; an ESP without a FAT is refused (exit 3, one line); a damaged
# primary header is read from the backup and said so.
. "$SRCDIR/tests/e2e/lib.sh"
command -v sgdisk >/dev/null || { echo "SKIP: sgdisk (gdisk) not installed"; exit 77; }
img=$SCRATCH/g.raw
truncate -s 400M "$img"
sgdisk -n1:2048:+100M -t1:ef00 -c1:"EFI system partition" -n2:0:+16M -t2:0c01 \
  -c2:"Microsoft reserved partition" -n3:0:+200M -t3:0700 -c3:Windows -n4:0:0 -t4:2700 -A4:set:0 "$img" >/dev/null 2>&1 \
  || { bad "sgdisk could not partition the image"; finish; exit; }
for n in 3 4; do
  first=$(sgdisk -i$n "$img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
  last=$(sgdisk -i$n "$img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
  truncate -s $(( (last - first + 1) * 512 )) "$SCRATCH/p$n.img"
  mkntfs -q -F -s 512 -p "$first" -H 255 -S 63 -L "vol$n" "$SCRATCH/p$n.img" >/dev/null 2>&1 &&
    dd if="$SCRATCH/p$n.img" of="$img" bs=512 seek="$first" conv=notrunc status=none || { bad "mkntfs of partition $n"; finish; exit; }
  rm -f "$SCRATCH/p$n.img"
done
expect_exit 0 "inspect --json --disk-only of a GPT disk" "$BOXWRIGHT" inspect --json --disk-only "$img"
cp "$SCRATCH/out" "$SCRATCH/i.json"
for n in 1 2 3 4; do sgdisk -i$n "$img" > "$SCRATCH/sg$n.txt"; done
sgdisk -p "$img" > "$SCRATCH/sgp.txt"
$PY - "$SCRATCH/i.json" "$SCRATCH" <<'PYEOF' && ok "the GPT in --json is what sgdisk reads" || bad "the GPT in --json differs from sgdisk"
import json, re, sys
j = json.load(open(sys.argv[1])); d = sys.argv[2]
t = j["partition_table"]; bad = []
g = re.search(r"Disk identifier \(GUID\): (\S+)", open(d + "/sgp.txt").read()).group(1).lower()
if t["type"] != "gpt" or t["disk_guid"] != "{%s}" % g: bad.append("disk %s vs %s" % (t.get("disk_guid"), g))
kinds = {1: "esp", 2: "msr", 3: "basic-data", 4: "recovery"}
for p in t["partitions"]:
    s = open("%s/sg%d.txt" % (d, p["index"])).read()
    want = {
        "type_guid": "{%s}" % re.search(r"Partition GUID code: (\S+)", s).group(1).lower(),
        "unique_guid": "{%s}" % re.search(r"Partition unique GUID: (\S+)", s).group(1).lower(),
        "start_lba": int(re.search(r"First sector: (\d+)", s).group(1)),
        "name": re.search(r"Partition name: '(.*)'", s).group(1),
        "kind": kinds[p["index"]],
    }
    last = int(re.search(r"Last sector: (\d+)", s).group(1))
    for k, v in want.items():
        if p[k] != v: bad.append("partition %d %s: %r vs sgdisk %r" % (p["index"], k, p[k], v))
    if p["sectors"] != last - want["start_lba"] + 1: bad.append("partition %d size" % p["index"])
    if p["offset"] != want["start_lba"] * 512: bad.append("partition %d offset" % p["index"])
if len(t["partitions"]) != 4: bad.append("%d partitions" % len(t["partitions"]))
if t["partitions"][3]["attributes"] != "0x0000000000000001": bad.append("attributes %s" % t["partitions"][3]["attributes"])
ntfs = [v for v in j["volumes"] if v["filesystem"] == "ntfs"]
if [v["partition"] for v in ntfs] != [3, 4]: bad.append("NTFS volumes on %s" % [v["partition"] for v in ntfs])
for v in ntfs:
    if v["ntfs"]["hidden_sectors"] != v["offset"] // 512: bad.append("hidden sectors of %d" % v["partition"])
for x in bad: print("  " + x)
sys.exit(1 if bad else 0)
PYEOF
"$BOXWRIGHT" inspect --disk-only "$img" > "$SCRATCH/t.txt" 2>&1
grep -q "^Partitions: GPT, disk GUID" "$SCRATCH/t.txt" && grep -q "#1 esp" "$SCRATCH/t.txt" \
  && ok "the text report names the GPT and the ESP" || bad "text report: $(head -5 "$SCRATCH/t.txt")"
# the ESP here was never formatted: the full inspect reads it with the FAT
# reader and refuses it, in one line naming the partition and the offset
expect_exit 3 "inspect of a GPT disk whose ESP holds no FAT" "$BOXWRIGHT" inspect "$img"
[ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -q "partition 1 (EFI system): FAT boot sector at offset 1048576" "$SCRATCH/err" \
  && ok "one line naming the ESP and the offset" || bad "error: $(cat "$SCRATCH/err")"
# the primary header damaged: read from the backup, and said
printf 'XXXXXXXX' | dd of="$img" bs=1 seek=512 conv=notrunc status=none
expect_exit 0 "inspect of a GPT whose primary header is damaged" "$BOXWRIGHT" inspect --json --disk-only "$img"
$PY -c 'import json,sys; t=json.load(open(sys.argv[1]))["partition_table"]; sys.exit(0 if t["from_backup"] and len(t["partitions"])==4 else 1)' "$SCRATCH/out" \
  && ok "read from the backup, and --json says so" || bad "backup read: $(head -c 300 "$SCRATCH/out")"
finish
