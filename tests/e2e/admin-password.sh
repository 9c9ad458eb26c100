#!/usr/bin/env bash
# --admin-password through the whole command (patch and build, native
# backend): an image whose SAM and SYSTEM come from tests/e2e/mksam.py
# (an AES SAM and an RC4 one) is patched; the SAM and SYSTEM read back
# out of the OUTPUT image (ntfscat, not our code) give impacket's
# secretsdump RID 500's NT hash = MD4(UTF-16LE(P)); build writes a box
# whose Vagrantfile logs in with P; an image without a SAM is refused
# (exit 3: the fixture's SYSTEM holds no boot key) and a bad password is a usage error before the image is read.
. "$SRCDIR/tests/e2e/lib.sh"
SECRETSDUMP=/usr/share/doc/python3-impacket/examples/secretsdump.py
if ! $PY -c 'import hivex, Cryptodome, impacket' 2>/dev/null || [ ! -f "$SECRETSDUMP" ]; then
  echo "SKIP: needs python3-hivex and python3-impacket (Debian)"; exit 77
fi
need_fixture nano-base.vhd
PASSWORD='Vagr4nt-é!'
WANT=$($PY -c 'import sys; from Cryptodome.Hash import MD4; print(MD4.new(sys.argv[1].encode("utf-16-le")).hexdigest())' "$PASSWORD")

# partition 1 of IMAGE as part.img; FILE (exact case) out of it
part_of() {
  qemu-img convert -O raw "$1" "$SCRATCH/disk.raw" || return 1
  local start sectors
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+8))" "$SCRATCH/disk.raw")
  dd if="$SCRATCH/disk.raw" of="$SCRATCH/part.img" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
  rm -f "$SCRATCH/disk.raw"
}

for key in aes rc4; do
  d=$SCRATCH/$key && mkdir -p "$d/h"
  $PY "$SRCDIR/tests/e2e/mksam.py" "$d/h" --key $key --admin hash > /dev/null || { bad "$key: mksam.py"; continue; }
  # the fixture with this SAM and its SYSTEM (whose Lsa keys hold the boot key)
  expect_exit 0 "$key: an image with this SAM" "$BOXWRIGHT" patch "$FIXTURES/nano-base.vhd" -o "$d/in.vhd" --quiet \
    --copy-in "$d/h/SAM:\\Windows\\System32\\config" --copy-in "$d/h/SYSTEM:\\Windows\\System32\\config"
  expect_exit 0 "$key: patch --admin-password" "$BOXWRIGHT" patch "$d/in.vhd" -o "$d/out.vhd" --quiet --json --admin-password "$PASSWORD"
  $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["edits"]["admin_password_set"] is True else 1)' "$SCRATCH/out" \
    && ok "$key: --json says admin_password_set" || bad "$key: --json: $(cat "$SCRATCH/out")"
  part_of "$d/out.vhd" && ntfscat "$SCRATCH/part.img" /Windows/System32/config/SAM > "$d/SAM" &&
    ntfscat "$SCRATCH/part.img" /Windows/System32/config/SYSTEM > "$d/SYSTEM" || { bad "$key: reading the output's hives"; continue; }
  line=$($PY "$SECRETSDUMP" -sam "$d/SAM" -system "$d/SYSTEM" LOCAL 2>&1 | grep '^Administrator:500:')
  [ "$line" = "Administrator:500:aad3b435b51404eeaad3b435b51404ee:$WANT:::" ] \
    && ok "$key: secretsdump reads the new NT hash of RID 500" || bad "$key: secretsdump: $line"
done

# build: the Vagrantfile logs in with the password the image now has
if [ -f "$SCRATCH/aes/in.vhd" ]; then
  expect_exit 0 "build --admin-password" "$BOXWRIGHT" build "$SCRATCH/aes/in.vhd" -o "$SCRATCH/a.box" --quiet \
    --admin-password "$PASSWORD" --hardware-uuid none
  mkdir -p "$SCRATCH/box" && tar xf "$SCRATCH/a.box" -C "$SCRATCH/box" Vagrantfile 2>/dev/null
  grep -qF "config.winrm.password = \"$PASSWORD\"" "$SCRATCH/box/Vagrantfile" \
    && ok "the box's Vagrantfile logs in with it" || bad "Vagrantfile: $(grep -i password "$SCRATCH/box/Vagrantfile")"
fi
expect_exit 3 "an image without a SAM" "$BOXWRIGHT" patch "$FIXTURES/nano-base.vhd" -o "$SCRATCH/nosam.vhd" --quiet --admin-password x
grep -q "nano-base.vhd: .*SYSTEM: .*Lsa" "$SCRATCH/err" && [ "$(wc -l < "$SCRATCH/err")" -eq 1 ] \
  && ok "one line naming the image's SYSTEM hive, where the boot key is missing" || bad "error: $(cat "$SCRATCH/err")"
[ ! -e "$SCRATCH/nosam.vhd" ] && ok "no output left" || bad "an output was left"
expect_exit 2 "an empty password, before the image is read" "$BOXWRIGHT" patch "$SCRATCH/missing.vhd" -o "$SCRATCH/x.vhd" --admin-password ""
finish
