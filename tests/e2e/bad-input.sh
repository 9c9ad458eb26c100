#!/usr/bin/env bash
# Bad input: each corruption gets one line naming the file (and offset,
# expected, found) and exit 3 -- never a crash or a hang.  Uses --disk-only
# so no appliance is launched; the checks are in our own parsers.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-nowin.vhd
src=$FIXTURES/nano-nowin.vhd

# patch FILE OFFSET HEXBYTES ; OFFSET may be negative (from the end)
patch() {
  $PY - "$@" <<'PYEOF'
import os, sys
path, off, data = sys.argv[1], int(sys.argv[2], 0), bytes.fromhex(sys.argv[3])
size = os.path.getsize(path)
if off < 0: off += size
with open(path, 'r+b') as f:
    f.seek(off); f.write(data)
PYEOF
}
be32() { $PY -c "import sys; d=open(sys.argv[1],'rb'); d.seek(int(sys.argv[2],0)); print(int.from_bytes(d.read(int(sys.argv[3])),'big'))" "$@"; }

bad_case() {   # NAME FILE NEEDLE
  local name=$1 f=$2 needle=$3
  timeout 60 "$BOXWRIGHT" inspect --disk-only "$f" >"$SCRATCH/out" 2>"$SCRATCH/err"; local rc=$?
  if [ $rc -ne 3 ]; then bad "$name: exit $rc, expected 3 ($(head -c 300 "$SCRATCH/err"))"; return; fi
  if [ "$(wc -l < "$SCRATCH/err")" -ne 1 ]; then bad "$name: error is not one line"; cat "$SCRATCH/err"; return; fi
  if ! grep -q "^boxwright: $f: " "$SCRATCH/err"; then bad "$name: error does not name the file: $(cat "$SCRATCH/err")"; return; fi
  if ! grep -qi -- "$needle" "$SCRATCH/err"; then bad "$name: error lacks '$needle': $(cat "$SCRATCH/err")"; return; fi
  [ -s "$SCRATCH/out" ] && { bad "$name: printed a partial report"; return; }
  ok "$name: $(cat "$SCRATCH/err")"
}

# The untouched image is fine (else the cases below prove nothing).
expect_exit 0 "intact image" "$BOXWRIGHT" inspect --disk-only "$src"

f=$SCRATCH/empty.vhd; : > "$f"
bad_case "empty file" "$f" "holds no sector"

f=$SCRATCH/trunc.vhd; size=$(stat -c %s "$src"); head -c $((size - 4096)) "$src" > "$f"
bad_case "truncated VHD" "$f" "truncated"

f=$SCRATCH/csum.vhd; cp "$src" "$f"; patch "$f" -412 ff   # a byte of the unique id
bad_case "wrong footer checksum" "$f" "checksum mismatch (expected"

f=$SCRATCH/dyncsum.vhd; cp "$src" "$f"; patch "$f" 0x220 00000001  # dynamic header: max entries
bad_case "wrong dynamic header checksum" "$f" "checksum mismatch"

# BAT entry 0 -> a sector far past the end (checksums stay right: the BAT has none)
f=$SCRATCH/bat.vhd; cp "$src" "$f"
bat=$(be32 "$f" 528 8)
patch "$f" "$bat" 7fffffff
bad_case "BAT entry past EOF" "$f" "BAT entry 0"

# BAT entry 0 -> the BAT's own sector: a block over the file's metadata
f=$SCRATCH/batself.vhd; cp "$src" "$f"
patch "$f" "$bat" "$(printf %08x $((bat / 512)))"
bad_case "BAT entry over the BAT" "$f" "BAT entry 0 (at offset $bat) points at sector $((bat / 512)): block at offset $bat-.* overlaps the block allocation table"

# BAT entry 1 = BAT entry 0: two entries sharing one block
f=$SCRATCH/batshared.vhd; cp "$src" "$f"
patch "$f" $((bat + 4)) "$(printf %08x "$(be32 "$f" "$bat" 4)")"
bad_case "two BAT entries sharing a block" "$f" "BAT entry 1 (at offset $((bat + 4))) points at sector [0-9]*, inside the block of BAT entry 0"

# Raw copies for the partition-table and NTFS cases.
raw=$SCRATCH/nowin.raw
qemu-img convert -f vpc -O raw "$src" "$raw"
start=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(struct.unpack_from('<I',d,0x1BE+8)[0])" "$raw")
poff=$((start * 512))

f=$SCRATCH/pastend.raw; cp --sparse=always "$raw" "$f"
patch "$f" $((0x1BE + 12)) 00000001     # sector count 2^24: past the 64 MiB disk
bad_case "partition past the end of the disk" "$f" "past the end of the disk"

f=$SCRATCH/spc.raw; cp --sparse=always "$raw" "$f"; patch "$f" $((poff + 0x0D)) 00
bad_case "NTFS sectors per cluster 0" "$f" "cluster"

f=$SCRATCH/bps.raw; cp --sparse=always "$raw" "$f"; patch "$f" $((poff + 0x0B)) b80b   # 3000
bad_case "NTFS bytes per sector 3000" "$f" "sector"

f=$SCRATCH/mftlcn.raw; cp --sparse=always "$raw" "$f"; patch "$f" $((poff + 0x30)) ffffffffff000000
bad_case "NTFS \$MFT past the volume" "$f" "MFT"

f=$SCRATCH/mftrec.raw; cp --sparse=always "$raw" "$f"
mft=$($PY -c "
import sys,struct
d=open(sys.argv[1],'rb'); d.seek(int(sys.argv[2])); b=d.read(512)
bps=struct.unpack_from('<H',b,0x0B)[0]; spc=b[0x0D]; lcn=struct.unpack_from('<Q',b,0x30)[0]
print(int(sys.argv[2]) + lcn*bps*spc)" "$f" "$poff")
patch "$f" $((mft + 6 * 1024 + 510)) 4242      # \$Bitmap record: break a fixup
bad_case "corrupt MFT record (fixup)" "$f" "fixup"
finish
