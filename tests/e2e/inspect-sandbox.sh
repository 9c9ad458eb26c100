#!/usr/bin/env bash
# inspect through the libguestfs appliance (--sandbox) must print what the
# native backend prints, on the fixtures that exercise the guest the most
# (live control set 2, mixed-case paths, a "System Reserved" layout).
. "$SRCDIR/tests/e2e/lib.sh"
for f in nano-cs2 nano-mixedcase nano-sysreserved; do
  need_fixture "$f.vhd"
done
for f in nano-cs2 nano-mixedcase nano-sysreserved; do
  "$BOXWRIGHT" inspect --backend native "$FIXTURES/$f.vhd" > "$SCRATCH/native.txt" 2>&1 || { bad "$f: native inspect failed: $(cat "$SCRATCH/native.txt")"; continue; }
  "$BOXWRIGHT" inspect --sandbox "$FIXTURES/$f.vhd" > "$SCRATCH/guestfs.txt" 2>&1 || { bad "$f: sandbox inspect failed: $(cat "$SCRATCH/guestfs.txt")"; continue; }
  grep -q '^Windows (partition' "$SCRATCH/native.txt" || { bad "$f: native inspect saw no Windows"; continue; }
  if cmp -s "$SCRATCH/native.txt" "$SCRATCH/guestfs.txt"; then
    ok "$f: inspect identical on both backends ($(wc -l < "$SCRATCH/native.txt") lines)"
  else
    bad "$f: inspect differs between backends"; diff "$SCRATCH/native.txt" "$SCRATCH/guestfs.txt" | head -20
  fi
done
finish
