#!/usr/bin/env bash
# inspect --json on one fixture (named by the calling wrapper), checked
# field by field against the fixture's facts file, which the fixture
# builder wrote from what it put in the image -- including every diagnosis
# expected, and none other.  Also the text output, once, for the same run.
. "$SRCDIR/tests/e2e/lib.sh"
name=${1:?fixture name}
need_fixture "$name.vhd"
need_fixture "$name.facts.json"
img=$FIXTURES/$name.vhd
start=$(date +%s.%N)
if "$BOXWRIGHT" inspect --json "$img" > "$SCRATCH/inspect.json" 2> "$SCRATCH/err"; then
  ok "$name: inspect --json ($(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f s", e-s}'))"
else
  bad "$name: inspect --json failed: $(cat "$SCRATCH/err")"; finish; exit 1
fi
$PY "$SRCDIR/tests/e2e/check_inspect.py" "$FIXTURES/$name.facts.json" "$SCRATCH/inspect.json" > "$SCRATCH/check" 2>&1
rc=$?
cat "$SCRATCH/check"
CHECKS=$((CHECKS + $(grep -c '^ok ' "$SCRATCH/check") + $(grep -c '^not ok ' "$SCRATCH/check")))
FAILS=$((FAILS + $(grep -c '^not ok ' "$SCRATCH/check")))
[ $rc -eq 0 ] || [ "$(grep -c '^not ok ' "$SCRATCH/check")" -gt 0 ] || bad "$name: checker crashed (exit $rc)"
finish
