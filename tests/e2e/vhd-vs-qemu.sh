#!/usr/bin/env bash
# Our VHD reader against independent ones: byte for byte against
# `qemu-img convert -O raw` (dynamic and fixed fixtures), and the virtual
# size against qemu-img info and vhdiinfo.
. "$SRCDIR/tests/e2e/lib.sh"
for f in nano-base.vhd nano-fixed.vhd nano-sector63.vhd; do
  need_fixture "$f"
  img=$FIXTURES/$f
  qemu-img convert -f vpc -O raw "$img" "$SCRATCH/qemu.raw" || { bad "$f: qemu-img convert"; continue; }
  if out=$("$BUILDDIR/tests/tools/disk_cat" "$img" "$SCRATCH/ours.raw"); then ok "$f: our reader ($out)"; else bad "$f: our reader"; continue; fi
  cmp "$SCRATCH/qemu.raw" "$SCRATCH/ours.raw" && ok "$f: identical to qemu-img's raw" || bad "$f: differs from qemu-img's raw"
  ours=$(echo "$out" | awk '{print $2}')
  q=$(qemu-img info --output=json -f vpc "$img" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  v=$(vhdiinfo "$img" | sed -n 's/.*Media size[^:]*:.*(\([0-9]*\) bytes).*/\1/p')
  [ "$ours" = "$q" ] && ok "$f: size $ours = qemu-img's" || bad "$f: size $ours, qemu-img says $q"
  [ "$ours" = "$v" ] && ok "$f: size = vhdiinfo's" || bad "$f: size $ours, vhdiinfo says '$v'"
  rm -f "$SCRATCH/qemu.raw" "$SCRATCH/ours.raw"
done
finish
