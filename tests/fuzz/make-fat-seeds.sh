#!/usr/bin/env bash
# Seeds for tests/fuzz/fuzz_fat.c in DIR: FAT12, FAT16 and FAT32 volumes
# made by mkfs.vfat and filled by mtools with an ESP's tree (the names the
# harness looks up), cut after their last non-zero byte (the harness pads
# each input back with zeros to its declared size).  Needs dosfstools and
# mtools (scripts/deps.sh).
set -eu
dir=$1
mkdir -p "$dir"
export MTOOLS_SKIP_CHECK=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fat-seeds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf 'bcd' >"$tmp/small"
head -c 3000 /dev/zero | tr '\0' 'x' >"$tmp/big"
# name size mkfs options
while read -r name size opts; do
  img=$tmp/$name.img
  truncate -s "$size" "$img"
  # shellcheck disable=SC2086
  mkfs.vfat ${opts//_/ } -n SYSTEM "$img" >/dev/null
  mmd -i "$img" ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot ::/EFI/Boot \
    ::/EFI/Microsoft/Boot/en-US "::/EFI/Many Files" "::/Deep Directory Level 1" \
    "::/Deep Directory Level 1/Deep Directory Level 2" \
    "::/Deep Directory Level 1/Deep Directory Level 2/Deep Directory Level 3"
  mcopy -i "$img" "$tmp/small" ::/EFI/Microsoft/Boot/BCD
  mcopy -i "$img" "$tmp/big" ::/EFI/Boot/bootx64.efi
  mcopy -i "$img" "$tmp/small" ::/EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui
  mcopy -i "$img" "$tmp/small" "::/MixedCase Long Name.Txt"
  for n in 001 002 003 004 005 006 007 008 009 010 011 012; do
    mcopy -i "$img" "$tmp/small" "::/EFI/Many Files/file number $n with a long name.bin"
  done
  /usr/bin/python3 - "$img" "$dir/$name" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read().rstrip(b'\0')
open(sys.argv[2], 'wb').write(data + b'\0' * (-len(data) % 512))
PY
done <<'LIST'
fat12 1M -F12
fat12-1fat 256K -F12_-f_1_-r_16
fat16 4M -F16_-f_1_-s_1
fat32 33M -F32_-f_1_-s_1
LIST
