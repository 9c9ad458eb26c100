#!/usr/bin/env bash
# batch: a build job's "provider" list (issue 17) -- ["virtualbox",
# "libvirt"] or "virtualbox,libvirt" -- builds one box per provider in one
# job; the result line lists each box with its size and sha256 (checked
# with Python's hashlib), and each box holds its provider's metadata.json
# (read with tar, not our code).  "provider" on a patch job, or a list
# that is not names, is a bad manifest (exit 3, naming the line) before
# any job runs.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
cat > "$SCRATCH/m.jsonl" <<'EOJ'
{"command":"build","input":"@FIX@","output":"two.box","provider":["virtualbox","libvirt"],"options":["--winrm","--size","2G","--hardware-uuid","none"]}
EOJ
sed -i "s|@FIX@|$FIXTURES/nano-base.vhd|" "$SCRATCH/m.jsonl"
expect_exit 0 "batch: one build job with two providers" "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"
$PY - "$SCRATCH/out" "$SCRATCH" <<'PYEOF' && ok "the result lists both boxes, sizes and sha256 right" || bad "result: $(cat "$SCRATCH/out")"
import hashlib, json, os, sys
l = json.loads(open(sys.argv[1]).read()); d = sys.argv[2]
assert l["status"] == "ok" and l["exit"] == 0, l
got = {b["provider"]: b for b in l["boxes"]}
assert sorted(got) == ["libvirt", "virtualbox"], got
for p, b in got.items():
    path = os.path.join(d, "two-%s.box" % p)
    assert b["output"] == path, (b, path)
    assert b["output_size"] == os.path.getsize(path), b
    assert b["sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest(), b
PYEOF
for p in virtualbox libvirt; do
  tar xOf "$SCRATCH/two-$p.box" metadata.json 2>/dev/null | $PY -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["provider"]==sys.argv[1] else 1)' "$p" \
    && ok "two-$p.box is a $p box" || bad "two-$p.box: no $p metadata.json"
done
rm -f "$SCRATCH"/two-*.box
# the comma form is the same list
printf '{"command":"build","input":"%s","output":"c.box","provider":"virtualbox,libvirt","options":["--size","1G"]}\n' "$FIXTURES/missing.vhd" > "$SCRATCH/c.jsonl"
expect_exit 1 "batch: \"provider\" as a comma list reaches build (whose input is missing)" "$BOXWRIGHT" batch "$SCRATCH/c.jsonl"
grep -q '"error":"boxwright: .*missing.vhd' "$SCRATCH/out" && ok "the job ran build, which names its input" || bad "result: $(cat "$SCRATCH/out")"
# refusals of the manifest itself
printf '{"command":"patch","input":"a.vhd","output":"b.vhd","provider":"libvirt","options":["--winrm"]}\n' > "$SCRATCH/p.jsonl"
expect_exit 3 "\"provider\" on a patch job" "$BOXWRIGHT" batch "$SCRATCH/p.jsonl"
grep -q "p.jsonl:1: \"provider\" is for build jobs only" "$SCRATCH/err" && ok "named, with the line" || bad "error: $(cat "$SCRATCH/err")"
printf '{"command":"build","input":"a.vhd","output":"b.box","provider":[1]}\n' > "$SCRATCH/n.jsonl"
expect_exit 3 "\"provider\": [1]" "$BOXWRIGHT" batch "$SCRATCH/n.jsonl"
grep -q "n.jsonl:1: \"provider\" item 0 is not a provider name" "$SCRATCH/err" && ok "named, with the line" || bad "error: $(cat "$SCRATCH/err")"
finish
