#!/usr/bin/env bash
# Our VMDK reader against independent ones, on images qemu-img writes:
# monolithicSparse (its default) and streamOptimized (GD at the front,
# compressed grains) made from the nano-base fixture, plus a small random
# disk that is not a grain multiple (65562-byte grains, a short last
# grain).  Each is read with disk_cat and compared byte for byte with
# the source (`qemu-img convert -O raw` of the fixture), with qemu-img's
# reading of the VMDK, and, when python3-libvmdk is there, with libvmdk's.
# Truncated copies must be refused with exit 3.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
CAT=$BUILDDIR/tests/tools/disk_cat
have_pyvmdk=0
$PY -c 'import pyvmdk' 2>/dev/null && have_pyvmdk=1

# pyvmdk_cmp IMAGE RAW: does libvmdk read IMAGE as RAW's bytes?
pyvmdk_cmp() {
  $PY - "$1" "$2" <<'PYEOF'
import os, sys, pyvmdk
h = pyvmdk.handle()
h.open(sys.argv[1])
h.open_extent_data_files()
size = h.get_media_size()
if size != os.path.getsize(sys.argv[2]):
    sys.exit("libvmdk size %d, ours %d" % (size, os.path.getsize(sys.argv[2])))
chunk = 4 << 20
with open(sys.argv[2], 'rb') as ours:
    off = 0
    while off < size:
        n = min(chunk, size - off)
        if h.read_buffer_at_offset(n, off) != ours.read(n):
            sys.exit("differs in the %d bytes at offset %d" % (n, off))
        off += n
h.close()
PYEOF
}

# check NAME IMAGE FORMAT REFERENCE_RAW
check() {
  local name=$1 img=$2 want_format=$3 ref=$4 out
  if out=$("$CAT" "$img" "$SCRATCH/ours.raw" 2>"$SCRATCH/err"); then
    ok "$name: our reader ($out)"
  else
    bad "$name: our reader failed: $(cat "$SCRATCH/err")"; return
  fi
  set -- $out
  [ "$1" = "$want_format" ] && ok "$name: format $1" || bad "$name: format $1, expected $want_format"
  local q
  q=$(qemu-img info --output=json -f vmdk "$img" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$2" = "$q" ] && ok "$name: size $2 = qemu-img's" || bad "$name: size $2, qemu-img says $q"
  # qemu-img compare skips holes (SEEK_DATA, block status) yet compares
  # every byte that may differ: fast on 4 GiB sparse files.
  qemu-img compare -q -f raw -F raw "$ref" "$SCRATCH/ours.raw" && ok "$name: identical to the source" \
    || bad "$name: differs from the source"
  qemu-img compare -q -f vmdk -F raw "$img" "$SCRATCH/ours.raw" && ok "$name: identical to qemu-img's reading" \
    || bad "$name: differs from qemu-img's reading"
  if [ $have_pyvmdk = 1 ]; then
    if pyvmdk_cmp "$img" "$SCRATCH/ours.raw" 2>"$SCRATCH/err"; then
      ok "$name: identical to libvmdk's reading"
    else
      bad "$name: libvmdk: $(cat "$SCRATCH/err")"
    fi
  fi
  rm -f "$SCRATCH/ours.raw"
}

[ $have_pyvmdk = 1 ] || skip_part "python3-libvmdk not installed: libvmdk comparisons skipped"

# The fixture, through both subformats.
qemu-img convert -f vpc -O raw "$FIXTURES/nano-base.vhd" "$SCRATCH/base.raw"
qemu-img convert -f vpc -O vmdk "$FIXTURES/nano-base.vhd" "$SCRATCH/mono.vmdk"
qemu-img convert -f vpc -O vmdk -o subformat=streamOptimized "$FIXTURES/nano-base.vhd" "$SCRATCH/stream.vmdk"
check "nano-base monolithicSparse" "$SCRATCH/mono.vmdk" vmdk-monolithicSparse "$SCRATCH/base.raw"
check "nano-base streamOptimized" "$SCRATCH/stream.vmdk" vmdk-streamOptimized "$SCRATCH/base.raw"
expect_exit 0 "inspect --disk-only reads the streamOptimized copy" \
  "$BOXWRIGHT" inspect --disk-only "$SCRATCH/stream.vmdk"
grep -q "vmdk-streamOptimized" "$SCRATCH/out" && ok "inspect names the format" \
  || bad "inspect does not name vmdk-streamOptimized: $(head -c 300 "$SCRATCH/out")"
rm -f "$SCRATCH/base.raw" "$SCRATCH/mono.vmdk"

# Random data, 1 MiB + 3 sectors: incompressible grains (qemu writes them
# 65562 bytes long) and a last grain that holds only 3 sectors.
head -c $((1048576 + 1536)) /dev/urandom > "$SCRATCH/odd.raw"
qemu-img convert -f raw -O vmdk "$SCRATCH/odd.raw" "$SCRATCH/odd-mono.vmdk"
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$SCRATCH/odd.raw" "$SCRATCH/odd-stream.vmdk"
check "random odd-size monolithicSparse" "$SCRATCH/odd-mono.vmdk" vmdk-monolithicSparse "$SCRATCH/odd.raw"
check "random odd-size streamOptimized" "$SCRATCH/odd-stream.vmdk" vmdk-streamOptimized "$SCRATCH/odd.raw"

# A 2 TiB monolithicSparse as qemu-img creates it: every one of its 65536
# grain tables preallocated (128 MiB of tables; refused when the reader
# capped them at 64 MiB).  One 64 KiB grain written near the end with
# qemu-io; our reading (sparse) has it there and nothing else allocated.
if command -v qemu-io >/dev/null; then
  qemu-img create -q -f vmdk "$SCRATCH/big.vmdk" 2T
  qemu-io -f vmdk -c "write -P 0xab 2047G 64k" "$SCRATCH/big.vmdk" > /dev/null
  expect_exit 0 "2 TiB qemu-img monolithicSparse opened" "$CAT" "$SCRATCH/big.vmdk" "$SCRATCH/big.raw"
  $PY - "$SCRATCH/big.raw" <<'PYEOF' && ok "2 TiB: the grain at 2047 GiB read back, size 2 TiB, the rest a hole" || bad "2 TiB: wrong reading"
import os, sys
st = os.stat(sys.argv[1])
assert st.st_size == 2 << 40, st.st_size
assert st.st_blocks * 512 <= 1 << 20, st.st_blocks
with open(sys.argv[1], "rb") as f:
    f.seek(2047 << 30); d = f.read(65536 + 512)
assert d[:65536] == b"\xab" * 65536 and d[65536:] == bytes(512), "content"
PYEOF
  rm -f "$SCRATCH/big.vmdk" "$SCRATCH/big.raw"
else
  skip_part "qemu-io not installed: the 2 TiB monolithicSparse"
fi

# Truncated copies: refused at open (exit 3), one line naming the file.
for f in stream odd-mono; do
  size=$(stat -c %s "$SCRATCH/$f.vmdk")
  head -c $((size - 70000)) "$SCRATCH/$f.vmdk" > "$SCRATCH/trunc.vmdk"
  expect_exit 3 "truncated $f refused" "$CAT" "$SCRATCH/trunc.vmdk" "$SCRATCH/ours.raw"
  grep -q "trunc.vmdk: VMDK .*past the end of the file" "$SCRATCH/err" \
    && ok "truncated $f: $(cat "$SCRATCH/err")" || bad "truncated $f: $(cat "$SCRATCH/err")"
done
finish
