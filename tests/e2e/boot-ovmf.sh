#!/usr/bin/env bash
# A GPT box boots under UEFI as far as we can see it without Windows: OVMF
# (Debian's ovmf) in qemu (TCG, q35, AHCI disk) boots the disk and runs the
# ESP's \EFI\Boot\bootx64.efi, which the GPT fixtures make a GRUB image
# (fixtures/variants.py grub_efi): its embedded grub.cfg finds the Windows
# partition by its GPT unique GUID (probe --part-uuid), prints the marker
# file from that NTFS volume on the serial console and powers off.  The
# marker's text is nowhere but in that file, so seeing it proves that the
# firmware found the ESP through the GPT (the box's: grown disk, backup GPT
# moved to the new end), and GRUB found the grown Windows partition by its
# GUID and read its NTFS.  Booted: each GPT fixture as it is (sanity), then
# the disk of the box built from it with --size bigger than the input.
. "$SRCDIR/tests/e2e/lib.sh"
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS.fd}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-150}    # TCG on a shared machine: ~15 s idle

# boot WHAT DISK FACTS [FORMAT]: boot DISK (qcow2) and look for the marker
boot() {
  local what=$1 disk=$2 facts=$3 fmt=${4:-qcow2} log=$SCRATCH/serial.log rc t0=$SECONDS
  local text guid
  text=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot_marker"]["text"])' "$facts")
  guid=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["boot_marker"]["partition_guid"].strip("{}"))' "$facts")
  cp "$OVMF_VARS" "$SCRATCH/vars.fd"
  rm -f "$log"
  timeout "$BOOT_TIMEOUT" qemu-system-x86_64 -machine q35 -accel tcg -m 256 \
    -drive if=pflash,format=raw,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,file="$SCRATCH/vars.fd" \
    -drive file="$disk",format="$fmt",if=none,id=d -device ahci,id=a -device ide-hd,drive=d,bus=a.0 \
    -nographic -serial file:"$log" -display none -monitor none -no-reboot -net none \
    > "$SCRATCH/qemu.out" 2>&1
  rc=$?
  tr -d '\r' < "$log" > "$log.txt" 2>/dev/null
  if [ $rc = 124 ]; then
    bad "$what: no power-off within $BOOT_TIMEOUT s"
  elif [ $rc != 0 ]; then
    bad "$what: qemu exit $rc: $(tail -n 3 "$SCRATCH/qemu.out")"
  fi
  if grep -aq "BOXWRIGHT-GRUB: partition $guid is (hd0,gpt" "$log.txt" &&
     grep -aqxF "$text" "$log.txt" && grep -aq "BOXWRIGHT-GRUB: END" "$log.txt"; then
    ok "$what: OVMF ran \\EFI\\Boot\\bootx64.efi; GRUB found partition {$guid} and printed its marker file ($((SECONDS - t0)) s)"
  else
    bad "$what: no marker on the serial console; its end:"
    tail -c 1500 "$log.txt" | sed 's/\x1b\[[0-9;=]*[A-Za-z]//g; s/^/    /'
  fi
}

# boot_fails WHAT RAWDISK FACTS: the negative control of boot
boot_fails() {
  local out
  out=$(boot "$1" "$2" "$3" raw)   # a subshell: its bad does not count
  if grep -aq "BOXWRIGHT-GRUB: FAIL: no partition" "$SCRATCH/serial.log.txt" &&
     ! grep -aq "BOXWRIGHT-BOOT-MARKER" "$SCRATCH/serial.log.txt"; then
    ok "$1: GRUB finds no partition with the GUID and prints no marker (the check is not vacuous)"
  else
    bad "$1: the marker check does not depend on the partition GUID"; echo "$out"
  fi
}

check() {   # FIXTURE SIZE
  local name=$1 size=$2 img facts=$FIXTURES/$1.facts.json d=$SCRATCH/$1
  img=$(ls "$FIXTURES/$name".vhd* 2>/dev/null | head -n 1)
  [ -n "$img" ] || { echo "fixture $name missing"; exit 99; }
  if [ "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1])).get("esp_boot"))' "$facts")" != grub ]; then
    skip_part "$name: the fixture's bootx64.efi is not GRUB (grub-mkstandalone or grub-efi-amd64-bin missing when the fixtures were built)"
    return
  fi
  mkdir -p "$d"
  qemu-img convert -O qcow2 "$img" "$d/in.qcow2" || { bad "$name: qemu-img convert of the input"; return; }
  boot "$name (input)" "$d/in.qcow2" "$facts"
  rm -f "$d/in.qcow2"
  if ! "$BOXWRIGHT" build "$img" -o "$d/b.box" --size "$size" --quiet > /dev/null 2> "$d/err"; then
    bad "$name: build failed: $(cat "$d/err")"; return
  fi
  tar -xf "$d/b.box" -C "$d" box-disk001.vmdk && qemu-img convert -f vmdk -O qcow2 "$d/box-disk001.vmdk" "$d/out.qcow2" ||
    { bad "$name: reading the box's disk"; return; }
  local vin vout
  vin=$(qemu-img info --output=json "$img" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  vout=$(qemu-img info --output=json "$d/out.qcow2" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$vout" -gt "$vin" ] && ok "$name: the box's disk grew ($vin -> $vout bytes): the backup GPT moved" || bad "$name: disk $vin -> $vout"
  boot "$name (box, $size)" "$d/out.qcow2" "$facts"
  if [ "$name" = nano-gpt ] && command -v sgdisk > /dev/null; then
    # the control: the same disk with another unique GUID on Windows'
    # partition must not show the marker (GRUB reports no such partition)
    local win guid
    win=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["windows_partition"])' "$facts")
    qemu-img convert -O raw "$d/out.qcow2" "$d/other.raw" && rm -f "$d/out.qcow2" &&
      sgdisk -u "$win:4f7c1e2a-0b1d-4c5e-8f90-123456789abc" "$d/other.raw" > /dev/null &&
      boot_fails "$name (box, Windows' GUID changed)" "$d/other.raw" "$facts"
  fi
  rm -rf "$d"
}

for t in qemu-system-x86_64 qemu-img timeout; do
  command -v "$t" > /dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
if [ ! -r "$OVMF_CODE" ] || [ ! -r "$OVMF_VARS" ]; then
  echo "SKIP: OVMF firmware missing ($OVMF_CODE, $OVMF_VARS: Debian's ovmf)"; exit 77
fi
check nano-gpt 6G
check nano-gpt-recovery 5G
finish
