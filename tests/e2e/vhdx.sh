#!/usr/bin/env bash
# VHDX against independent readers and writers.
#   read:  qemu-img writes nano-base.vhd as a dynamic and a fixed VHDX;
#          `boxwright convert X.vhdx out.raw` must equal `qemu-img convert
#          -O raw`, and inspect must read the image through it.  qemu-img
#          cannot make a differencing VHDX, so vhdx_tool.py (written from
#          the spec, own CRC-32C) makes one over the dynamic image and
#          writes into it; boxwright must read what it wrote, and libvhdi
#          (python3-libvhdi, with the parent set) must agree.  A set
#          LogGuid is refused with exit 3.
#   write: `boxwright convert -O vhdx nano-base.vhd` must pass qemu-img
#          check, be identical for qemu-img compare, have the same size
#          for qemu-img info and vhdiinfo, and the same content for libvhdi.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
in=$FIXTURES/nano-base.vhd
TOOL=$SRCDIR/tests/e2e/vhdx_tool.py
HAVE_VHDI=1
$PY -c 'import pyvhdi' 2>/dev/null || { HAVE_VHDI=0; skip_part "python3-libvhdi missing: libvhdi content checks"; }
qemu-img convert -f vpc -O raw "$in" "$SCRATCH/want.raw" || { bad "qemu-img convert of the input"; finish; exit; }
insize=$(stat -c %s "$SCRATCH/want.raw")

fmt_of() { "$BOXWRIGHT" inspect "$1" 2>/dev/null | sed -n 's/^Format: *\([^,]*\),.*/\1/p'; }

# libvhdi's view of A (and of its parent P when given) against raw R.
cat > "$SCRATCH/vhdi_cmp.py" <<'PYEOF'
import sys, pyvhdi
f = pyvhdi.file()
f.open(sys.argv[1])
if len(sys.argv) > 3:
    p = pyvhdi.file()
    p.open(sys.argv[3])
    f.set_parent(p)
size = f.get_media_size()
with open(sys.argv[2], "rb") as r:
    off, chunk = 0, 4 << 20
    while off < size:
        a = f.read_buffer_at_offset(min(chunk, size - off), off)
        b = r.read(len(a))
        if a != b:
            i = next(k for k in range(len(a)) if k >= len(b) or a[k] != b[k])
            sys.exit("differ at byte %d" % (off + i))
        off += len(a)
print("identical over %d bytes" % size)
PYEOF

# ---- read -------------------------------------------------------------
for sub in dynamic fixed; do
  img=$SCRATCH/base-$sub.vhdx
  qemu-img convert -f vpc -O vhdx -o subformat=$sub "$in" "$img" || { bad "qemu-img convert -o subformat=$sub"; continue; }
  if out=$("$BOXWRIGHT" convert "$img" "$SCRATCH/ours.raw" 2>&1); then ok "$sub: boxwright convert to raw"; else bad "$sub: boxwright convert: $out"; continue; fi
  cmp "$SCRATCH/want.raw" "$SCRATCH/ours.raw" && ok "$sub: identical to qemu-img's raw" || bad "$sub: differs from qemu-img's raw"
  fmt=$(fmt_of "$img")
  [ "$fmt" = "vhdx-$sub" ] && ok "$sub: format $fmt" || bad "$sub: format '$fmt', expected vhdx-$sub"
  rm -f "$SCRATCH/ours.raw"
done

img=$SCRATCH/base-dynamic.vhdx
if out=$("$BOXWRIGHT" inspect "$img" 2>&1); then
  echo "$out" | grep -q "^Format: *vhdx-dynamic, virtual size $insize bytes" && ok "inspect: format and size" || bad "inspect: no vhdx-dynamic line: $(echo "$out" | head -3)"
  echo "$out" | grep -q "Windows Server 2016" && ok "inspect: finds Windows through the VHDX" || bad "inspect: no Windows found"
else
  bad "inspect failed: $out"
fi

# Differencing, written into.
cp --sparse=always "$SCRATCH/want.raw" "$SCRATCH/child-want.raw"
if msg=$($PY "$TOOL" child "$img" "$SCRATCH/child.vhdx" "$SCRATCH/child-want.raw" 2>&1); then ok "differencing: $msg"; else bad "differencing: vhdx_tool.py: $msg"; fi
if out=$("$BOXWRIGHT" convert "$SCRATCH/child.vhdx" "$SCRATCH/child.raw" 2>&1); then
  cmp "$SCRATCH/child-want.raw" "$SCRATCH/child.raw" && ok "differencing: reads the parent and the child's writes" || bad "differencing: content differs"
else
  bad "differencing: boxwright convert: $out"
fi
fmt=$(fmt_of "$SCRATCH/child.vhdx")
[ "$fmt" = vhdx-differencing ] && ok "differencing: format $fmt" || bad "differencing: format '$fmt'"
if [ $HAVE_VHDI = 1 ]; then
  if r=$($PY "$SCRATCH/vhdi_cmp.py" "$SCRATCH/child.vhdx" "$SCRATCH/child.raw" "$img" 2>&1); then ok "differencing: libvhdi: $r"; else bad "differencing: libvhdi: $r"; fi
fi
# Its parent moved away: refused, naming where it looked.
mv "$img" "$SCRATCH/moved.vhdx"
expect_exit 3 "differencing: missing parent refused" "$BOXWRIGHT" convert "$SCRATCH/child.vhdx" "$SCRATCH/x.raw"
grep -q "parent not found" "$SCRATCH/err" && ok "differencing: says the parent is not found" || bad "differencing: message: $(cat "$SCRATCH/err")"
mv "$SCRATCH/moved.vhdx" "$img"
rm -f "$SCRATCH/child.raw" "$SCRATCH/child-want.raw" "$SCRATCH/x.raw"

# An unreplayed log: refused with how to replay it.
cp --sparse=always "$img" "$SCRATCH/log.vhdx"
$PY "$TOOL" setlog "$SCRATCH/log.vhdx"
expect_exit 3 "unreplayed log refused" "$BOXWRIGHT" convert "$SCRATCH/log.vhdx" "$SCRATCH/x.raw"
grep -q "unreplayed log.*qemu-img check -r all" "$SCRATCH/err" && ok "unreplayed log: says how to replay it" || bad "unreplayed log: message: $(cat "$SCRATCH/err")"
qemu-img check -r all "$SCRATCH/log.vhdx" >/dev/null 2>&1
rm -f "$SCRATCH/log.vhdx" "$SCRATCH"/base-*.vhdx

# ---- write ------------------------------------------------------------
out=$SCRATCH/out.vhdx
start=$(date +%s.%N)
if msg=$("$BOXWRIGHT" convert -O vhdx "$in" "$out" 2>&1); then
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  ok "write: convert -O vhdx in ${secs}s, $(stat -c %s "$out") bytes"
else
  bad "write: convert -O vhdx: $msg"; finish; exit
fi
chk=$(qemu-img check -f vhdx "$out" 2>&1) && ok "write: qemu-img check: clean" || bad "write: qemu-img check: $chk"
cmpout=$(qemu-img compare -f vpc -F vhdx "$in" "$out" 2>&1)
echo "$cmpout" | grep -q "Images are identical" && ok "write: qemu-img compare: identical" || bad "write: qemu-img compare: $cmpout"
q=$(qemu-img info --output=json -f vhdx "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
[ "$q" = "$insize" ] && ok "write: qemu-img virtual size $q" || bad "write: qemu-img virtual size $q, expected $insize"
v=$(vhdiinfo "$out" | sed -n 's/.*Media size[^:]*:.*(\([0-9]*\) bytes).*/\1/p')
[ "$v" = "$insize" ] && ok "write: vhdiinfo media size $v" || bad "write: vhdiinfo media size '$v', expected $insize"
vhdiinfo "$out" | grep -q "Disk type.*Dynamic" && ok "write: vhdiinfo: dynamic" || bad "write: vhdiinfo: $(vhdiinfo "$out" | grep 'Disk type')"
if [ $HAVE_VHDI = 1 ]; then
  if r=$($PY "$SCRATCH/vhdi_cmp.py" "$out" "$SCRATCH/want.raw" 2>&1); then ok "write: libvhdi: $r"; else bad "write: libvhdi: $r"; fi
fi
"$BOXWRIGHT" convert "$out" "$SCRATCH/back.raw" >/dev/null 2>&1 && cmp -s "$SCRATCH/want.raw" "$SCRATCH/back.raw" && ok "write: our reader reads it back" || bad "write: our reader's read-back differs"

# ---- patch: a VHDX in, a VHDX out (in place too) ------------------------
if "$BOXWRIGHT" patch "$out" -o "$SCRATCH/patched.vhdx" --quiet --json --hostname vhdx1 > "$SCRATCH/p.json" 2> "$SCRATCH/p.err"; then
  fmt=$(qemu-img info --output=json "$SCRATCH/patched.vhdx" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')
  [ "$fmt" = vhdx ] && ok "patch: a VHDX gives a VHDX" || bad "patch: the output is $fmt"
  qemu-img check -f vhdx "$SCRATCH/patched.vhdx" >/dev/null 2>&1 && ok "patch: qemu-img check: clean" || bad "patch: qemu-img check"
  "$BOXWRIGHT" inspect --json "$SCRATCH/patched.vhdx" | $PY -c 'import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["windows"]["computer_name"].lower()=="vhdx1" else 1)' \
    && ok "patch: the hostname is in the patched VHDX" || bad "patch: hostname not found"
  cp "$SCRATCH/patched.vhdx" "$SCRATCH/inplace.vhdx"
  "$BOXWRIGHT" patch "$SCRATCH/inplace.vhdx" --in-place --quiet --hostname vhdx2 &&
    [ "$(qemu-img info --output=json "$SCRATCH/inplace.vhdx" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')" = vhdx ] \
    && ok "patch --in-place keeps a VHDX a VHDX" || bad "patch --in-place of a VHDX"
else
  bad "patch of a VHDX: $(cat "$SCRATCH/p.err")"
fi
finish
