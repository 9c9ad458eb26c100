# Shared by the e2e tests: paths, a scratch dir removed on exit, assertions.
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.
set -u
: "${BOXWRIGHT:?run through make check}" "${FIXTURES:?}" "${SRCDIR:?}"
BUILDDIR=$(dirname "$BOXWRIGHT")
PY=/usr/bin/python3          # Debian's: python3-libvhdi/libvmdk live there
SCRATCH=$(mktemp -d "${TMPDIR:-/var/tmp}/bw-e2e.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
FAILS=0
CHECKS=0
SKIPS=0
ok()   { CHECKS=$((CHECKS + 1)); echo "ok - $*"; }
bad()  { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); echo "not ok - $*"; }
need_fixture() { [ -f "$FIXTURES/$1" ] || { echo "fixture $1 missing: fixtures were not built"; exit 99; }; }
# expect_exit CODE DESCRIPTION CMD...: run CMD, check its exit status
expect_exit() {
  local want=$1 what=$2; shift 2
  "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"; local got=$?
  if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, expected $want"; sed 's/^/  stderr: /' "$SCRATCH/err"; fi
}
# skip_part WHY: a part of the test did not run.  The test then reports
# SKIP (automake's 77) unless something failed: a PASS means every part ran.
skip_part() { SKIPS=$((SKIPS + 1)); echo "skip - $*"; }
finish() {
  echo "$CHECKS checks, $FAILS failed, $SKIPS parts skipped"
  [ "$CHECKS" -gt 0 ] || { echo "no checks ran"; exit 1; }
  [ "$FAILS" -eq 0 ] || exit 1
  [ "$SKIPS" -eq 0 ] || exit 77
}
# volcompare WHAT IN OUT [volcompare.py options]: every file of every volume
# of disk OUT against IN (tests/e2e/volcompare.py: paths, contents, named
# streams, hard links, attributes; the non-NTFS partitions byte for byte).
# --allow PATTERN names what the edits change; --special N asks that input
# partition N hold the fixtures' hard links, streams, compressed and sparse
# files.  Needs root (loop devices, FUSE): else a skipped part.
volcompare() {
  local what=$1; shift
  "$PY" "$SRCDIR/tests/e2e/volcompare.py" "$@" > "$SCRATCH/volcompare.out" 2>&1; local rc=$?
  sed 's/^/  /' "$SCRATCH/volcompare.out"
  case $rc in
    0) ok "$what: every file of every volume as in the input (but the allowed edits)" ;;
    77) skip_part "$what: volcompare could not run: $(tail -n 1 "$SCRATCH/volcompare.out")" ;;
    *) bad "$what: volcompare found differences (exit $rc)" ;;
  esac
}
# what the hive edits (WinRM, hardware UUID, computer name) change
HIVES_EDITED=(--allow 'Windows/System32/config/SYSTEM' --allow 'Windows/System32/config/SOFTWARE')
# what --setup-complete / --first-boot-ps1 add
SETUP_SCRIPTS=(--allow 'Windows/Setup' --allow 'Windows/Setup/Scripts' --allow 'Windows/Setup/Scripts/*')
# vmdkinfo_check WHAT VMDK TYPE SIZE: libvmdk's vmdkinfo reads VMDK as disk
# type TYPE ("Monolithic sparse", "Stream optimized") of SIZE bytes.
vmdkinfo_check() {
  local what=$1 vmdk=$2 type=$3 size=$4 v
  if vmdkinfo "$vmdk" >"$SCRATCH/vmdkinfo" 2>&1; then
    grep -q "Disk type:[[:space:]]*$type" "$SCRATCH/vmdkinfo" && ok "$what: vmdkinfo: $type" ||
      bad "$what: vmdkinfo disk type: $(grep 'Disk type' "$SCRATCH/vmdkinfo"), expected $type"
    v=$(sed -n 's/.*Media size[^(]*(\([0-9]*\) bytes).*/\1/p' "$SCRATCH/vmdkinfo" | head -1)
    [ "$v" = "$size" ] && ok "$what: vmdkinfo media size $v" || bad "$what: vmdkinfo media size '$v', expected $size"
  else
    bad "$what: vmdkinfo"; sed 's/^/  /' "$SCRATCH/vmdkinfo"
  fi
}
# libvmdk_sha256 VMDK: the SHA-256 of the disk's content as libvmdk
# (python3-libvmdk's pyvmdk) reads it; fails on a short read.  Callers check
# first that pyvmdk imports.
libvmdk_sha256() {
  "$PY" - "$1" <<'PYEOF'
import hashlib, sys, pyvmdk
h = pyvmdk.handle()
h.open(sys.argv[1])
h.open_extent_data_files()
size, off, d = h.get_media_size(), 0, hashlib.sha256()
while off < size:
    n = min(4 << 20, size - off)
    b = h.read_buffer_at_offset(n, off)
    if len(b) != n:
        sys.exit("short read at %d" % off)
    d.update(b)
    off += n
h.close()
print(d.hexdigest())
PYEOF
}
