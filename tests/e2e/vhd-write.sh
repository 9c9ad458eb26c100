#!/usr/bin/env bash
# Our VHD and raw writers against independent readers.  nano-base.vhd is
# read with our reader and written by tests/tools/disk_write as a dynamic
# VHD (new identity: size rounded up to its CHS product), a dynamic VHD
# keeping the input's footer (--keep: creator "win ", exact size), a fixed
# VHD, and raw.  Each output must be:
#   - identical in content to the input for qemu-img compare (qemu's reader);
#   - identical for libvhdi (python3-libvhdi reading input and output);
#   - the same virtual size for qemu-img info, vhdiinfo and our reader, and
#     the size FORMATS.md asks for;
#   - accepted by qemu-img check where the format supports it (vpc does
#     not: qemu-img exits 63 "does not support checks").
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
in=$FIXTURES/nano-base.vhd
W=$BUILDDIR/tests/tools/disk_write
CAT=$BUILDDIR/tests/tools/disk_cat
[ -x "$W" ] || { echo "tests/tools/disk_write not built"; exit 99; }
HAVE_VHDI=1
$PY -c 'import pyvhdi' 2>/dev/null || { HAVE_VHDI=0; skip_part "python3-libvhdi missing: libvhdi content checks skipped"; }

insize=$(qemu-img info --output=json -f vpc "$in" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
# The CHS product at or above 4 GiB: 8323 x 16 x 63 sectors, the size
# `qemu-img create -f vpc 4G` makes too.
chs_size=4295467008
[ "$insize" = 4294967296 ] || { bad "nano-base.vhd is $insize bytes, the expectations assume 4 GiB"; finish; exit; }

# libvhdi's view of two VHDs must agree on the first N bytes and the rest
# of the longer one must be zero.
cat > "$SCRATCH/vhdi_cmp.py" <<'PYEOF'
import sys, pyvhdi
a, b = pyvhdi.file(), pyvhdi.file()
a.open(sys.argv[1]); b.open(sys.argv[2])
sa, sb = a.get_media_size(), b.get_media_size()
chunk, off = 4 << 20, 0
while off < max(sa, sb):
    n = min(chunk, max(sa, sb) - off)
    da = a.read_buffer_at_offset(min(n, max(0, sa - off)), off) if off < sa else b""
    db = b.read_buffer_at_offset(min(n, max(0, sb - off)), off) if off < sb else b""
    da, db = da.ljust(n, b"\0"), db.ljust(n, b"\0")
    if da != db:
        i = next(k for k in range(n) if da[k] != db[k])
        sys.exit("differ at byte %d" % (off + i))
    off += n
print("identical over %d bytes (sizes %d, %d)" % (max(sa, sb), sa, sb))
PYEOF

for mode in vhd vhd-keep vhd-fixed raw; do
  out=$SCRATCH/out.$mode
  case $mode in
    vhd)       args=(vhd);          qf=vpc; want=$chs_size ;;
    vhd-keep)  args=(vhd --keep);   qf=vpc; want=$insize ;;
    vhd-fixed) args=(vhd-fixed);    qf=vpc; want=$chs_size ;;
    raw)       args=(raw);          qf=raw; want=$insize ;;
  esac
  start=$(date +%s.%N)
  if ! msg=$("$W" "$in" "$out" "${args[@]}" 2>&1); then bad "$mode: disk_write failed: $msg"; continue; fi
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  ok "$mode: written ($msg) in ${secs}s, $(du -k "$out" | cut -f1) KiB on disk, $(stat -c %s "$out") bytes apparent"

  # Content: qemu's reader on both sides.
  if cmpout=$(qemu-img compare -f vpc -F $qf "$in" "$out" 2>&1) && echo "$cmpout" | grep -q "Images are identical"; then
    ok "$mode: qemu-img compare: identical"
  else
    bad "$mode: qemu-img compare: $cmpout"
  fi

  # Sizes: qemu-img, vhdiinfo and our reader agree, and match FORMATS.md.
  q=$(qemu-img info --output=json -f $qf "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  ours=$("$CAT" "$out" "$SCRATCH/back.raw" | awk '{print $2}')
  rm -f "$SCRATCH/back.raw"
  [ "$q" = "$want" ] && ok "$mode: qemu-img virtual size $q" || bad "$mode: qemu-img virtual size $q, expected $want"
  [ "$ours" = "$want" ] && ok "$mode: our reader's size $ours" || bad "$mode: our reader's size '$ours', expected $want"
  if [ $qf = vpc ]; then
    v=$(vhdiinfo "$out" | sed -n 's/.*Media size[^:]*:.*(\([0-9]*\) bytes).*/\1/p')
    [ "$v" = "$want" ] && ok "$mode: vhdiinfo media size $v" || bad "$mode: vhdiinfo media size '$v', expected $want"
    if [ $HAVE_VHDI = 1 ]; then
      if r=$($PY "$SCRATCH/vhdi_cmp.py" "$in" "$out" 2>&1); then ok "$mode: libvhdi: $r"; else bad "$mode: libvhdi: $r"; fi
    fi
    # Footer identity: new (creator bxwr, CHS product) or kept (the input's).
    $PY - "$in" "$out" "$mode" > "$SCRATCH/footer" <<'PYEOF'
import struct, sys
def footer(p):
    with open(p, "rb") as f:
        f.seek(-512, 2)
        return f.read(512)
i, o, mode = footer(sys.argv[1]), footer(sys.argv[2]), sys.argv[3]
c, h, s = struct.unpack(">HBB", o[56:60])
size = struct.unpack(">Q", o[48:56])[0]
if mode == "vhd-keep":
    ok = o[28:60] == i[28:60] and o[68:84] == i[68:84]
    print("kept" if ok else "NOT kept", o[28:32], c, h, s, size)
else:
    ok = o[28:32] == b"bxwr" and c * h * s * 512 == size and o[68:84] != i[68:84]
    print("new" if ok else "NOT new", o[28:32], c, h, s, size)
PYEOF
    case "$(cat "$SCRATCH/footer")" in
      kept*|new*) ok "$mode: footer $(cat "$SCRATCH/footer")" ;;
      *) bad "$mode: footer $(cat "$SCRATCH/footer")" ;;
    esac
  fi

  # Consistency: qemu-img check where the format has one.
  chk=$(qemu-img check -f $qf "$out" 2>&1); rc=$?
  case $rc in
    0)  ok "$mode: qemu-img check: clean" ;;
    63) echo "# $mode: qemu-img check: $chk" ;;
    *)  bad "$mode: qemu-img check exit $rc: $chk" ;;
  esac
  rm -f "$out"
done
finish
