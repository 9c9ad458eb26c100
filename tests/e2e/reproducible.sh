#!/usr/bin/env bash
# build --reproducible (native backend): two builds of the same input and
# options give byte-identical boxes (sha256sum), with hives and files
# written into the image (--winrm --hostname, a SetupComplete.cmd, a
# first-boot script, --copy-in into new directories, --new-signature), for
# VirtualBox and libvirt, and with SOURCE_DATE_EPOCH (which implies it);
# an AES-SAM image with --admin-password too (the hash's salt and the
# password's set time).  A changed option (--hostname) or epoch gives
# another box; without --reproducible two builds differ.  The files
# written carry the epoch as their times (ntfsinfo, not our code), the
# tar members' mtime is the epoch (tar), and --sandbox is refused (exit 2).
# Builds run a few seconds apart so that any clock-derived byte shows.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
IN=$FIXTURES/nano-base.vhd
printf 'echo setup\n' > "$SCRATCH/sc.cmd"
printf 'Write-Output first-boot\n' > "$SCRATCH/fb.ps1"
echo payload > "$SCRATCH/pay.txt"
EDITS=(--winrm --setup-complete "$SCRATCH/sc.cmd" --first-boot-ps1 "$SCRATCH/fb.ps1"
       --copy-in "$SCRATCH/pay.txt:\\NewDir\\Sub" --new-signature --quiet)

# build NAME ARGS...: IN -> $SCRATCH/NAME.box (or NAME-PROVIDER.box)
build() {
  local name=$1; shift
  "$BOXWRIGHT" build "$IN" -o "$SCRATCH/$name.box" "$@" 2>"$SCRATCH/err" \
    || { bad "build $name: exit $?"; sed 's/^/  stderr: /' "$SCRATCH/err"; return 1; }
}
sum() { sha256sum "$SCRATCH/$1.box" 2>/dev/null | cut -d' ' -f1; }
same() { [ -n "$(sum "$1")" ] && [ "$(sum "$1")" = "$(sum "$2")" ] && ok "$3" || bad "$3: $(sum "$1") vs $(sum "$2")"; }
differ() { [ -n "$(sum "$1")" ] && [ -n "$(sum "$2")" ] && [ "$(sum "$1")" != "$(sum "$2")" ] && ok "$3" || bad "$3: both $(sum "$1")"; }

build r1 --reproducible --hostname H1 --provider virtualbox,libvirt "${EDITS[@]}"
sleep 2
build r2 --reproducible --hostname H1 --provider virtualbox,libvirt "${EDITS[@]}"
same r1-virtualbox r2-virtualbox "--reproducible twice: the same VirtualBox box"
same r1-libvirt r2-libvirt "--reproducible twice: the same libvirt box"
build h2 --reproducible --hostname H2 "${EDITS[@]}"
differ r1-virtualbox h2 "another --hostname: another box"
build v1 --reproducible --hostname H1 "${EDITS[@]}"
same r1-virtualbox v1 "--provider virtualbox alone gives the VirtualBox box of virtualbox,libvirt"
build t1 --reproducible --hostname H1 --threads 1 --catalog "$SCRATCH/catalog.json" --box-name n --box-version 1 "${EDITS[@]}"
same v1 t1 "--threads and --catalog change no byte of the box"

SOURCE_DATE_EPOCH=1700000000 build e1 --hostname H1 "${EDITS[@]}"
sleep 2
SOURCE_DATE_EPOCH=1700000000 build e2 --hostname H1 "${EDITS[@]}"
same e1 e2 "SOURCE_DATE_EPOCH twice (no --reproducible): the same box"
differ e1 v1 "another epoch: another box"
# the tar members carry the epoch
mt=$(TZ=UTC tar --full-time -tvf "$SCRATCH/e1.box" 2>/dev/null | awk '{print $4 "T" $5}' | sort -u)
[ "$mt" = "2023-11-14T22:13:20" ] && ok "tar members' mtime = SOURCE_DATE_EPOCH" || bad "tar mtimes: $mt"

build n1 --hostname H1 "${EDITS[@]}"
sleep 1
build n2 --hostname H1 "${EDITS[@]}"
differ n1 n2 "without --reproducible two builds differ (random identities)"

# The times of what was written, read by ntfsinfo out of the built disk.
mkdir -p "$SCRATCH/x" && tar xf "$SCRATCH/e1.box" -C "$SCRATCH/x" box-disk001.vmdk &&
  qemu-img convert -O raw "$SCRATCH/x/box-disk001.vmdk" "$SCRATCH/disk.raw" && rm -rf "$SCRATCH/x" &&
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+8))" "$SCRATCH/disk.raw") &&
  dd if="$SCRATCH/disk.raw" of="$SCRATCH/part.img" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) \
     count=$((sectors * 512)) conv=sparse status=none && rm -f "$SCRATCH/disk.raw" ||
  bad "reading the built disk"
if command -v ntfsinfo > /dev/null && [ -f "$SCRATCH/part.img" ]; then
  want="Tue Nov 14 22:13:20 2023 UTC"
  for f in /Windows/Setup/Scripts/SetupComplete.cmd /Windows/Setup/Scripts/first-boot.ps1 /NewDir /NewDir/Sub/pay.txt; do
    # $STANDARD_INFORMATION's four times and $FILE_NAME's four
    got=$(ntfsinfo -F "$f" "$SCRATCH/part.img" 2>/dev/null | grep -E 'Time:' | sed 's/.*Time:[[:space:]]*//' | sort | uniq -c)
    [ "$(echo "$got" | wc -l)" -eq 1 ] && [ "$(echo "$got" | awk '{print $1}')" -eq 8 ] && echo "$got" | grep -qF "$want" \
      && ok "$f: its 8 NTFS times are SOURCE_DATE_EPOCH" || bad "$f: times $got"
  done
  # an existing file keeps its creation time, takes the epoch as modified
  got=$(ntfsinfo -F /Windows/System32/config/SOFTWARE "$SCRATCH/part.img" 2>/dev/null | grep -m2 -E 'Altered Time:|MFT Changed Time:' | sed 's/.*Time:[[:space:]]*//' | sort -u)
  [ "$got" = "$want" ] && ok "SOFTWARE (edited): modified and changed at SOURCE_DATE_EPOCH" || bad "SOFTWARE times: $got"
else
  skip_part "ntfsinfo (ntfs-3g) missing"
fi

# --admin-password on an AES SAM (tests/e2e/mksam.py, as admin-password.sh)
if $PY -c 'import hivex, Cryptodome, impacket' 2>/dev/null; then
  mkdir -p "$SCRATCH/h"
  if $PY "$SRCDIR/tests/e2e/mksam.py" "$SCRATCH/h" --key aes --admin hash > /dev/null &&
     "$BOXWRIGHT" patch "$IN" -o "$SCRATCH/sam.vhd" --quiet --copy-in "$SCRATCH/h/SAM:\\Windows\\System32\\config" \
       --copy-in "$SCRATCH/h/SYSTEM:\\Windows\\System32\\config"; then
    IN=$SCRATCH/sam.vhd
    build s1 --reproducible --admin-password 'S3cret!' --first-boot-ps1 "$SCRATCH/fb.ps1" --quiet
    sleep 2
    build s2 --reproducible --admin-password 'S3cret!' --first-boot-ps1 "$SCRATCH/fb.ps1" --quiet
    same s1 s2 "--reproducible --admin-password twice: the same box"
    build s3 --reproducible --admin-password 'S3cret?' --first-boot-ps1 "$SCRATCH/fb.ps1" --quiet
    differ s1 s3 "another password: another box"
    IN=$FIXTURES/nano-base.vhd
  else
    bad "an image with an AES SAM"
  fi
else
  skip_part "--admin-password: needs python3-hivex and python3-impacket"
fi

expect_exit 2 "--reproducible --sandbox is refused before the image is read" \
  "$BOXWRIGHT" build "$SCRATCH/missing.vhd" -o "$SCRATCH/s.box" --reproducible --sandbox
grep -q "reproducible.*sandbox" "$SCRATCH/err" && ok "the message says why" || bad "error: $(cat "$SCRATCH/err")"
SOURCE_DATE_EPOCH=yesterday expect_exit 2 "a SOURCE_DATE_EPOCH that is not a number" \
  "$BOXWRIGHT" build "$IN" -o "$SCRATCH/s.box"
grep -q "SOURCE_DATE_EPOCH 'yesterday'" "$SCRATCH/err" && ok "the message names it" || bad "error: $(cat "$SCRATCH/err")"
finish
