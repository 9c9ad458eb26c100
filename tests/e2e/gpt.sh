#!/usr/bin/env bash
# Our GPT reader and writer (src/part/gpt.c) against sgdisk (gdisk), the
# reference tool.  sgdisk partitions a raw file as Windows does on a GPT
# disk (ESP, MSR, Windows, Recovery, with names and attributes):
#   - tests/tools/gpt_dump must see the disk GUID, usable range and every
#     partition's type and unique GUID, LBAs, attributes and name as
#     `sgdisk -p` and `sgdisk -i N` print them;
#   - the file made larger (cp + truncate), then given a new table by our
#     writer (Windows grown, Recovery moved to the end), must pass
#     `sgdisk -v` with the GUIDs, attributes and names unchanged and the
#     LBAs asked for; the same after the primary header was destroyed;
#   - with nothing moved, our grown table is the bytes `sgdisk -e` writes;
#   - a hybrid MBR (sgdisk -h) is refused as unsupported (exit 3).
# Needs no fixtures.
. "$SRCDIR/tests/e2e/lib.sh"
DUMP=$BUILDDIR/tests/tools/gpt_dump
[ -x "$DUMP" ] || { echo "tests/tools/gpt_dump not built"; exit 99; }
command -v sgdisk >/dev/null || { echo "sgdisk (gdisk) missing"; exit 77; }

img=$SCRATCH/gpt.img
truncate -s 300M "$img"
sgdisk -n1:2048:+100M -t1:ef00 -c1:'EFI system partition' -A1:set:63 \
       -n2:0:+16M -t2:0c01 -c2:'Microsoft reserved partition' \
       -n3:0:-50M -t3:0700 -c3:'Basic data partition' \
       -n4:0:0 -t4:2700 -c4:'Récupération' -A4:set:0 -A4:set:63 \
       "$img" >/dev/null 2>&1 || { bad "sgdisk could not partition $img"; finish; exit; }

# The facts sgdisk prints for partition N, as gpt_dump's "part" line:
# "N FIRST LAST TYPE UNIQUE ATTRS NAME".
sg_part() {
  sgdisk -i "$2" "$1" | awk -v n="$2" '
    /^Partition GUID code:/ { t = $4 }
    /^Partition unique GUID:/ { u = $4 }
    /^First sector:/ { f = $3 }
    /^Last sector:/ { l = $3 }
    /^Attribute flags:/ { a = toupper($3) }
    /^Partition name:/ { sub(/^Partition name: \047/, ""); sub(/\047$/, ""); nm = $0 }
    END { print n, f, l, t, u, a, nm }'
}
# gpt_dump's line for partition N without the kind word.
dump_part() {
  awk -v n="$2" '$1 == "part" && $2 == n {
      name = $0; for (i = 1; i <= 8; i++) sub(/^[^ ]* /, "", name)
      print $2, $3, $4, $5, $6, $7, name }' "$1"
}
# "KEY VALUE" from a gpt_dump output.
dump_val() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

compare_with_sgdisk() {   # IMAGE DUMPFILE WHAT
  local i s d
  local sgp; sgp=$(sgdisk -p "$1")
  local guid; guid=$(echo "$sgp" | awk '/^Disk identifier/ { print $4 }')
  [ "$guid" = "$(dump_val "$2" disk_guid)" ] && ok "$3: disk GUID $guid" \
    || bad "$3: disk GUID: sgdisk $guid, ours $(dump_val "$2" disk_guid)"
  local fu lu
  fu=$(echo "$sgp" | sed -n 's/^First usable sector is \([0-9]*\), last usable sector is \([0-9]*\)$/\1/p')
  lu=$(echo "$sgp" | sed -n 's/^First usable sector is \([0-9]*\), last usable sector is \([0-9]*\)$/\2/p')
  [ "$fu $lu" = "$(dump_val "$2" first_usable) $(dump_val "$2" last_usable)" ] \
    && ok "$3: usable LBAs $fu..$lu" \
    || bad "$3: usable LBAs: sgdisk $fu..$lu, ours $(dump_val "$2" first_usable)..$(dump_val "$2" last_usable)"
  local n; n=$(echo "$sgp" | awk '/^Number/ { on = 1; next } on && NF { c++ } END { print c + 0 }')
  [ "$n" = "$(grep -c '^part ' "$2")" ] && ok "$3: $n partitions" \
    || bad "$3: sgdisk sees $n partitions, we see $(grep -c '^part ' "$2")"
  for i in $(seq 1 "$n"); do
    s=$(sg_part "$1" "$i"); d=$(dump_part "$2" "$i")
    [ "$s" = "$d" ] && ok "$3: partition $i: $d" \
      || { bad "$3: partition $i differs"; echo "  sgdisk: $s"; echo "  ours:   $d"; }
  done
}

# ---- read: our view against sgdisk's ----
if "$DUMP" "$img" >"$SCRATCH/dump" 2>"$SCRATCH/err"; then ok "gpt_dump reads sgdisk's table"
else bad "gpt_dump failed: $(cat "$SCRATCH/err")"; finish; exit; fi
compare_with_sgdisk "$img" "$SCRATCH/dump" "sgdisk's table"
[ "$(grep '^flags' "$SCRATCH/dump")" = "flags" ] && ok "no flags on a clean table" \
  || bad "flags on a clean table: $(grep '^flags' "$SCRATCH/dump")"
kinds=$(awk '$1 == "part" { printf "%s ", $8 }' "$SCRATCH/dump")
[ "$kinds" = "esp msr basic-data recovery " ] && ok "kinds: $kinds" || bad "kinds: $kinds"
grep -q ' Récupération$' "$SCRATCH/dump" && ok "UTF-16 name decoded to UTF-8" \
  || bad "name of partition 4: $(grep '^part 4' "$SCRATCH/dump")"

# ---- grow: 300 MiB -> 1 GiB, Windows grown, Recovery moved to the end ----
big=$SCRATCH/big.img
cp "$img" "$big"
truncate -s 1G "$big"
"$DUMP" "$big" >"$SCRATCH/dump-big0" 2>&1
grep -q '^flags backup-not-at-end pmbr-short$' "$SCRATCH/dump-big0" \
  && ok "a grown file: backup not at the end, short protective MBR" \
  || bad "grown file before the rewrite: $(cat "$SCRATCH/dump-big0")"
sectors=$((1024 * 1024 * 1024 / 512))
max=$((sectors - 34))
r4_first=$(dump_part "$SCRATCH/dump" 4 | cut -d' ' -f2)
r4_last=$(dump_part "$SCRATCH/dump" 4 | cut -d' ' -f3)
w_first=$(dump_part "$SCRATCH/dump" 3 | cut -d' ' -f2)
new4_first=$((max - (r4_last - r4_first)))
if "$DUMP" --grow "$big" "3:$w_first:$((new4_first - 1))" "4:$new4_first:max" >"$SCRATCH/grow" 2>&1
then ok "gpt_dump --grow writes the new table"
else bad "gpt_dump --grow: $(cat "$SCRATCH/grow")"; finish; exit; fi
v=$(sgdisk -v "$big" 2>&1)
echo "$v" | grep -q '^No problems found' && ok "sgdisk -v: no problems after the grow" \
  || { bad "sgdisk -v after the grow"; echo "$v" | sed 's/^/  /'; }
"$DUMP" "$big" >"$SCRATCH/dump-big" 2>&1 || bad "gpt_dump on the grown table: $(cat "$SCRATCH/dump-big")"
compare_with_sgdisk "$big" "$SCRATCH/dump-big" "grown table"
[ "$(grep '^flags' "$SCRATCH/dump-big")" = "flags" ] && ok "grown table: no flags" \
  || bad "grown table flags: $(grep '^flags' "$SCRATCH/dump-big")"
[ "$(dump_val "$SCRATCH/dump-big" last_usable)" = "$max" ] && ok "last usable LBA $max" \
  || bad "last usable $(dump_val "$SCRATCH/dump-big" last_usable), expected $max"
# What must not change: disk GUID, per partition type/unique GUID,
# attributes, name; what must: the LBAs asked for.
[ "$(dump_val "$SCRATCH/dump" disk_guid)" = "$(sgdisk -p "$big" | awk '/^Disk identifier/ { print $4 }')" ] \
  && ok "disk GUID kept" || bad "disk GUID changed"
for i in 1 2 3 4; do
  a=$(dump_part "$SCRATCH/dump" "$i" | cut -d' ' -f4-)
  b=$(sg_part "$big" "$i" | cut -d' ' -f4-)
  [ "$a" = "$b" ] && ok "partition $i: GUIDs, attributes, name kept" \
    || { bad "partition $i changed"; echo "  before: $a"; echo "  after:  $b"; }
done
want="1 2048 206847|2 206848 239615|3 $w_first $((new4_first - 1))|4 $new4_first $max"
got=$(for i in 1 2 3 4; do sg_part "$big" "$i" | cut -d' ' -f1-3; done | paste -sd'|')
[ "$got" = "$want" ] && ok "LBAs as asked: $got" || bad "LBAs: $got, expected $want"
# The protective MBR covers the new disk: sgdisk -v checks it; look too.
pm=$(od -An -tu4 -j 458 -N 4 "$big" | tr -d ' ')
[ "$pm" = $((sectors - 1)) ] && ok "protective MBR covers $pm sectors" || bad "protective MBR size $pm"

# ---- the same grow with nothing moved is what `sgdisk -e` (relocate the
# backup to the end) writes, byte for byte, except the CHS end of the
# protective entry (offsets 451-453: sgdisk computes one, we write the
# "beyond CHS" marker FE FF FF, as Windows does on large disks) ----
cp "$img" "$SCRATCH/ours.img"; truncate -s 1G "$SCRATCH/ours.img"
cp "$SCRATCH/ours.img" "$SCRATCH/sg.img"
sgdisk -e "$SCRATCH/sg.img" >/dev/null 2>&1
"$DUMP" --grow "$SCRATCH/ours.img" >/dev/null 2>&1 || bad "gpt_dump --grow with nothing moved"
diffs=$(cmp -l "$SCRATCH/ours.img" "$SCRATCH/sg.img" | awk '$1 < 452 || $1 > 454' | head -5)
[ -z "$diffs" ] && ok "grown table identical to sgdisk -e's (but the protective CHS end)" \
  || { bad "grown table differs from sgdisk -e's"; echo "$diffs" | sed 's/^/  cmp: /'; }

# ---- primary header destroyed: read from the backup, then rewritten ----
dmg=$SCRATCH/dmg.img
cp "$img" "$dmg"
dd if=/dev/zero of="$dmg" bs=512 seek=1 count=1 conv=notrunc status=none
"$DUMP" "$dmg" >"$SCRATCH/dump-dmg" 2>&1
grep -q '^flags from-backup$' "$SCRATCH/dump-dmg" && grep -q '^damaged .*primary header at offset 512: signature' "$SCRATCH/dump-dmg" \
  && ok "bad primary: table read from the backup, damage reported" \
  || bad "bad primary: $(cat "$SCRATCH/dump-dmg")"
[ "$(grep '^part ' "$SCRATCH/dump-dmg")" = "$(grep '^part ' "$SCRATCH/dump")" ] \
  && ok "bad primary: the backup's partitions are the table's" || bad "bad primary: partitions differ"
truncate -s 400M "$dmg"
if "$DUMP" --grow "$dmg" >/dev/null 2>"$SCRATCH/err"; then
  # Not at the end and no valid primary: the backup is not found.
  bad "grew a disk whose primary is bad and whose backup is not at the end"
else
  grep -q 'no valid GPT' "$SCRATCH/err" && ok "bad primary + moved end: refused ($(cut -c1-80 "$SCRATCH/err")...)" \
    || bad "bad primary + moved end: $(cat "$SCRATCH/err")"
fi
cp "$img" "$dmg"
dd if=/dev/zero of="$dmg" bs=512 seek=1 count=1 conv=notrunc status=none
"$DUMP" --grow "$dmg" >/dev/null 2>"$SCRATCH/err" || bad "rewrite from the backup: $(cat "$SCRATCH/err")"
v=$(sgdisk -v "$dmg" 2>&1)
echo "$v" | grep -q '^No problems found' && ok "sgdisk -v: no problems after the rewrite from the backup" \
  || { bad "sgdisk -v after the rewrite from the backup"; echo "$v" | sed 's/^/  /'; }

# ---- a hybrid MBR is refused, not rewritten ----
hyb=$SCRATCH/hybrid.img
cp "$img" "$hyb"
sgdisk -h 1 "$hyb" >/dev/null 2>&1
expect_exit 3 "hybrid MBR refused" "$DUMP" "$hyb"
grep -q 'hybrid MBR' "$SCRATCH/err" && ok "hybrid MBR named: $(cat "$SCRATCH/err")" || bad "hybrid: $(cat "$SCRATCH/err")"

finish
