#!/usr/bin/env bash
# boxwright convert -O qcow2 against qemu-img, on the nano-base fixture:
# by extension and by -O; qemu-img check clean (no corruption, no leaks);
# qemu-img compare identical to the VHD, and with --sparsify identical to
# boxwright's own --sparsify raw; qemu-img info says qcow2, compat 1.1,
# zlib, 16-bit refcounts and the virtual size; the file smaller than the
# raw data it holds; no temporary file left.
. "$SRCDIR/tests/e2e/lib.sh"
f=nano-base.vhd
need_fixture "$f"
img=$FIXTURES/$f

qemu-img convert -f vpc -O raw "$img" "$SCRATCH/qemu.raw" || { bad "$f: qemu-img convert"; finish; exit; }
want_size=$(stat -c %s "$SCRATCH/qemu.raw")
rm -f "$SCRATCH/qemu.raw"

# check_qcow2 LABEL FILE: qemu-img check and info.
check_qcow2() {
  local what=$1 out=$2
  qemu-img check -f qcow2 "$out" >"$SCRATCH/check" 2>&1
  local rc=$?
  if [ $rc -eq 0 ] && grep -q 'No errors were found on the image' "$SCRATCH/check" && ! grep -qi 'leak' "$SCRATCH/check"; then
    ok "$what: qemu-img check: no errors, no leaks ($(grep -o '[0-9.]*% compressed clusters' "$SCRATCH/check"))"
  else
    bad "$what: qemu-img check (exit $rc)"; sed 's/^/  /' "$SCRATCH/check"
  fi
  if qemu-img info --output=json "$out" >"$SCRATCH/info.json" 2>&1; then
    $PY - "$SCRATCH/info.json" "$want_size" <<'EOF' >"$SCRATCH/info.txt" 2>&1 && ok "$what: qemu-img info: $(cat "$SCRATCH/info.txt")" || bad "$what: qemu-img info: $(cat "$SCRATCH/info.txt")"
import json, sys
j = json.load(open(sys.argv[1]))
d = j.get("format-specific", {}).get("data", {})
got = (j.get("format"), d.get("compat"), d.get("compression-type"), d.get("refcount-bits"), j.get("virtual-size"))
want = ("qcow2", "1.1", "zlib", 16, int(sys.argv[2]))
print("format %s, compat %s, compression %s, refcount bits %s, virtual size %s" % got)
sys.exit(0 if got == want else 1)
EOF
  else
    bad "$what: qemu-img info"; sed 's/^/  /' "$SCRATCH/info.json"
  fi
}

# Plain: the format from the extension, the data equal to the VHD's.
out=$SCRATCH/plain.qcow2
expect_exit 0 "$f: convert to .qcow2" "$BOXWRIGHT" convert --quiet --json "$img" "$out"
fmt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["output_format"])' "$SCRATCH/out" 2>/dev/null)
[ "$fmt" = qcow2 ] && ok "plain: JSON output_format qcow2" || bad "plain: JSON output_format '$fmt'"
check_qcow2 plain "$out"
qemu-img compare -f vpc "$img" -F qcow2 "$out" >"$SCRATCH/cmp" 2>&1 && ok "plain: qemu-img compare: identical to the VHD" || { bad "plain: qemu-img compare"; sed 's/^/  /' "$SCRATCH/cmp"; }

# Raw used data: what boxwright's sparse raw output allocates.
expect_exit 0 "$f: convert to raw" "$BOXWRIGHT" convert --quiet "$img" "$SCRATCH/plain.raw"
used=$(du -B1 "$SCRATCH/plain.raw" | cut -f1)
size=$(stat -c %s "$out")
[ "$size" -lt "$used" ] && ok "plain: $size bytes of qcow2 for $used bytes of raw data" || bad "plain: qcow2 is $size bytes, raw data $used"
rm -f "$SCRATCH/plain.raw"

# -O qcow2 under another extension.
expect_exit 0 "$f: convert -O qcow2 to .img" "$BOXWRIGHT" convert --quiet -O qcow2 "$img" "$SCRATCH/byopt.img"
if [ -f "$SCRATCH/byopt.img" ]; then
  [ "$(qemu-img info --output=json "$SCRATCH/byopt.img" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')" = qcow2 ] \
    && ok "-O qcow2: qemu-img probes qcow2" || bad "-O qcow2: not probed as qcow2"
  cmp -s "$out" "$SCRATCH/byopt.img" && ok "-O qcow2: the same bytes as by extension" || bad "-O qcow2: bytes differ from the .qcow2"
  rm -f "$SCRATCH/byopt.img"
fi
rm -f "$out"

# --sparsify: equal to boxwright's own --sparsify raw.
sq=$SCRATCH/sparse.qcow2 sr=$SCRATCH/sparse.raw
expect_exit 0 "$f: convert --sparsify to .qcow2" "$BOXWRIGHT" convert --quiet --sparsify "$img" "$sq"
expect_exit 0 "$f: convert --sparsify to raw" "$BOXWRIGHT" convert --quiet --sparsify "$img" "$sr"
check_qcow2 sparsify "$sq"
qemu-img compare -f raw "$sr" -F qcow2 "$sq" >"$SCRATCH/cmp" 2>&1 && ok "sparsify: qemu-img compare: identical to the --sparsify raw" || { bad "sparsify: qemu-img compare"; sed 's/^/  /' "$SCRATCH/cmp"; }
used=$(du -B1 "$sr" | cut -f1)
size=$(stat -c %s "$sq")
[ "$size" -lt "$used" ] && ok "sparsify: $size bytes of qcow2 for $used bytes of raw data" || bad "sparsify: qcow2 is $size bytes, raw data $used"

ls -a "$SCRATCH" | grep -q boxwright- && bad "temporary file left behind" || ok "no temporary file left"
finish
