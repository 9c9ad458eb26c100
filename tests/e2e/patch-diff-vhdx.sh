#!/usr/bin/env bash
# patch keeps a differencing VHDX differencing: the output is a child of
# the same parent with the input's Parent Locator item, block and sector
# sizes and Page 83 Data, new write GUIDs (vhdx_tool.py link; vhdiinfo's
# parent identifier and file name), only fully present blocks that differ
# from the parent, sector bitmaps that agree (vhdx_tool.py blocks); the
# parent is never written (sha256); libvhdi reads the chain as we do
# (vhdx_tool.py vhdi where there is data; vhdimount's whole flattened
# disk, byte for byte); the edited volume's free clusters and everything outside it keep
# the input's bytes (diffcheck.py volcmp with ntfscat's $Bitmap); the
# hives (hivexregedit --export) equal those of a patch of a flattened
# copy.  A child with earlier data (partially present blocks, other block
# size) keeps those blocks and drops the ones equal to the parent.  An
# output that would not find the parent, and a child holding what a new
# one could not keep, are refused with exit 3 before any work.
#
# qemu-img is no oracle here: it opens no differencing VHDX ("Operation
# not supported") and cannot make one, so the children come from
# tests/e2e/vhdx_tool.py, written from [MS-VHDX]; qemu-img makes the
# parent (an independent VHDX writer) and reads the flattened copies.
. "$SRCDIR/tests/e2e/lib.sh"
EXT=vhdx QFMT=vhdx CHECKER="$PY $SRCDIR/tests/e2e/vhdx_tool.py"
. "$SRCDIR/tests/e2e/patch-diff-lib.sh"
TOOL=$CHECKER
need_fixture nano-base.vhd
# The parent file name the children's absolute_win32_path gives.
PNAME='C:\nowhere\parent.vhdx'

qemu-img convert -f vpc -O vhdx -o subformat=dynamic "$FIXTURES/nano-base.vhd" "$d/parent.vhdx"
psum=$(sha256sum < "$d/parent.vhdx")
qemu-img convert -f vhdx -O raw "$d/parent.vhdx" "$d/parent.raw"
pid=$(identifier "$d/parent.vhdx")

# 1. A fresh child (no block: the parent's disk; every locator key, an
#    unknown one too), patched to -o beside it.
$TOOL child "$d/parent.vhdx" "$d/c.vhdx" - --empty --keys linkage,relative,volume,absolute,extra > /dev/null
check_fresh "fresh child" "$d/c.vhdx" "$d/out.vhdx" || { finish; exit; }
vhdi_link "fresh child" "$d/out.vhdx" "$pid" "$PNAME"
vhdimount_cmp "fresh child" "$d/out.vhdx" "$d/out.raw"

# 2. A child with data of its own in 4 MiB blocks (what the first patch
#    wrote, whole and as partial sector bitmaps; plus a block equal to the
#    parent and one with no bit set), patched in place.
$TOOL child "$d/parent.vhdx" "$d/c2.vhdx" - --from "$d/out.raw" --parent-raw "$d/parent.raw" --block-size 4 > /dev/null
check_second_patch "child with data" "$d/c2.vhdx" || { finish; exit; }
"$CAT" "$d/c2.vhdx" "$d/c2.raw" > /dev/null
vhdimount_cmp "child with data" "$d/c2.vhdx" "$d/c2.raw"
vhdi_link "child with data" "$d/c2.vhdx" "$pid" "$PNAME"
rm -f "$d/out.raw" "$d/c2.raw"

# 3. An output that would not find the parent: the child finds it by its
#    relative path only, and -o puts the new child elsewhere.
$TOOL child "$d/parent.vhdx" "$d/c3.vhdx" - --empty --keys linkage,relative > /dev/null
check_elsewhere "output elsewhere" "$d/c3.vhdx"

# 4. What a new child could not keep, refused before any work (exit 3, a
#    hint), the image untouched: an optional metadata item we do not know
#    (the new child would lose it), a parent locator of another type.
$TOOL child "$d/parent.vhdx" "$d/c4.vhdx" - --empty --user-item > /dev/null
$TOOL child "$d/parent.vhdx" "$d/c5.vhdx" - --empty --locator-type 0a1b2c3d-1111-2222-3333-444455556666 > /dev/null
for c in "c4.vhdx:optional metadata item.*boxwright does not know.*-O vhdx" "c5.vhdx:Parent Locator.*locator type.*expected the VHDX type"; do
  img=${c%%:*} want=${c#*:}
  xsum=$(sha256sum < "$d/$img")
  for how in "--in-place" "-o $d/x.vhdx"; do
    expect_exit 3 "$img ($how): refused" "$BOXWRIGHT" patch "$d/$img" $how --quiet --hostname x
    grep -q "^boxwright: $d/$img: .*$want" "$d/err" && [ "$(wc -l < "$d/err")" = 1 ] &&
      ok "$img ($how): one line naming the file and what was expected: $(cat "$d/err")" || bad "$img ($how): message: $(cat "$d/err")"
  done
  [ "$(sha256sum < "$d/$img")" = "$xsum" ] && ok "$img: unchanged" || bad "$img: changed"
  [ ! -e "$d/x.vhdx" ] && ok "$img: no output" || bad "$img: an output was written"
done
temps_left "$d" && bad "temporary files left behind" || ok "no temporary files left behind"
finish
