#!/usr/bin/env bash
# patch on the base, live-control-set-2 and mixed-case fixtures: the hives
# read back out of the OUTPUT image (ntfscat, hivexregedit --export -- not
# our code) change exactly as the edits say and nowhere else; the files
# are there with their content (SetupComplete.cmd in CRLF); everything
# outside the Windows partition is unchanged; the VHD keeps its identity;
# inspect reports the new state; on the GPT images every other file of every
# volume is as it was (volcompare.py).  Then the dirty hive is refused.
. "$SRCDIR/tests/e2e/lib.sh"
printf '@echo off\nwinrm quickconfig -q\nexit /b 0\n' > "$SCRATCH/setup.cmd"
printf '<?xml version="1.0"?>\r\n<unattend xmlns="urn:schemas-microsoft-com:unattend"><!-- boxwright test --></unattend>\r\n' > "$SCRATCH/u.xml"
printf 'payload %s\n' "$(date +%s)" > "$SCRATCH/tool.txt"
printf 'Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\boxwright-test]\r\n"Marker"=dword:0000002a\r\n' > "$SCRATCH/t.reg"

# extract IMAGE PARTNO: raw partition image of IMAGE's partition PARTNO
extract() {
  qemu-img convert -O raw "$1" "$SCRATCH/disk.raw" || return 1
  local start sectors
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+16*(int(sys.argv[2])-1)+8))" "$SCRATCH/disk.raw" "$2")
  dd if="$SCRATCH/disk.raw" of="$SCRATCH/part.img" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
  head -c $((start * 512)) "$SCRATCH/disk.raw" > "$SCRATCH/head.bin"
  rm -f "$SCRATCH/disk.raw"
}
# ntfs_path PATH: PATH (any case) as it is spelled in part.img (ntfscat is
# case-sensitive; the image may say \WINDOWS\system32\CONFIG\system)
ntfs_path() {
  local cur="" comp real
  local IFS=/
  for comp in ${1#/}; do
    real=$(ntfsls -f "$SCRATCH/part.img" -p "${cur:-/}" 2>/dev/null | grep -ixF -- "$comp" | head -n 1)
    [ -n "$real" ] || { echo "$cur/$comp"; return 1; }
    cur="$cur/$real"
  done
  echo "$cur"
}
ncat() { local p; p=$(ntfs_path "$1") && ntfscat "$SCRATCH/part.img" "$p"; }
export_hives() {   # DIR: SYSTEM.reg SOFTWARE.reg from part.img
  local d=$1 h
  mkdir -p "$d"
  for h in SYSTEM SOFTWARE; do
    ncat "/Windows/System32/config/$h" > "$d/$h" 2>/dev/null || return 1
    hivexregedit --export "$d/$h" '\' > "$d/$h.reg" || return 1
  done
}

for name in nano-base nano-cs2 nano-mixedcase; do
  need_fixture "$name.vhd"
  img=$FIXTURES/$name.vhd
  cs=$(printf 'ControlSet%03d' "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["controlset"])' "$FIXTURES/$name.facts.json")")
  extract "$img" 1 && export_hives "$SCRATCH/before" || { bad "$name: reading the input"; continue; }
  mv "$SCRATCH/head.bin" "$SCRATCH/head.before"
  sum0=$(sha256sum < "$img")
  if "$BOXWRIGHT" patch "$img" -o "$SCRATCH/out.vhd" --quiet --json --winrm --hostname nano1 \
       --setup-complete "$SCRATCH/setup.cmd" --unattend "$SCRATCH/u.xml" \
       --copy-in "$SCRATCH/tool.txt:\\Program Files\\boxwright" --reg "$SCRATCH/t.reg" \
       > "$SCRATCH/patch.json" 2> "$SCRATCH/err"; then
    ok "$name: patch ($($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$SCRATCH/patch.json") s)"
  else
    bad "$name: patch failed: $(cat "$SCRATCH/err")"; continue
  fi
  [ "$(sha256sum < "$img")" = "$sum0" ] && ok "$name: input unchanged" || bad "$name: input modified"
  extract "$SCRATCH/out.vhd" 1 && export_hives "$SCRATCH/after" || { bad "$name: reading the output"; continue; }
  cmp -s "$SCRATCH/head.before" "$SCRATCH/head.bin" && ok "$name: MBR and gap unchanged" || bad "$name: bytes before the partition changed"
  for h in SYSTEM SOFTWARE; do
    $PY "$SRCDIR/tests/e2e/regdiff.py" "$SCRATCH/before/$h.reg" "$SCRATCH/after/$h.reg" > "$SCRATCH/$h.diff"
  done
  # SYSTEM: exactly these changes, in the LIVE control set
  fw=$(grep -c "^+ \\\\$cs\\\\Services\\\\SharedAccess\\\\Parameters\\\\FirewallPolicy\\\\FirewallRules\\\\.*Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=5985|" "$SCRATCH/SYSTEM.diff")
  [ "$fw" = 1 ] && ok "$name: one inbound TCP 5985 allow rule added in $cs" || bad "$name: firewall rule lines: $fw"
  grep -v "FirewallRules" "$SCRATCH/SYSTEM.diff" | sed 's/ = hex(1):.*/ = <sz>/' > "$SCRATCH/sys.got"
  cat > "$SCRATCH/sys.want" <<EOW
+ \\$cs\\Services\\boxwright-test\\Marker = dword:0000002a
+K \\$cs\\Services\\boxwright-test
~ \\$cs\\Control\\ComputerName\\ComputerName\\ComputerName = <sz>
~ \\$cs\\Services\\Tcpip\\Parameters\\Hostname = <sz>
~ \\$cs\\Services\\Tcpip\\Parameters\\NV Hostname = <sz>
~ \\$cs\\Services\\WinRM\\Start = dword:00000002
EOW
  if [ "$(sort "$SCRATCH/sys.got")" = "$(sort "$SCRATCH/sys.want")" ]; then ok "$name: SYSTEM changed exactly as asked"
  else bad "$name: SYSTEM changes differ:"; diff <(sort "$SCRATCH/sys.want") <(sort "$SCRATCH/sys.got") | sed 's/^/    /'; fi
  grep -q 'Parameters\\Hostname = hex(1):6e,00,61,00,6e,00,6f,00,31,00,00,00 ' "$SCRATCH/SYSTEM.diff" && ok "$name: Hostname is REG_SZ \"nano1\" (UTF-16LE, terminated)" || bad "$name: Hostname value: $(grep 'Parameters\\Hostname' "$SCRATCH/SYSTEM.diff")"
  # ComputerName is the NetBIOS name: upper case, as Windows stores it
  grep -q 'ComputerName\\ComputerName = hex(1):4e,00,41,00,4e,00,4f,00,31,00,00,00 ' "$SCRATCH/SYSTEM.diff" && ok "$name: ComputerName is REG_SZ \"NANO1\"" || bad "$name: ComputerName value: $(grep 'ComputerName\\ComputerName' "$SCRATCH/SYSTEM.diff")"
  cat > "$SCRATCH/sw.want" <<'EOW'
~ \Microsoft\Windows\CurrentVersion\WSMAN\Client\auth_basic = dword:00000001
~ \Microsoft\Windows\CurrentVersion\WSMAN\Service\allow_unencrypted = dword:00000001
~ \Microsoft\Windows\CurrentVersion\WSMAN\Service\auth_basic = dword:00000001
EOW
  if [ "$(sort "$SCRATCH/SOFTWARE.diff")" = "$(sort "$SCRATCH/sw.want")" ]; then ok "$name: SOFTWARE changed exactly as asked"
  else bad "$name: SOFTWARE changes differ:"; diff <(sort "$SCRATCH/sw.want") <(sort "$SCRATCH/SOFTWARE.diff") | sed 's/^/    /'; fi
  for h in SYSTEM SOFTWARE; do
    $PY -c "
import sys,struct
b=open(sys.argv[1],'rb').read(512)
s1,s2=struct.unpack_from('<II',b,4); x=0
for i in range(127): x^=struct.unpack_from('<I',b,4*i)[0]
x = 1 if x==0 else (0xFFFFFFFE if x==0xFFFFFFFF else x)
sys.exit(0 if s1==s2 and x==struct.unpack_from('<I',b,0x1FC)[0] else 1)" "$SCRATCH/after/$h" && ok "$name: $h hive clean after the edit" || bad "$name: $h hive dirty after the edit"
  done
  # files
  ncat /Windows/Setup/Scripts/SetupComplete.cmd > "$SCRATCH/sc.got" 2>/dev/null
  printf '@echo off\r\nwinrm quickconfig -q\r\nexit /b 0\r\n' > "$SCRATCH/sc.want"
  cmp -s "$SCRATCH/sc.got" "$SCRATCH/sc.want" && ok "$name: SetupComplete.cmd content, CRLF" || bad "$name: SetupComplete.cmd: $(od -c "$SCRATCH/sc.got" | head -3)"
  ncat /Windows/Panther/unattend.xml > "$SCRATCH/u.got" 2>/dev/null
  cmp -s "$SCRATCH/u.got" "$SCRATCH/u.xml" && ok "$name: unattend.xml replaced" || bad "$name: unattend.xml differs"
  ncat "/Program Files/boxwright/tool.txt" > "$SCRATCH/t.got" 2>/dev/null
  cmp -s "$SCRATCH/t.got" "$SCRATCH/tool.txt" && ok "$name: --copy-in file present" || bad "$name: --copy-in file missing"
  ntfsfix -n "$SCRATCH/part.img" > "$SCRATCH/fix" 2>&1 && ok "$name: ntfsfix -n finds the volume consistent" || bad "$name: ntfsfix -n: $(tail -2 "$SCRATCH/fix")"
  # identity of the container
  ci=$($PY -c "import sys; f=open(sys.argv[1],'rb'); f.seek(-512,2); b=f.read(512); print(b[28:32].decode('latin1'), int.from_bytes(b[48:56],'big'), b[56:60].hex())" "$img")
  co=$($PY -c "import sys; f=open(sys.argv[1],'rb'); f.seek(-512,2); b=f.read(512); print(b[28:32].decode('latin1'), int.from_bytes(b[48:56],'big'), b[56:60].hex())" "$SCRATCH/out.vhd")
  [ "$ci" = "$co" ] && ok "$name: VHD creator, size and geometry kept ($co)" || bad "$name: VHD identity $ci -> $co"
  rm -rf "$SCRATCH/before" "$SCRATCH/after" "$SCRATCH/part.img"
  # every other file as it was: unattend.xml, the --copy-in file and the
  # SetupComplete.cmd are what the edits write
  volcompare "$name" "$img" "$SCRATCH/out.vhd" --special 1 "${HIVES_EDITED[@]}" "${SETUP_SCRIPTS[@]}" \
    --allow 'Windows/Panther/unattend.xml' --allow 'Program Files/boxwright' --allow 'Program Files/boxwright/tool.txt'
  if [ "$name" = nano-base ]; then
    # inspect on the output (one more appliance launch, for this fixture only)
    if "$BOXWRIGHT" inspect --json "$SCRATCH/out.vhd" > "$SCRATCH/insp.json" 2>"$SCRATCH/err"; then
      $PY - "$SCRATCH/insp.json" <<'PYEOF' && ok "nano-base: inspect reports the new state" || bad "nano-base: inspect state"
import json, sys
j = json.load(open(sys.argv[1]))
w = j["windows"]
checks = [w["winrm"]["ready_for_vagrant"] is True, w["winrm"]["service_start"] == 2,
          w["winrm"]["firewall_5985"] is True, w["computer_name"] == "NANO1",
          w["hostname"] == "nano1", w["setup_complete_cmd"] is True, w["unattend_xml"] is True,
          j["diagnoses"] == []]
print(checks, j["diagnoses"])
sys.exit(0 if all(checks) else 1)
PYEOF
    else bad "nano-base: inspect of the output failed: $(cat "$SCRATCH/err")"; fi
  fi
  rm -f "$SCRATCH/out.vhd"
done

# GPT (UEFI) images: patch keeps the container (VHDX stays VHDX), the ESP,
# MSR and Recovery byte for byte, and every file of Windows but the hives.
for name in nano-gpt nano-gpt-recovery; do
  img=$(ls "$FIXTURES/$name".vhd* 2>/dev/null | head -n 1)
  [ -n "$img" ] || { echo "fixture $name missing"; exit 99; }
  out=$SCRATCH/out.${img##*.}
  if "$BOXWRIGHT" patch "$img" -o "$out" --quiet --winrm 2> "$SCRATCH/err"; then
    ok "$name: patch"
  else
    bad "$name: patch failed: $(cat "$SCRATCH/err")"; continue
  fi
  fin=$(qemu-img info --output=json "$img" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')
  fout=$(qemu-img info --output=json "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format"])')
  [ "$fin" = "$fout" ] && ok "$name: the output is $fout like the input" || bad "$name: $fin -> $fout"
  win=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["windows_partition"])' "$FIXTURES/$name.facts.json")
  volcompare "$name" "$img" "$out" --special "$win" "${HIVES_EDITED[@]}"
  rm -f "$out"
done

# A dirty SYSTEM hive is refused: exit 3, the hive named, no output.
need_fixture nano-dirty.vhd
expect_exit 3 "nano-dirty: patch refused" "$BOXWRIGHT" patch "$FIXTURES/nano-dirty.vhd" -o "$SCRATCH/dirty.vhd" --quiet --winrm
grep -q "SYSTEM hive is dirty" "$SCRATCH/err" && ok "nano-dirty: the error names the SYSTEM hive" || bad "nano-dirty: error: $(cat "$SCRATCH/err")"
[ -e "$SCRATCH/dirty.vhd" ] && bad "nano-dirty: an output was created" || ok "nano-dirty: no output created"
ls -a "$SCRATCH" | grep -q 'boxwright-' && bad "temporary files left behind" || ok "no temporary files left behind"
finish
