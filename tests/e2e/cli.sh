#!/usr/bin/env bash
# The command line itself: help, version, usage errors, and commands that
# are not built yet saying so with exit 1 (never passing as done).
. "$SRCDIR/tests/e2e/lib.sh"
expect_exit 0 "--help" "$BOXWRIGHT" --help
grep -q '^Usage: boxwright COMMAND' "$SCRATCH/out" && ok "--help prints usage" || bad "--help prints usage"
expect_exit 0 "--version" "$BOXWRIGHT" --version
grep -Eq '^boxwright [0-9]+\.[0-9]+\.[0-9]+$' "$SCRATCH/out" && ok "version line" || bad "version line"
expect_exit 2 "no command" "$BOXWRIGHT"
expect_exit 2 "unknown command" "$BOXWRIGHT" frobnicate
for c in inspect patch convert build batch; do
  expect_exit 0 "$c --help" "$BOXWRIGHT" "$c" --help
  grep -q "^Usage: boxwright $c" "$SCRATCH/out" && ok "$c usage text" || bad "$c usage text"
done
expect_exit 2 "batch without MANIFEST" "$BOXWRIGHT" batch
printf '{"command":"build","input":"a.vhd"}\n' > "$SCRATCH/m.jsonl"
expect_exit 3 "batch with a job lacking output" "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"
grep -q "m.jsonl:1: expected \"input\" and \"output\"" "$SCRATCH/err" && ok "manifest error names file:line" || bad "manifest error: $(cat "$SCRATCH/err")"
printf '{"command":"patch","input":"a.vhd","output":"b.vhd","options":["--winrm"]}\nnot json\n' > "$SCRATCH/m.jsonl"
expect_exit 3 "batch with a line that is not JSON" "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"
grep -q "m.jsonl:2" "$SCRATCH/err" && ok "the bad line is named" || bad "bad line: $(cat "$SCRATCH/err")"
expect_exit 2 "patch without an edit" "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" -o "$SCRATCH/x.vhd"
expect_exit 2 "patch without -o or --in-place" "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" --winrm
expect_exit 2 "--backend with an unknown name" "$BOXWRIGHT" inspect --backend qemu "$FIXTURES/nano-nowin.vhd"
grep -q "expected native or guestfs" "$SCRATCH/err" && ok "the error names the backends" || bad "backend error: $(cat "$SCRATCH/err")"
expect_exit 2 "BOXWRIGHT_BACKEND with an unknown name" env BOXWRIGHT_BACKEND=vm "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" -o "$SCRATCH/x.vhd" --winrm
expect_exit 0 "--sandbox overrides a bad BOXWRIGHT_BACKEND" env BOXWRIGHT_BACKEND=vm "$BOXWRIGHT" inspect --sandbox --disk-only "$FIXTURES/nano-nowin.vhd"
expect_exit 2 "patch with both -o and --in-place" "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" --winrm -o "$SCRATCH/x.vhd" --in-place
expect_exit 2 "patch with a missing --setup-complete file" "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" --setup-complete "$SCRATCH/none.cmd" -o "$SCRATCH/x.vhd"
expect_exit 2 "patch with a bad --copy-in" "$BOXWRIGHT" patch "$FIXTURES/nano-nowin.vhd" --copy-in nocolon -o "$SCRATCH/x.vhd"
[ -e "$SCRATCH/x.vhd" ] && bad "a refused patch left an output" || ok "no output after refused patches"
expect_exit 2 "convert with no OUT" "$BOXWRIGHT" convert "$FIXTURES/nano-nowin.vhd"
expect_exit 2 "inspect without IMAGE" "$BOXWRIGHT" inspect
expect_exit 2 "inspect with a bad option" "$BOXWRIGHT" inspect --frob x
expect_exit 1 "inspect of a missing file" "$BOXWRIGHT" inspect "$SCRATCH/nope.vhd"
[ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -q "^boxwright: $SCRATCH/nope.vhd: cannot open" "$SCRATCH/err" \
  && ok "one-line error naming the file" || bad "one-line error naming the file: $(cat "$SCRATCH/err")"
# --size near 2^64 must not wrap to a small size when rounded to whole MiB
need_fixture nano-base.vhd
expect_exit 2 "build --size 2^64-1" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/s.box" --size 18446744073709551615
grep -q -- "--size 18446744073709551615: a box disk holds 16 MiB to 2 TiB (MBR's limit, kept for GPT too)" "$SCRATCH/err" && ok "the size error quotes --size as given" || bad "size error: $(cat "$SCRATCH/err")"
[ -e "$SCRATCH/s.box" ] && bad "a refused build left a box" || ok "no box after a refused --size"
expect_exit 2 "build --base-url ''" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/s.box" --catalog "$SCRATCH/c.json" --box-name a --box-version 1 --base-url ''
finish
