#!/usr/bin/env bash
# What a box needs to log in and behave (the login issue): the booted
# image's hardware UUID pinned by default in the Vagrantfile and the OVF
# (nano-booted: HardwareConfig\LastConfig), and a warning when another is
# forced; the Vagrantfile's plaintext WinRM login only when the image
# allows it (a build without --winrm warns, --strict refuses); and
# --first-boot-ps1: the script and its SetupComplete.cmd wrapper read back
# from the image (ntfscat), CRLF throughout, a --setup-complete script
# called first, a warning when setup has already completed.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-booted.vhd
need_fixture nano-base.vhd
uuid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["hardware_uuid"])' "$FIXTURES/nano-booted.facts.json")

# -- hardware UUID ---------------------------------------------------------
expect_exit 0 "build of a booted image" "$BOXWRIGHT" build "$FIXTURES/nano-booted.vhd" -o "$SCRATCH/b.box" --quiet --winrm --json
$PY -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["hardware_uuid"]==sys.argv[2] else 1)' "$SCRATCH/out" "$uuid" \
  && ok "--json: the UUID the image booted under ($uuid)" || bad "--json: $(cat "$SCRATCH/out")"
mkdir -p "$SCRATCH/b" && tar xf "$SCRATCH/b.box" -C "$SCRATCH/b" Vagrantfile box.ovf
grep -q -- "\"--hardwareuuid\", \"$uuid\"" "$SCRATCH/b/Vagrantfile" && ok "the Vagrantfile pins it" || bad "Vagrantfile: $(grep -i uuid "$SCRATCH/b/Vagrantfile")"
grep -qi "<Hardware uuid=\"{$uuid}\"" "$SCRATCH/b/box.ovf" && ok "the OVF's machine pins it" || bad "OVF: $(grep -i 'Hardware' "$SCRATCH/b/box.ovf" | head -2)"
other=0b2c7a1e-4f3d-4e5a-9b8c-1d2e3f405162
expect_exit 0 "build of a booted image under another UUID" "$BOXWRIGHT" build "$FIXTURES/nano-booted.vhd" -o "$SCRATCH/o.box" --quiet --winrm --hardware-uuid $other
grep -q "warning: .*booted under the hardware UUID $uuid" "$SCRATCH/err" && ok "it warns, naming the image's UUID" || bad "no warning: $(cat "$SCRATCH/err")"
expect_exit 0 "build of a never-booted image (auto)" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/n.box" --quiet --winrm --json
$PY -c 'import json,sys,re; u=json.load(open(sys.argv[1]))["hardware_uuid"]; sys.exit(0 if u and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", u) else 1)' "$SCRATCH/out" \
  && ok "a never-booted image gets a fresh version-4 UUID" || bad "--json: $(cat "$SCRATCH/out")"

# -- WinRM truth -----------------------------------------------------------
expect_exit 0 "build without --winrm" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/w.box" --quiet
grep -q "warning: .*does not allow unencrypted basic-auth WinRM.*--winrm" "$SCRATCH/err" && ok "it warns and names --winrm" || bad "no warning: $(cat "$SCRATCH/err")"
mkdir -p "$SCRATCH/w" && tar xf "$SCRATCH/w.box" -C "$SCRATCH/w" Vagrantfile
! grep -q "plaintext" "$SCRATCH/w/Vagrantfile" && grep -q 'require_version ">= 1.9.2"' "$SCRATCH/w/Vagrantfile" \
  && ok "its Vagrantfile has no plaintext transport and requires Vagrant 1.9.2" || bad "Vagrantfile: $(grep -i 'winrm\|require' "$SCRATCH/w/Vagrantfile")"
grep -q "transport = :plaintext" "$SCRATCH/b/Vagrantfile" && ok "with --winrm: plaintext" || bad "with --winrm: $(grep transport "$SCRATCH/b/Vagrantfile")"
expect_exit 3 "build --strict without --winrm" "$BOXWRIGHT" build "$FIXTURES/nano-base.vhd" -o "$SCRATCH/s.box" --quiet --strict
[ ! -e "$SCRATCH/s.box" ] && ok "no box under --strict" || bad "a box was written under --strict"

# -- --first-boot-ps1 ------------------------------------------------------
printf 'Write-Output "first boot"\nNew-Item -ItemType File C:\\done.txt\n' > "$SCRATCH/fb.ps1"
printf '@echo off\necho user script\n' > "$SCRATCH/sc.cmd"
expect_exit 0 "patch --first-boot-ps1 --setup-complete" "$BOXWRIGHT" patch "$FIXTURES/nano-base.vhd" -o "$SCRATCH/fb.vhd" --quiet \
  --first-boot-ps1 "$SCRATCH/fb.ps1" --setup-complete "$SCRATCH/sc.cmd"
qemu-img convert -O raw "$SCRATCH/fb.vhd" "$SCRATCH/fb.raw"
dd if="$SCRATCH/fb.raw" of="$SCRATCH/p.img" bs=1M skip=1 status=none conv=sparse
dir=/Windows/Setup/Scripts
ntfscat "$SCRATCH/p.img" $dir/first-boot.ps1 > "$SCRATCH/got.ps1" && ntfscat "$SCRATCH/p.img" $dir/SetupComplete.cmd > "$SCRATCH/got.cmd" &&
  ntfscat "$SCRATCH/p.img" $dir/boxwright-setup-complete.cmd > "$SCRATCH/got-user.cmd" || bad "reading the scripts back"
[ "$(cat "$SCRATCH/got.ps1")" = "$(sed 's/$/\r/' "$SCRATCH/fb.ps1")" ] && ok "first-boot.ps1 is the script in CRLF" || bad "first-boot.ps1 differs"
[ "$(cat "$SCRATCH/got-user.cmd")" = "$(sed 's/$/\r/' "$SCRATCH/sc.cmd")" ] && ok "the --setup-complete script is kept beside it, CRLF" || bad "boxwright-setup-complete.cmd differs"
$PY - "$SCRATCH/got.cmd" <<'PYEOF' && ok "SetupComplete.cmd: CRLF only; calls the user's script first, then powershell with the modules by path, the script dot-sourced, output logged" || bad "SetupComplete.cmd: $(cat "$SCRATCH/got.cmd")"
import sys
t = open(sys.argv[1], "rb").read()
ok = t.count(b"\n") == t.count(b"\r\n") and t.endswith(b"\r\n")
s = t.decode()
i_call = s.find('call "%~dp0boxwright-setup-complete.cmd"')
i_ps = s.find("powershell.exe")
ok = ok and 0 <= i_call < i_ps
for need in ("Microsoft.PowerShell.Utility", "Microsoft.PowerShell.Management", "Storage",
             ". 'C:\\Windows\\Setup\\Scripts\\first-boot.ps1'", "first-boot.log", "2>&1"):
    ok = ok and need in s
ps = [l for l in s.split("\r\n") if "powershell.exe" in l]
ok = ok and len(ps) == 1 and " -File " not in ps[0] and s.startswith("@echo off\r\n")
sys.exit(0 if ok else 1)
PYEOF
need_fixture nano-cs2.vhd
expect_exit 0 "--first-boot-ps1 on an image whose setup completed" "$BOXWRIGHT" patch "$FIXTURES/nano-cs2.vhd" -o "$SCRATCH/cs2.vhd" --quiet --first-boot-ps1 "$SCRATCH/fb.ps1"
grep -q "warning: .*setup has already completed" "$SCRATCH/err" && ok "it warns that the script would never run" || bad "no warning: $(cat "$SCRATCH/err")"
finish
