#!/usr/bin/env bash
# --admin-password through the whole command (patch and build, native
# backend): an image whose SAM and SYSTEM come from tests/e2e/mksam.py
# (an AES SAM and an RC4 one) is patched; the SAM and SYSTEM read back
# out of the OUTPUT image (ntfscat, not our code) give impacket's
# secretsdump RID 500's NT hash = MD4(UTF-16LE(P)); build writes a box
# whose Vagrantfile logs in with P, and the SAM and SYSTEM read out of
# the BOX's disk (qemu-img, ntfscat) give secretsdump the same hash, for
# both SAM revisions; in the patched and the built image RID 500 is
# enabled (F's ACB read with python3-hivex) and `hivexregedit --export`
# of the SAM before and after differs in exactly two values: V and F of
# SAM\Domains\Account\Users\000001F4.  An image without a SAM is refused
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

# hives DIR IMAGE: DIR/SAM and DIR/SYSTEM out of IMAGE's partition 1
hives() {
  mkdir -p "$1" && part_of "$2" && ntfscat "$SCRATCH/part.img" /Windows/System32/config/SAM > "$1/SAM" &&
    ntfscat "$SCRATCH/part.img" /Windows/System32/config/SYSTEM > "$1/SYSTEM" && rm -f "$SCRATCH/part.img"
}
# check_sam LABEL BEFORE-DIR AFTER-DIR: the hash, the account enabled,
# nothing else in the SAM changed
check_sam() {
  local label=$1 before=$2 after=$3 line acb
  line=$($PY "$SECRETSDUMP" -sam "$after/SAM" -system "$after/SYSTEM" LOCAL 2>&1 | grep '^Administrator:500:')
  [ "$line" = "Administrator:500:aad3b435b51404eeaad3b435b51404ee:$WANT:::" ] \
    && ok "$label: secretsdump reads the new NT hash of RID 500" || bad "$label: secretsdump: $line"
  acb=$($PY -c 'import sys, struct, hivex
h = hivex.Hivex(sys.argv[1]); n = h.root()
for c in ("SAM", "Domains", "Account", "Users", "000001F4"): n = h.node_get_child(n, c)
print(struct.unpack_from("<H", h.value_value(h.node_get_value(n, "F"))[1], 0x38)[0] & 0x411)' "$after/SAM")
  [ "$acb" = 16 ] && ok "$label: RID 500 enabled and unlocked (ACB 0x0010, normal account)" || bad "$label: ACB bits 0x411: $acb"
  hivexregedit --export "$before/SAM" '\' > "$before/SAM.reg" 2>/dev/null &&
    hivexregedit --export "$after/SAM" '\' > "$after/SAM.reg" 2>/dev/null || { bad "$label: hivexregedit --export"; return; }
  local got
  got=$($PY "$SRCDIR/tests/e2e/regdiff.py" "$before/SAM.reg" "$after/SAM.reg" | sed 's/ = .*//')
  local want='~ \SAM\Domains\Account\Users\000001F4\F
~ \SAM\Domains\Account\Users\000001F4\V'
  [ "$got" = "$want" ] && ok "$label: the SAM differs in exactly V and F of RID 500 (hivexregedit --export)" \
    || { bad "$label: SAM changes:"; echo "$got" | sed 's/^/    /'; }
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
  hives "$d/before" "$d/in.vhd" || { bad "$key: reading the input's hives"; continue; }
  hives "$d/patched" "$d/out.vhd" || { bad "$key: reading the output's hives"; continue; }
  check_sam "$key: patched" "$d/before" "$d/patched"
  # the same on a built box's disk
  expect_exit 0 "$key: build --admin-password" "$BOXWRIGHT" build "$d/in.vhd" -o "$d/b.box" --quiet \
    --admin-password "$PASSWORD" --hardware-uuid none
  mkdir -p "$d/box" && tar xf "$d/b.box" -C "$d/box" box-disk001.vmdk && hives "$d/built" "$d/box/box-disk001.vmdk" \
    && rm -rf "$d/box" || { bad "$key: reading the built box's hives"; continue; }
  check_sam "$key: built" "$d/before" "$d/built"
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
