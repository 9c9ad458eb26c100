#!/usr/bin/env bash
# The JSON that scripts read -- inspect --json (full and --disk-only),
# build --json, patch --json, convert --json and batch's result lines --
# keeps its shape: every key, its type, nesting and order, and the values
# that are fixed for a fixture (formats, offsets, signatures, diagnosis
# codes), against tests/e2e/json-shape.golden (json_shape.py prints it).
# Native backend only (the default).  After a deliberate change to the
# output, regenerate the golden with
#   make check check_DATA= TESTS=tests/e2e/json-shape.sh JSON_SHAPE_UPDATE=1
# and review its diff.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
need_fixture nano-dirty.vhd
GOLDEN=$SRCDIR/tests/e2e/json-shape.golden
SHAPE=$SCRATCH/shape
: > "$SHAPE"

# run LABEL WANT-EXIT CMD...: CMD's stdout is LABEL's JSON
run() {
  local label=$1 want=$2; shift 2
  "$@" > "$SCRATCH/$label.json" 2> "$SCRATCH/err"; local got=$?
  if [ "$got" -ne "$want" ]; then
    bad "$label: exit $got, expected $want: $(cat "$SCRATCH/err")"; return 1
  fi
  if $PY "$SRCDIR/tests/e2e/json_shape.py" "$label" "$SCRATCH/$label.json" \
       "$SCRATCH=@SCRATCH" "$FIXTURES=@FIXTURES" >> "$SHAPE" 2> "$SCRATCH/err"; then
    ok "$label: exit $got, JSON read"
  else
    bad "$label: $(cat "$SCRATCH/err")"
  fi
}
img=$FIXTURES/nano-base.vhd
run inspect 0 "$BOXWRIGHT" inspect --json "$img"
run inspect-dirty 0 "$BOXWRIGHT" inspect --json "$FIXTURES/nano-dirty.vhd"
run inspect-disk-only 0 "$BOXWRIGHT" inspect --json --disk-only "$img"
# a document also when inspect fails: a raw "disk" of no sector (the
# model and "error"), a truncated VHD (no disk: "file" and "error")
echo "not a disk" > "$SCRATCH/text.raw"
run inspect-error 3 "$BOXWRIGHT" inspect --json "$SCRATCH/text.raw"
head -c 1000 "$img" > "$SCRATCH/short.vhd"
run inspect-nodisk 3 "$BOXWRIGHT" inspect --json "$SCRATCH/short.vhd"
run patch 0 "$BOXWRIGHT" patch "$img" -o "$SCRATCH/p.vhd" --quiet --json --winrm --hostname shape1
run convert 0 "$BOXWRIGHT" convert --quiet --json --sparsify "$img" "$SCRATCH/c.raw"
rm -f "$SCRATCH/c.raw"
run build 0 "$BOXWRIGHT" build "$img" -o "$SCRATCH/b.box" --size 6G --winrm --quiet --json \
  --hardware-uuid 8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f \
  --catalog "$SCRATCH/catalog.json" --box-name shape/nano --box-version 1.0.0
rm -f "$SCRATCH/b.box"
# batch: one job that works and one whose input is missing, in order (-j 1)
cp --sparse=always "$img" "$SCRATCH/in.vhd"
cat > "$SCRATCH/m.jsonl" <<'EOJ'
{"command":"patch","input":"in.vhd","output":"out0.vhd","options":["--hostname","batch0"]}
{"command":"patch","input":"missing.vhd","output":"out1.vhd","options":["--winrm"]}
EOJ
run batch 1 "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"

if [ "${JSON_SHAPE_UPDATE:-}" = 1 ]; then
  cp "$SHAPE" "$GOLDEN" && ok "golden rewritten: review git diff $GOLDEN"
elif diff -u "$GOLDEN" "$SHAPE" > "$SCRATCH/diff"; then
  ok "every output has the golden shape ($(wc -l < "$GOLDEN") lines)"
else
  bad "JSON shape differs from $GOLDEN:"; sed 's/^/  /' "$SCRATCH/diff"
fi
finish
