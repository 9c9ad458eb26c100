#!/usr/bin/env bash
# Damaged NTFS volumes through the native backend (libntfs-3g in process):
# `patch IMG -o OUT --winrm` and `build IMG -o OUT.box --winrm` each give
# exit 3, exactly one line on stderr naming the input image (volumes are
# labelled "IMAGE: partition N"), no output file, within a timeout, never a
# signal.  Which layer catches the damage (our own NTFS reader in src/ntfs,
# or libntfs-3g) is not asserted: only the contract is.
#
# The damaged images are raw copies of nano-base with one thing broken by
# ntfs_corrupt.py (MFT records re-protected with their update sequence, so
# that only the damage asked for is there).  A volume only marked dirty
# (the $Volume flag, which ntfs-3g mounts) must still work.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
CORRUPT=$SRCDIR/tests/e2e/ntfs_corrupt.py
SYSTEM=/Windows/System32/config/SYSTEM
base=$SCRATCH/base.raw
"$BOXWRIGHT" convert "$FIXTURES/nano-base.vhd" -O raw "$base" 2>"$SCRATCH/err" ||
  { echo "cannot convert nano-base.vhd: $(cat "$SCRATCH/err")"; exit 99; }
poff=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(512*struct.unpack_from('<I',d,0x1BE+8)[0])" "$base")

# make NAME ACTION [ARG]: $SCRATCH/NAME.raw = base with ACTION applied
make_img() {
  local f=$SCRATCH/$1.raw; shift
  cp --sparse=always "$base" "$f"
  $PY "$CORRUPT" "$f" "$poff" "$@" || { echo "ntfs_corrupt.py $* failed"; exit 99; }
}

# run_cmd KIND IMG OUTDIR: patch or build IMG into the empty OUTDIR.  No
# file may grow past 8 GiB (the working partition is 4 GiB): a reader that
# believes a bogus size gets SIGXFSZ instead of filling the disk; its
# temporary files (TMPDIR) are in $SCRATCH, which is removed on exit.
run_cmd() {
  local kind=$1 img=$2 dir=$3 out
  rm -rf "$dir" "$SCRATCH/tmp"; mkdir -p "$dir" "$SCRATCH/tmp"
  if [ "$kind" = patch ]; then out=$dir/out.raw; else out=$dir/out.box; fi
  ( ulimit -f $((8 << 20)); TMPDIR=$SCRATCH/tmp exec timeout 60 "$BOXWRIGHT" "$kind" "$img" -o "$out" \
      --winrm --backend native ) >"$SCRATCH/out" 2>"$SCRATCH/err"
}

# refused NAME: both commands on $SCRATCH/NAME.raw keep the contract
refused() {
  local name=$1 img=$SCRATCH/$1.raw kind rc
  for kind in patch build; do
    local dir=$SCRATCH/out-$name-$kind what="$name ($kind)"
    run_cmd "$kind" "$img" "$dir"; rc=$?
    if [ "$rc" -ge 124 ]; then
      bad "$what: exit $rc (timeout or signal): $(head -c 300 "$SCRATCH/err")"
    elif [ "$rc" -ne 3 ]; then
      bad "$what: exit $rc, expected 3: $(head -c 300 "$SCRATCH/err")"
    elif [ "$(wc -l < "$SCRATCH/err")" -ne 1 ]; then
      bad "$what: error is not one line:"; sed 's/^/  stderr: /' "$SCRATCH/err"
    elif ! grep -q "^boxwright: $img: " "$SCRATCH/err"; then
      bad "$what: error does not name the image: $(cat "$SCRATCH/err")"
    elif [ -n "$(ls -A "$dir")" ]; then
      bad "$what: left files behind: $(ls -A "$dir" | tr '\n' ' ')"
    elif [ -n "$(ls -A "$SCRATCH/tmp")" ]; then
      bad "$what: left temporary files behind: $(ls -AR "$SCRATCH/tmp" | tr '\n' ' ')"
    else
      ok "$what: $(cat "$SCRATCH/err")"
    fi
  done
  rm -f "$img"
}

# The untouched copy works (else the cases below prove nothing).
cp --sparse=always "$base" "$SCRATCH/intact.raw"
for kind in patch build; do
  run_cmd "$kind" "$SCRATCH/intact.raw" "$SCRATCH/out-intact"
  rc=$?; [ $rc -eq 0 ] && ok "intact copy ($kind)" || bad "intact copy ($kind): exit $rc: $(cat "$SCRATCH/err")"
done
rm -f "$SCRATCH/intact.raw"

# 1. Corrupt MFT records: the hive's own and that of the \Windows directory.
make_img sys-magic record-magic "$SYSTEM";       refused sys-magic
make_img sys-fixup record-fixup "$SYSTEM";       refused sys-fixup
make_img win-magic record-magic /Windows;        refused win-magic
make_img win-fixup record-fixup /Windows;        refused win-fixup
make_img sys-unused record-unused "$SYSTEM";     refused sys-unused
# A hive with no unnamed $DATA (libntfs-3g says ENOENT): corrupt, not absent.
make_img sys-nodata no-data "$SYSTEM";           refused sys-nodata

# 2. A $Bitmap shorter than the volume (record 6's $DATA sizes shrunk).
make_img bitmap-short bitmap-short;              refused bitmap-short

# 3. The SYSTEM hive's data runs: across the volume's end, and far past it.
make_img runs-past-end runs-past-end "$SYSTEM";  refused runs-past-end
make_img runs-beyond runs-beyond "$SYSTEM";      refused runs-beyond
# ... and a data size of 1 TiB over its 40 KiB allocation: libntfs-3g
# reads that as zeros without end (it used to hang, filling the disk).
make_img size-1t sizes "$SYSTEM" 40960,0x10000000000,40960;  refused size-1t

# 4. A hibernated Windows: hiberfil.sys in the root starting with "hibr",
# put there by boxwright itself.
mkdir -p "$SCRATCH/hib"
$PY -c "import sys; open(sys.argv[1], 'wb').write(b'hibr' + bytes(65532))" "$SCRATCH/hib/hiberfil.sys"
if "$BOXWRIGHT" patch "$base" -o "$SCRATCH/hibernated.raw" --backend native \
     --copy-in "$SCRATCH/hib/hiberfil.sys:/" --quiet 2>"$SCRATCH/err"; then
  refused hibernated
else
  bad "cannot make the hibernated image: $(cat "$SCRATCH/err")"
fi

# 5. A $LogFile that is not clean: restart pages of an open journal.
make_img logfile-unclean logfile-unclean;        refused logfile-unclean

# $Volume changed in $MFT but not in $MFTMirr: ntfs-3g refuses to mount.
make_img mftmirr-mismatch volume-dirty-nomirror; refused mftmirr-mismatch

# A volume only marked dirty works, and stays dirty: Windows asked for a
# check at its next boot, and the box keeps that request.
make_img vol-dirty volume-dirty
for kind in patch build; do
  dir=$SCRATCH/out-dirty-$kind
  run_cmd "$kind" "$SCRATCH/vol-dirty.raw" "$dir"; rc=$?
  if [ $rc -ne 0 ]; then
    bad "dirty volume ($kind): exit $rc: $(cat "$SCRATCH/err")"; continue
  fi
  out=$dir/out.raw
  if [ "$kind" = build ]; then
    tar -xf "$dir/out.box" -C "$dir" box-disk001.vmdk && out=$dir/box-disk001.vmdk
  fi
  if "$BOXWRIGHT" inspect "$out" 2>&1 | grep -q 'state: DIRTY,'; then
    ok "dirty volume ($kind): works, the output volume is still marked dirty"
  else
    bad "dirty volume ($kind): the output volume is not marked dirty: $("$BOXWRIGHT" inspect "$out" 2>&1 | grep 'state:')"
  fi
  rm -rf "$dir"
done
# The sandbox backend treats that flag the same way (one appliance launch).
mkdir -p "$SCRATCH/out-dirty-sandbox"
if timeout 300 "$BOXWRIGHT" build "$SCRATCH/vol-dirty.raw" -o "$SCRATCH/out-dirty-sandbox/out.box" \
     --winrm --sandbox --quiet 2>"$SCRATCH/err" >/dev/null &&
   tar -xf "$SCRATCH/out-dirty-sandbox/out.box" -C "$SCRATCH/out-dirty-sandbox" box-disk001.vmdk &&
   "$BOXWRIGHT" inspect "$SCRATCH/out-dirty-sandbox/box-disk001.vmdk" 2>&1 | grep -q 'state: DIRTY,'; then
  ok "dirty volume (build --sandbox): works, still marked dirty"
else
  bad "dirty volume (build --sandbox): $(cat "$SCRATCH/err")"
fi
finish
