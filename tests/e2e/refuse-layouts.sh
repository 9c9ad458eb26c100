#!/usr/bin/env bash
# Layouts build cannot handle are refused by name (exit 3, one line), with
# nothing written: a BitLocker volume (-FVE-FS-), a dynamic disk (MBR type
# 0x42), a partition that is neither Windows nor its boot partition (an
# extended one), and two partitions that both hold Windows.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
raw=$SCRATCH/base.raw
qemu-img convert -O raw "$FIXTURES/nano-base.vhd" "$raw"
one_line() {   # WHAT PATTERN
  [ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -q "$2" "$SCRATCH/err" && ok "$1: one line naming it" || bad "$1: $(cat "$SCRATCH/err")"
}

cp --sparse=always "$raw" "$SCRATCH/bl.raw"
printf -- '-FVE-FS-' | dd of="$SCRATCH/bl.raw" bs=1 seek=$((1048576 + 3)) conv=notrunc status=none
expect_exit 3 "inspect of a BitLocker volume" "$BOXWRIGHT" inspect "$SCRATCH/bl.raw"
one_line "BitLocker" "BitLocker-encrypted"
expect_exit 3 "build of a BitLocker volume" "$BOXWRIGHT" build "$SCRATCH/bl.raw" -o "$SCRATCH/bl.box" --quiet
[ ! -e "$SCRATCH/bl.box" ] && ok "no box" || bad "a box was written"

cp --sparse=always "$raw" "$SCRATCH/dyn.raw"
printf '\x42' | dd of="$SCRATCH/dyn.raw" bs=1 seek=$((0x1BE + 4)) conv=notrunc status=none
expect_exit 3 "inspect of a dynamic disk" "$BOXWRIGHT" inspect "$SCRATCH/dyn.raw"
one_line "dynamic disk" "dynamic disk.*0x42"

# an extended partition after Windows
size=$(stat -c %s "$raw")
cp --sparse=always "$raw" "$SCRATCH/ext.raw"
truncate -s $((size + 64 * 1048576)) "$SCRATCH/ext.raw"
$PY - "$SCRATCH/ext.raw" $((size / 512)) <<'PYEOF'
import struct, sys
f = open(sys.argv[1], "r+b"); start = int(sys.argv[2])
f.seek(0x1BE + 16); f.write(struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x05, b"\0\0\0", start, 64 * 2048))
PYEOF
expect_exit 3 "build with an extended partition" "$BOXWRIGHT" build "$SCRATCH/ext.raw" -o "$SCRATCH/ext.box" --quiet
one_line "extended partition" "partition 2 (type 0x05"
[ ! -e "$SCRATCH/ext.box" ] && ok "no box" || bad "a box was written"

# two partitions holding Windows: the image's partition copied after it
psect=$(( (size / 512) - 2048 ))
cp --sparse=always "$raw" "$SCRATCH/two.raw"
truncate -s $((size * 2)) "$SCRATCH/two.raw"
dd if="$raw" of="$SCRATCH/two.raw" bs=1M skip=1 seek=$((size / 1048576)) conv=notrunc,sparse status=none
$PY - "$SCRATCH/two.raw" $((size / 512)) $psect <<'PYEOF'
import struct, sys
f = open(sys.argv[1], "r+b"); start, n = int(sys.argv[2]), int(sys.argv[3])
f.seek(0x1BE + 16); f.write(struct.pack("<B3sB3sII", 0, b"\0\0\0", 0x07, b"\0\0\0", start, n))
PYEOF
expect_exit 3 "build of an image with two Windows" "$BOXWRIGHT" build "$SCRATCH/two.raw" -o "$SCRATCH/two.box" --quiet --hardware-uuid none
one_line "two Windows" "both hold Windows"
[ ! -e "$SCRATCH/two.box" ] && ok "no box" || bad "a box was written"
finish
