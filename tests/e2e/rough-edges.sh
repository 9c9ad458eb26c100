#!/usr/bin/env bash
# Issue 19's rough edges, each with its message and exit status, as a user
# meets them: an edit refused by design exits 1 with a hint and no internal
# path; a catalog keeps one URL style (exit 2 before the build, naming the
# --base-url to give); --size's G is GiB; --memory names the option; -o in
# a missing directory fails before any work; a disk with no active
# partition is named so (not a "System Reserved" message); a volume
# Windows marked dirty builds with a warning and --strict refuses it
# (before the build: no box); batch records
# a job's first error line, not the "Try --help" after it.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
img=$FIXTURES/nano-base.vhd

# --- a .reg value over one hive cell: refused by design, exit 1 ---
$PY - "$SCRATCH/big.reg" <<'PYEOF'
import sys
hexdata = ",".join(["41"] * 20000)
open(sys.argv[1], "w").write('Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\BoxwrightTest]\r\n"Big"=hex:' + hexdata + '\r\n')
PYEOF
expect_exit 1 "patch --reg with a 20000-byte value (refused by design)" "$BOXWRIGHT" patch "$img" -o "$SCRATCH/big.vhd" --reg "$SCRATCH/big.reg"
[ "$(wc -l < "$SCRATCH/err")" -eq 1 ] && grep -q "^boxwright: $SCRATCH/big.reg:4: $img: \\\\Windows\\\\System32\\\\config\\\\SOFTWARE: BoxwrightTest: value \"Big\" holds 20000 bytes" "$SCRATCH/err" \
  && ok "one line naming the .reg line, the image and its hive" || bad "message: $(cat "$SCRATCH/err")"
grep -q "make the change at first boot instead (reg import" "$SCRATCH/err" && ok "with a hint" || bad "no hint: $(cat "$SCRATCH/err")"
grep -Eq "\.edit|boxwright-vm-|boxwright\.[A-Za-z0-9]{6}" "$SCRATCH/err" && bad "an internal path in the message: $(cat "$SCRATCH/err")" || ok "no internal path in the message"
[ ! -e "$SCRATCH/big.vhd" ] && ok "no output" || bad "an output was left"

# --- catalog URL style ---
sha=0000000000000000000000000000000000000000000000000000000000000000
cat > "$SCRATCH/web.json" <<EOJ
{"name":"t/nano","versions":[{"version":"1.0.0","providers":[{"name":"virtualbox","url":"https://boxes.example/nano/t-1.0.0.box","checksum_type":"sha256","checksum":"$sha"}]}]}
EOJ
cp "$SCRATCH/web.json" "$SCRATCH/web.orig"
start=$(date +%s)
expect_exit 2 "build into an https catalog without --base-url" "$BOXWRIGHT" build "$img" -o "$SCRATCH/w.box" --catalog "$SCRATCH/web.json" --box-name t/nano --box-version 1.1.0
grep -q "web.json: catalog: its boxes are served from https://boxes.example/nano/t-1.0.0.box (version 1.0.0, virtualbox), and this box would be a file:// URL on this machine: give --base-url https://boxes.example/nano/ " "$SCRATCH/err" \
  && ok "refused, naming the --base-url to give" || bad "message: $(cat "$SCRATCH/err")"
[ $(( $(date +%s) - start )) -lt 10 ] && [ ! -e "$SCRATCH/w.box" ] && ok "before the build: no box" || bad "a box was built or it took long"
cmp -s "$SCRATCH/web.json" "$SCRATCH/web.orig" && ok "the catalog is untouched" || bad "the catalog changed"
cat > "$SCRATCH/local.json" <<EOJ
{"name":"t/nano","versions":[{"version":"1.0.0","providers":[{"name":"virtualbox","url":"file:///srv/boxes/t-1.0.0.box","checksum_type":"sha256","checksum":"$sha"}]}]}
EOJ
expect_exit 2 "build into a file:// catalog with --base-url https" "$BOXWRIGHT" build "$img" -o "$SCRATCH/w.box" --catalog "$SCRATCH/local.json" --box-name t/nano --box-version 1.1.0 --base-url https://boxes.example/nano
grep -q "local.json: catalog: its boxes are local files (file:///srv/boxes/t-1.0.0.box, version 1.0.0), and this box would be served from https://boxes.example/nano/w.box" "$SCRATCH/err" \
  && ok "the reverse is refused too" || bad "message: $(cat "$SCRATCH/err")"

# --- sizes and options ---
expect_exit 2 "build --size 2049GB (2049 GiB: over 2 TiB)" "$BOXWRIGHT" build "$img" -o "$SCRATCH/s.box" --size 2049GB
grep -q -- "--size 2200096997376: a box disk holds 16 MiB to 2 TiB (MBR's limit, kept for GPT too)" "$SCRATCH/err" && ok "GB is GiB: 2049 x 2^30 bytes" || bad "message: $(cat "$SCRATCH/err")"
"$BOXWRIGHT" build --help | grep -q "powers of 1024 (40G," && ok "build --help says K/M/G/T are powers of 1024" || bad "build --help"
expect_exit 2 "build --memory lots" "$BOXWRIGHT" build "$img" -o "$SCRATCH/s.box" --memory lots
grep -q "^boxwright build: --memory 'lots': expected a number from 1 to " "$SCRATCH/err" && ok "names --memory and the range" || bad "message: $(cat "$SCRATCH/err")"
start=$(date +%s)
expect_exit 2 "build -o nodir/x.box" "$BOXWRIGHT" build "$img" -o "$SCRATCH/nodir/x.box"
grep -q "^boxwright build: $SCRATCH/nodir/x.box: cannot write there: directory $SCRATCH/nodir: No such file or directory" "$SCRATCH/err" \
  && [ $(( $(date +%s) - start )) -lt 10 ] && ok "refused before any work, naming the directory" || bad "message: $(cat "$SCRATCH/err")"
grep -q "boxwright-" "$SCRATCH/err" && bad "an internal temp name in the message" || ok "no internal temp name"

# --- no active partition ---
qemu-img convert -O raw "$img" "$SCRATCH/na.raw"
printf '\000' | dd of="$SCRATCH/na.raw" bs=1 seek=446 conv=notrunc status=none
expect_exit 3 "build of a disk with no active partition" "$BOXWRIGHT" build "$SCRATCH/na.raw" -o "$SCRATCH/na.box" --quiet
grep -q "^boxwright: $SCRATCH/na.raw: no partition is marked active" "$SCRATCH/err" && ! grep -qi "system reserved" "$SCRATCH/err" \
  && ok "named so, not as a System Reserved layout" || bad "message: $(cat "$SCRATCH/err")"
rm -f "$SCRATCH/na.raw"

# --- a volume Windows marked dirty: build warns; --strict refuses ---
qemu-img convert -O raw "$img" "$SCRATCH/d.raw"
poff=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(512*struct.unpack_from('<I',d,0x1BE+8)[0])" "$SCRATCH/d.raw")
$PY "$SRCDIR/tests/e2e/ntfs_corrupt.py" "$SCRATCH/d.raw" "$poff" volume-dirty || bad "ntfs_corrupt.py volume-dirty"
expect_exit 3 "build --strict of a dirty volume" "$BOXWRIGHT" build "$SCRATCH/d.raw" -o "$SCRATCH/d.box" --quiet --winrm --strict
grep -q "partition 1: Windows marked the NTFS volume dirty (it wants chkdsk): --strict refuses it" "$SCRATCH/err" && [ ! -e "$SCRATCH/d.box" ] \
  && ok "--strict: refused by name, no box" || bad "message: $(cat "$SCRATCH/err")"
expect_exit 0 "build of a dirty volume" "$BOXWRIGHT" build "$SCRATCH/d.raw" -o "$SCRATCH/d.box" --quiet --winrm --hardware-uuid none
grep -q "^boxwright: warning: $SCRATCH/d.raw: partition 1: Windows marked the NTFS volume dirty: every clone of the box will run chkdsk" "$SCRATCH/err" \
  && ok "built, with a warning" || bad "warning: $(cat "$SCRATCH/err")"
rm -f "$SCRATCH/d.raw" "$SCRATCH/d.box"

# --- batch keeps the job's first error line ---
printf '{"command":"build","input":"%s","output":"b.box","options":["--no-such-option"]}\n' "$img" > "$SCRATCH/m.jsonl"
expect_exit 1 "batch: a job with an unknown option" "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"
grep -q '"error":"boxwright build: unknown option or missing value '"'"'--no-such-option'"'"'"' "$SCRATCH/out" && ok "the result has the unknown-option line, not 'Try ...'" || bad "result: $(cat "$SCRATCH/out")"
finish
