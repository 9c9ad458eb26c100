#!/usr/bin/env bash
# Answer files: --unattend FILE must be well-formed XML (exit 2 before the
# image is read, naming the file, the line and libxml2's reason); with
# --admin-password, every answer file Windows Setup would find on the
# image (its implicit search order, any letter case) and the one
# --unattend puts, and the one SYSTEM's Setup\UnattendFile names, are
# read back from the volume, and an
# AdministratorPassword (plaintext or hidden) that differs, or a hidden
# one that cannot be compared, is a named warning; the same password is
# not.  Native backend, then the sandbox for one case.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
if ! $PY -c 'import hivex' 2>/dev/null; then
  echo "SKIP: needs python3-hivex (Debian) for a SAM"; exit 77
fi
P='Vagr4nt-é!'
hidden() { $PY -c 'import base64,sys; print(base64.b64encode((sys.argv[1]+sys.argv[2]).encode("utf-16-le")).decode())' "$1" "$2"; }
# answer FILE VALUE PLAINTEXT: an answer file setting the Administrator's password
answer() {
  cat > "$1" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<unattend xmlns="urn:schemas-microsoft-com:unattend">
  <settings pass="oobeSystem">
    <component name="Microsoft-Windows-Shell-Setup" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35" language="neutral" versionScope="nonSxS">
      <UserAccounts>
        <AdministratorPassword>
          <Value>$2</Value>
          <PlainText>$3</PlainText>
        </AdministratorPassword>
      </UserAccounts>
    </component>
  </settings>
</unattend>
EOF
}

# --- well-formedness, before any work (the image does not even exist) ---
printf '<unattend>\n  <settings pass="oobeSystem">\n  </setting>\n</unattend>\n' > "$SCRATCH/broken.xml"
expect_exit 2 "--unattend of broken XML" "$BOXWRIGHT" patch "$SCRATCH/missing.vhd" -o "$SCRATCH/x.vhd" --unattend "$SCRATCH/broken.xml"
grep -q "^boxwright patch: --unattend $SCRATCH/broken.xml: line 3: not well-formed XML (libxml2: Opening and ending tag mismatch: settings line 2 and setting)" "$SCRATCH/err" \
  && ok "the message names the file, line 3 and libxml2's reason" || bad "message: $(cat "$SCRATCH/err")"
echo "not XML at all" > "$SCRATCH/text.xml"
expect_exit 2 "build --unattend of a text file" "$BOXWRIGHT" build "$SCRATCH/missing.vhd" -o "$SCRATCH/x.box" --unattend "$SCRATCH/text.xml"
grep -q -- "--unattend $SCRATCH/text.xml: line 1: not well-formed XML" "$SCRATCH/err" \
  && ok "build: the same check" || bad "message: $(cat "$SCRATCH/err")"
[ ! -e "$SCRATCH/x.vhd" ] && [ ! -e "$SCRATCH/x.box" ] && ok "nothing written" || bad "an output was written"

# --- an image with a SAM, and an answer file of its own (mixed case) ---
mkdir -p "$SCRATCH/h" && $PY "$SRCDIR/tests/e2e/mksam.py" "$SCRATCH/h" --key aes --admin hash > /dev/null || { bad "mksam.py"; finish; }
answer "$SCRATCH/UNATTEND.XML" "Pass@word1" true
mkdir -p "$SCRATCH/sp" && cp "$SCRATCH/UNATTEND.XML" "$SCRATCH/sp/UNATTEND.XML"
expect_exit 0 "an image with a SAM and \\Windows\\System32\\Sysprep\\UNATTEND.XML" "$BOXWRIGHT" patch "$FIXTURES/nano-base.vhd" -o "$SCRATCH/in.vhd" --quiet \
  --copy-in "$SCRATCH/h/SAM:\\Windows\\System32\\config" --copy-in "$SCRATCH/h/SYSTEM:\\Windows\\System32\\config" \
  --copy-in "$SCRATCH/sp/UNATTEND.XML:\\windows\\system32\\SYSPREP"

expect_exit 0 "patch --admin-password over an image whose answer file sets another" \
  "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/o1.vhd" --quiet --admin-password "$P"
grep -q "^boxwright: warning: $SCRATCH/in.vhd: \\\\Windows\\\\System32\\\\SYSPREP\\\\UNATTEND.XML line 7: AdministratorPassword in pass oobeSystem sets another password; Windows Setup applies it at first boot, over --admin-password" "$SCRATCH/err" \
  && ok "warned: the file (any case), line and pass" || bad "warning: $(cat "$SCRATCH/err")"

# the same password, hidden as Windows SIM writes it: no warning
answer "$SCRATCH/same.xml" "$(hidden "$P" AdministratorPassword)" false
expect_exit 0 "--unattend with the same password, hidden" "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/o2.vhd" --quiet \
  --admin-password "$P" --unattend "$SCRATCH/same.xml" --copy-in "$SCRATCH/same.xml:\\Windows\\System32\\Sysprep"
# (--copy-in puts same.xml, not Unattend.xml: the Sysprep file still differs)
n=$(grep -c "boxwright: warning: .*AdministratorPassword" "$SCRATCH/err")
grep -q 'Panther\\Unattend.xml' "$SCRATCH/err" && bad "warned about the injected file with the same password: $(cat "$SCRATCH/err")" \
  || ok "no warning for the injected answer file with the same password"
[ "$n" -eq 1 ] && ok "one warning: the image's own Sysprep answer file" || bad "$n warnings: $(cat "$SCRATCH/err")"

# a different hidden password injected with --unattend: warned
answer "$SCRATCH/other.xml" "$(hidden other AdministratorPassword)" false
expect_exit 0 "--unattend with another password, hidden" "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/o3.vhd" --quiet \
  --admin-password "$P" --unattend "$SCRATCH/other.xml"
grep -q 'warning: .*\\Windows\\Panther\\unattend.xml line 7: AdministratorPassword in pass oobeSystem sets another password' "$SCRATCH/err" \
  && ok "the injected file is checked the same way" || bad "warning: $(cat "$SCRATCH/err")"
# a hidden value that is not what Setup writes: cannot be compared
answer "$SCRATCH/odd.xml" "bm90IGEgcGFzc3dvcmQ=" false
expect_exit 0 "--unattend with a hidden value without the suffix" "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/o4.vhd" --quiet \
  --admin-password "$P" --unattend "$SCRATCH/odd.xml"
grep -q 'warning: .*\\Windows\\Panther\\unattend.xml line 7: AdministratorPassword in pass oobeSystem holds a hidden (PlainText false) value that cannot be compared' "$SCRATCH/err" \
  && ok "a value that cannot be compared is warned about" || bad "warning: $(cat "$SCRATCH/err")"
# what was written is what was given (read back with ntfs-3g's ntfscat)
qemu-img convert -O raw "$SCRATCH/o3.vhd" "$SCRATCH/o3.raw" && start=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(struct.unpack_from('<I',d,0x1BE+8)[0])" "$SCRATCH/o3.raw") &&
  dd if="$SCRATCH/o3.raw" of="$SCRATCH/p.img" bs=1M iflag=skip_bytes skip=$((start * 512)) status=none &&
  ntfscat "$SCRATCH/p.img" /Windows/Panther/unattend.xml | cmp -s - "$SCRATCH/other.xml" \
  && ok "the injected answer file is in the image as given" || bad "the injected answer file differs"
rm -f "$SCRATCH/o3.raw" "$SCRATCH/p.img"
# the registry's Setup\UnattendFile (search order 1) names one more file
mkdir -p "$SCRATCH/custom" && answer "$SCRATCH/custom/answers.xml" "other" true
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\Setup]\r\n"UnattendFile"="C:\\\\Custom\\\\answers.xml"\r\n' > "$SCRATCH/setup.reg"
expect_exit 0 "an image whose Setup\\UnattendFile names C:\\Custom\\answers.xml" "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/reg.vhd" --quiet \
  --reg "$SCRATCH/setup.reg" --copy-in "$SCRATCH/custom/answers.xml:\\Custom"
expect_exit 0 "patch --admin-password over it" "$BOXWRIGHT" patch "$SCRATCH/reg.vhd" -o "$SCRATCH/o6.vhd" --quiet --admin-password "$P"
grep -q 'warning: .*: \\Custom\\answers.xml line 7: AdministratorPassword in pass oobeSystem sets another password' "$SCRATCH/err" \
  && ok "the file the registry names is checked" || bad "warning: $(cat "$SCRATCH/err")"
rm -f "$SCRATCH/reg.vhd" "$SCRATCH/o6.vhd"

# without --admin-password nothing is read or said
expect_exit 0 "--unattend alone" "$BOXWRIGHT" patch "$SCRATCH/in.vhd" -o "$SCRATCH/o5.vhd" --quiet --unattend "$SCRATCH/other.xml"
grep -q "AdministratorPassword" "$SCRATCH/err" && bad "warned without --admin-password" || ok "no warning without --admin-password"

# the sandbox reads the same files the same way (one build: 15 s)
if ls -d /usr/lib/*/guestfs >/dev/null 2>&1; then
  export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS:-force_tcg}
  expect_exit 0 "--sandbox: build --admin-password over the image's answer file" "$BOXWRIGHT" build "$SCRATCH/in.vhd" -o "$SCRATCH/s.box" --quiet \
    --sandbox --admin-password "$P" --unattend "$SCRATCH/other.xml" --hardware-uuid none
  [ "$(grep -c 'warning: .* sets another password' "$SCRATCH/err")" -eq 2 ] \
    && ok "--sandbox: both answer files warned about" || bad "--sandbox warnings: $(cat "$SCRATCH/err")"
else
  skip_part "--sandbox: libguestfs not installed"
fi
finish
