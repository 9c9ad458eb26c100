#!/usr/bin/env bash
# patch keeps a differencing VHD differencing: the output is a child of the
# same parent, named the same way (diffcheck.py link, vhdiinfo), holding
# only blocks that differ from the parent, each whole (diffcheck.py
# blocks); the parent is never written (sha256); the edited volume's free
# clusters and everything outside it keep the input's bytes (diffcheck.py
# volcmp with ntfscat's $Bitmap); libvhdi reads the chain as we do; the
# hives (hivexregedit --export) equal those of a patch of a flattened copy
# -- raw bytes of two patch runs differ in MFT time stamps, so the hives
# are compared by content.  A child with earlier data keeps those blocks
# and drops the ones equal to the parent.  An output that would not find
# the parent is refused with exit 3.  (A differencing VHDX:
# patch-diff-vhdx.sh.)
#
# qemu-img is no oracle here: it reads a type-4 VHD without its parent
# and has no check for vpc ("does not support checks"); qemu-img cannot
# create a differencing VHD either, so the children come from
# tests/fixtures-diff/mkdiffvhd.py.
. "$SRCDIR/tests/e2e/lib.sh"
EXT=vhd QFMT=vpc CHECKER="$PY $SRCDIR/tests/e2e/diffcheck.py"
. "$SRCDIR/tests/e2e/patch-diff-lib.sh"
GEN="$PY $SRCDIR/tests/fixtures-diff/mkdiffvhd.py"
need_fixture nano-base.vhd

cp --sparse=always "$FIXTURES/nano-base.vhd" "$d/parent.vhd"
psum=$(sha256sum < "$d/parent.vhd")
qemu-img convert -f vpc -O raw "$d/parent.vhd" "$d/parent.raw"
pid=$(identifier "$d/parent.vhd")

# 1. A fresh child (no block: the parent's disk), patched to -o beside it.
$GEN child "$d/c.vhd" --parent "$d/parent.vhd" --empty
check_fresh "fresh child" "$d/c.vhd" "$d/out.vhd" || { finish; exit; }
vhdi_link "fresh child" "$d/out.vhd" "$pid"

# 2. A child with data of its own (what the first patch wrote, as partial
#    sector bitmaps; plus a block equal to the parent and one with no bit
#    set), patched in place.
$GEN child "$d/c2.vhd" --parent "$d/parent.vhd" --from "$d/out.raw" --parent-raw "$d/parent.raw" --seed 3
check_second_patch "child with data" "$d/c2.vhd" || { finish; exit; }
rm -f "$d/out.raw"

# 3. An output that would not find the parent: the child finds it by its
#    relative locator only, and -o puts the new child elsewhere.
$GEN child "$d/c3.vhd" --parent "$d/parent.vhd" --empty --locators w2ru --no-parent-name
check_elsewhere "output elsewhere" "$d/c3.vhd"

temps_left "$d" && bad "temporary files left behind" || ok "no temporary files left behind"
finish
