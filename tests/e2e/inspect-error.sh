#!/usr/bin/env bash
# inspect --json prints one JSON document also when it then exits non-zero:
# what was read, plus "error" {message, code, exit_status}; the same one
# line on stderr as without --json; the text report prints nothing on
# stdout.  Cases: a GPT disk (sgdisk's) whose ESP holds no FAT (the NTFS
# volume and the Windows-less probe are in the document), an MBR disk
# whose second partition is BitLocker (the first volume and the table are
# in it), and inputs that are no disk (a text file, a truncated VHD, a
# missing file): {"file", "error"} only.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
# check JSON EXIT CODE PYTHON-CONDITION: the document's error, and more
check() {
  $PY - "$SCRATCH/out" "$1" "$2" "$3" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1])); want_exit, want_code, cond = int(sys.argv[2]), sys.argv[3], sys.argv[4]
e = j.get("error") or {}
ok = e.get("exit_status") == want_exit and e.get("code") == want_code and e.get("message") and eval(cond)
if not ok: print(json.dumps(j)[:600])
sys.exit(0 if ok else 1)
PYEOF
}
one_line() { [ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -qF "$1" "$SCRATCH/err" && grep -qF "$1" "$SCRATCH/out"; }

if command -v sgdisk >/dev/null && command -v mkntfs >/dev/null; then
  img=$SCRATCH/g.raw
  truncate -s 400M "$img"
  sgdisk -n1:2048:+100M -t1:ef00 -n2:0:+16M -t2:0c01 -n3:0:+200M -t3:0700 "$img" >/dev/null 2>&1
  first=$(sgdisk -i3 "$img" | sed -n 's/^First sector: \([0-9]*\).*/\1/p')
  last=$(sgdisk -i3 "$img" | sed -n 's/^Last sector: \([0-9]*\).*/\1/p')
  truncate -s $(( (last - first + 1) * 512 )) "$SCRATCH/p3.img"
  mkntfs -q -F -s 512 -p "$first" -L win "$SCRATCH/p3.img" >/dev/null 2>&1 &&
    dd if="$SCRATCH/p3.img" of="$img" bs=512 seek="$first" conv=notrunc status=none && rm -f "$SCRATCH/p3.img"
  expect_exit 3 "inspect --json of a GPT disk whose ESP holds no FAT" "$BOXWRIGHT" inspect --json "$img"
  check 3 EFORMAT 'j["partition_table"]["type"] == "gpt" and len(j["partition_table"]["partitions"]) == 3 and [v["filesystem"] for v in j["volumes"]] == [None, None, "ntfs"] and j["volumes"][2]["ntfs"]["label"] == "win" and j["guest_inspected"] is True and j["windows"] is None' \
    && ok "the document has the GPT, the NTFS volume and the probe, and the error" || bad "document"
  one_line "partition 1 (EFI system): FAT boot sector at offset 1048576" && ok "the error names the ESP, on stderr and in the document" || bad "error: $(cat "$SCRATCH/err")"
  expect_exit 3 "the same without --json" "$BOXWRIGHT" inspect "$img"
  [ ! -s "$SCRATCH/out" ] && ok "the text report prints nothing on stdout" || bad "stdout: $(head -3 "$SCRATCH/out")"
  rm -f "$img"
else
  skip_part "sgdisk or mkntfs missing: the GPT case"
fi

# MBR: partition 1 is the fixture's NTFS, partition 2 a BitLocker volume
qemu-img convert -O raw "$FIXTURES/nano-base.vhd" "$SCRATCH/m.raw"
truncate -s +64M "$SCRATCH/m.raw"
read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+8))" "$SCRATCH/m.raw")
p2=$((start + sectors))
$PY - "$SCRATCH/m.raw" "$p2" <<'PYEOF'
import struct, sys
f = open(sys.argv[1], "r+b"); p2 = int(sys.argv[2])
e = bytes([0, 0, 0, 0, 7, 0, 0, 0]) + struct.pack("<II", p2, 64 * 2048 - 8)
f.seek(0x1BE + 16); f.write(e)
f.seek(p2 * 512); f.write(b"\xeb\x58\x90-FVE-FS-")
PYEOF
expect_exit 3 "inspect --json of a disk whose partition 2 is BitLocker" "$BOXWRIGHT" inspect --json "$SCRATCH/m.raw"
check 3 EUNSUPPORTED 'j["partition_table"]["type"] == "mbr" and len(j["partition_table"]["partitions"]) == 2 and [v["filesystem"] for v in j["volumes"]] == ["ntfs", None] and j["guest_inspected"] is False' \
  && ok "the document has the table and the first volume, and the error" || bad "document"
one_line "partition 2 (offset $((p2 * 512))) is BitLocker-encrypted" && ok "the error names the partition" || bad "error: $(cat "$SCRATCH/err")"
rm -f "$SCRATCH/m.raw"

# no disk at all: {"file", "error"}
echo "just text" > "$SCRATCH/t.txt"
expect_exit 3 "inspect --json of a text file" "$BOXWRIGHT" inspect --json "$SCRATCH/t.txt"
check 3 EFORMAT 'j["volumes"] == [] and j["partition_table"] is None' && ok "a raw disk of no sector: an empty model and the error" || bad "document"
head -c 1000 "$FIXTURES/nano-base.vhd" > "$SCRATCH/short.vhd"
expect_exit 3 "inspect --json of a truncated VHD" "$BOXWRIGHT" inspect --json "$SCRATCH/short.vhd"
check 3 EFORMAT 'sorted(j) == ["error", "file"]' && ok "no disk: the file and the error only" || bad "document"
expect_exit 1 "inspect --json of a missing file" "$BOXWRIGHT" inspect --json "$SCRATCH/missing.vhd"
check 1 EIO 'sorted(j) == ["error", "file"] and "No such file" in j["error"]["message"]' && ok "a missing file: exit 1 in the document too" || bad "document"
expect_exit 2 "a usage error prints no document" "$BOXWRIGHT" inspect --json
[ ! -s "$SCRATCH/out" ] && ok "nothing on stdout for a usage error" || bad "stdout: $(cat "$SCRATCH/out")"
finish
