#!/usr/bin/env bash
# Our $Bitmap reader against ntfs-3g's: for each Nano fixture, the bytes
# tests/tools/ntfs_dump_bitmap reads through the VHD driver and the MBR must
# equal `ntfscat PARTITION '$Bitmap'` on the partition that qemu-img and dd
# extract, byte for byte (FORMATS.md: test the free map byte for byte, not
# by counts).  The same on the raw image, so a VHD-reader bug cannot hide
# behind an NTFS one.  Skips (77) when the fixtures were not built.
SRCDIR=${SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export SRCDIR
: "${FIXTURES:?run through make check}" "${BOXWRIGHT:?run through make check}"
if [ ! -f "$FIXTURES/nano-base.vhd" ]; then
  echo "SKIP: $FIXTURES/nano-base.vhd absent (fixtures not built)"
  exit 77
fi
. "$SRCDIR/tests/e2e/lib.sh"
TOOL=$BUILDDIR/tests/tools/ntfs_dump_bitmap
for t in qemu-img ntfscat dd; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
[ -x "$TOOL" ] || { echo "$TOOL not built"; exit 99; }

for f in nano-base.vhd nano-sector63.vhd; do
  img=$FIXTURES/$f
  [ -f "$img" ] || { bad "$f: fixture missing"; continue; }
  raw=$SCRATCH/disk.raw part=$SCRATCH/part.raw
  qemu-img convert -f vpc -O raw "$img" "$raw" || { bad "$f: qemu-img convert"; continue; }
  # The first NTFS (type 0x07) entry of the MBR: number, start LBA, sectors.
  read -r partno start count < <($PY - "$raw" <<'EOF'
import struct, sys
with open(sys.argv[1], 'rb') as fh:
    mbr = fh.read(512)
if mbr[510:512] == b'\x55\xaa':
    for i in range(4):
        e = mbr[0x1BE + 16 * i:0x1BE + 16 * (i + 1)]
        start, count = struct.unpack_from('<II', e, 8)
        if e[4] == 0x07 and count:
            print(i + 1, start, count)
            break
EOF
  )
  [ -n "${partno:-}" ] || { bad "$f: no NTFS partition in the MBR"; continue; }
  dd if="$raw" of="$part" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((count * 512)) conv=sparse status=none ||
    { bad "$f: dd"; continue; }
  if ntfscat "$part" '$Bitmap' >"$SCRATCH/expected" 2>"$SCRATCH/ntfscat.err"; then
    ok "$f: ntfscat read \$Bitmap of partition $partno (LBA $start, $count sectors)"
  else
    bad "$f: ntfscat failed: $(head -1 "$SCRATCH/ntfscat.err")"; continue
  fi
  for src in vhd raw; do
    [ "$src" = vhd ] && in=$img || in=$raw
    if out=$("$TOOL" "$in" "$partno" "$SCRATCH/ours.$src" 2>"$SCRATCH/err"); then
      ok "$f ($src): ntfs_dump_bitmap: $(echo "$out" | tail -1)"
    else
      bad "$f ($src): ntfs_dump_bitmap exit $?: $(cat "$SCRATCH/err")"; continue
    fi
    if cmp "$SCRATCH/expected" "$SCRATCH/ours.$src"; then
      ok "$f ($src): \$Bitmap identical to ntfscat's ($(stat -c %s "$SCRATCH/expected") bytes)"
    else
      bad "$f ($src): \$Bitmap differs from ntfscat's"
    fi
  done
  # The fixtures are cleanly unmounted by ntfs-3g: the journal is clean.
  if echo "$out" | grep -q '\$LogFile clean'; then
    ok "$f: \$LogFile clean"
  else
    bad "$f: \$LogFile not clean: $(echo "$out" | grep LogFile)"
  fi
  rm -f "$raw" "$part" "$SCRATCH"/ours.* "$SCRATCH/expected"
done
finish
