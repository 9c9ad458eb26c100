#!/usr/bin/env bash
# docs/library.md's example program (docs/library-example.c, built as
# tests/tools/library_example): the page shows the file as it is, and the
# program builds a box of nano-base.vhd through job.h alone -- the tar
# holds the box's four files, the Vagrantfile pins the hardware UUID the
# program printed, and VirtualBox's disk in it reads back as the same
# virtual size qemu-img sees; a missing input fails with one line.
. "$SRCDIR/tests/e2e/lib.sh"
TOOL=$BUILDDIR/tests/tools/library_example
[ -x "$TOOL" ] || { echo "$TOOL missing: build check_PROGRAMS"; exit 99; }
need_fixture nano-base.vhd

$PY - "$SRCDIR/docs/library.md" "$SRCDIR/docs/library-example.c" <<'PYEOF' && ok "docs/library.md shows docs/library-example.c verbatim" || bad "docs/library.md and docs/library-example.c differ"
import sys
md, prog = open(sys.argv[1]).read(), open(sys.argv[2]).read()
sys.exit(0 if "```c\n" + prog + "```" in md else 1)
PYEOF

box=$SCRATCH/lib.box
expect_exit 0 "the example builds a box" "$TOOL" "$FIXTURES/nano-base.vhd" "$box"
line=$(cat "$SCRATCH/out")
uuid=$(sed -n 's/.*hardware UUID \([0-9a-f-]\{36\}\)$/\1/p' "$SCRATCH/out")
[ -n "$uuid" ] && ok "it printed the box and a hardware UUID ($line)" || bad "unexpected output: $line"
if [ -s "$box" ]; then
  files=$(tar tf "$box" | sort | tr '\n' ' ')
  [ "$files" = "Vagrantfile box-disk001.vmdk box.ovf metadata.json " ] && ok "the box holds its four files" || bad "box holds: $files"
  mkdir -p "$SCRATCH/x" && tar xf "$box" -C "$SCRATCH/x"
  grep -q -- "--hardwareuuid\", \"$uuid\"" "$SCRATCH/x/Vagrantfile" && ok "the Vagrantfile pins the printed UUID" || bad "the Vagrantfile does not pin $uuid"
  vs=$(qemu-img info --output=json "$SCRATCH/x/box-disk001.vmdk" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  want=$(qemu-img info --output=json "$FIXTURES/nano-base.vhd" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$vs" = "$want" ] && ok "its disk is the input's size ($vs)" || bad "disk size $vs, input $want"
else
  bad "no box written"
fi
expect_exit 1 "a missing input fails" "$TOOL" "$SCRATCH/missing.vhd" "$SCRATCH/m.box"
[ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -q "missing.vhd" "$SCRATCH/err" && ok "with one line naming the file" || bad "error output: $(cat "$SCRATCH/err")"
[ ! -e "$SCRATCH/m.box" ] && ok "and writes no box" || bad "a box was left"
finish
