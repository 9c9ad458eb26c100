#!/usr/bin/env bash
# Our FAT reader (src/fat) against dosfstools and mtools, the independent
# reference tools.  mkfs.vfat makes a 100 MiB FAT32 ESP as Windows' (512 B
# clusters), a 300 MiB one on 4 KiB sectors (4Kn), a FAT16 and a FAT12
# volume; mmd/mcopy fill each with \EFI\Microsoft\Boot\BCD, \EFI\Boot\bootx64.efi, long and mixed-case
# names, a deep tree and a directory of 200 long-named files (many
# clusters).  Then, through tests/tools/fat_ls:
#   - the type and cluster count are what fsck.fat -v reports, and the used
#     clusters (FAT entries not zero) are fsck.fat's "used/total clusters";
#   - every path `mdir -/ -b` lists exists, as a directory or a file of the
#     size mcopy reads; the same paths in upper and lower case; absent
#     paths are absent;
#   - a copy of the used ranges only (holes elsewhere) passes `fsck.fat -n`
#     and mcopy reads every file of it byte for byte as from the original,
#     so the ranges leave out nothing a FAT driver reads;
#   - FAT32 fields on a volume whose cluster count makes it FAT16 are
#     refused (fatgen103: the count alone decides the type);
#   - the ESP at 1 MiB of a GPT disk (sgdisk), raw and converted to VHDX
#     by qemu-img, gives the same answers as the bare volume.
# Needs no fixtures.
. "$SRCDIR/tests/e2e/lib.sh"
LS=$BUILDDIR/tests/tools/fat_ls
[ -x "$LS" ] || { echo "tests/tools/fat_ls not built"; exit 99; }
for t in mkfs.vfat fsck.fat mmd mcopy mdir; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (dosfstools, mtools)"; exit 77; }
done
export MTOOLS_SKIP_CHECK=1 MTOOLS_NO_VFAT=0

# populate IMG BIG: the tree every volume gets (BIG: size of bootx64.efi).
populate() {
  local img=$1 big=$2 src=$SCRATCH/src
  rm -rf "$src" && mkdir -p "$src"
  head -c 24576 /dev/urandom >"$src/BCD"
  head -c "$big" /dev/urandom >"$src/bootx64.efi"
  head -c 777 /dev/urandom >"$src/mui"
  head -c 0 /dev/urandom >"$src/empty"
  mmd -i "$img" ::/EFI ::/EFI/Microsoft ::/EFI/Microsoft/Boot ::/EFI/Boot \
    ::/EFI/Microsoft/Boot/en-US "::/EFI/Many Files" || return 1
  mcopy -i "$img" "$src/BCD" ::/EFI/Microsoft/Boot/BCD &&
  mcopy -i "$img" "$src/bootx64.efi" ::/EFI/Boot/bootx64.efi &&
  mcopy -i "$img" "$src/mui" ::/EFI/Microsoft/Boot/en-US/bootmgfw.efi.mui &&
  mcopy -i "$img" "$src/empty" "::/EFI/Microsoft/Boot/BCD.LOG1" &&
  mcopy -i "$img" "$src/mui" "::/MixedCase Long Name.Txt" || return 1
  local d=::
  for i in 1 2 3 4 5 6 7 8; do
    d="$d/Deep Directory Level $i"
    mmd -i "$img" "$d" || return 1
  done
  mcopy -i "$img" "$src/mui" "$d/The Deepest File.dat" || return 1
  # 200 files of 0..3000 bytes; their names take 4 entries each (3 long
  # + short): 25 KiB of directory, 50 clusters of 512 B.
  local args=() n
  for n in $(seq -w 1 200); do
    head -c $((10#$n * 15)) /dev/urandom >"$src/file number $n with a long name.bin"
    args+=("$src/file number $n with a long name.bin")
  done
  mcopy -i "$img" "${args[@]}" "::/EFI/Many Files/" || return 1
}

# check_volume WHAT FAT_LS_ARGS MTOOLS_IMG TYPE: compare fat_ls with mtools
# and dosfstools on one volume (MTOOLS_IMG: "file" or "file@@offset").
check_volume() {
  local what=$1 lsargs=$2 mimg=$3 type=$4
  local paths=$SCRATCH/paths
  mdir -/ -b -i "$mimg" :: >"$SCRATCH/mdir" 2>"$SCRATCH/err" ||
    { bad "$what: mdir: $(head -1 "$SCRATCH/err")"; return; }
  # ::/A/B/ -> \A\B (dir), ::/A/f -> \A\f (file)
  sed -e 's,^::,,' -e 's,/$,,' -e 's,/,\\,g' "$SCRATCH/mdir" >"$paths"
  local n; n=$(wc -l <"$paths")
  mapfile -t P <"$paths"
  local upper=() lower=()
  for p in "${P[@]}"; do upper+=("${p^^}"); lower+=("${p,,}"); done
  # shellcheck disable=SC2086
  if ! "$LS" $lsargs "${P[@]}" "${upper[@]}" "${lower[@]}" '\EFI\Boot\nothing.efi' \
       '\EFI\Microsoft\Boot\BCD\x' '\NoSuchDir\BCD' '\Deep Directory Level 1\Deep Directory Level 3' \
       >"$SCRATCH/ls" 2>"$SCRATCH/err"; then
    bad "$what: fat_ls exit $?: $(head -1 "$SCRATCH/err") $(grep -m1 error "$SCRATCH/ls")"; return
  fi
  grep -qx "type FAT$type" "$SCRATCH/ls" && ok "$what: fat_ls opened it as FAT$type" ||
    bad "$what: $(grep '^type' "$SCRATCH/ls"), expected FAT$type"
  # The answers for the listed paths, in all three cases, against the
  # tree mcopy extracts (one mtools run: sizes are the bytes it read).
  rm -rf "$SCRATCH/x-orig"; mkdir "$SCRATCH/x-orig"
  mcopy -s -n -i "$mimg" '::/*' "$SCRATCH/x-orig/" 2>"$SCRATCH/err" ||
    { bad "$what: mcopy -s: $(head -1 "$SCRATCH/err")"; return; }
  local bad_n=0 i want ans x
  mapfile -t M <"$SCRATCH/mdir"
  mapfile -t A < <(sed -n '/^used_bytes/,$p' "$SCRATCH/ls" | tail -n +2)
  [ "${#A[@]}" -eq $((3 * n + 4)) ] || { bad "$what: ${#A[@]} answers for $((3 * n + 4)) paths"; return; }
  for ((i = 0; i < n; i++)); do
    x=$SCRATCH/x-orig/${M[$i]#::/}
    if [[ ${M[$i]} == */ ]]; then
      [ -d "$x" ] && want=dir || want="not a directory in mcopy's tree"
    else
      want="file $(stat -c %s "$x" 2>/dev/null)"
    fi
    for k in 0 1 2; do
      ans=${A[$((k * n + i))]}
      case $k in 0) p=${P[$i]};; 1) p=${upper[$i]};; 2) p=${lower[$i]};; esac
      if [ "$ans" != "$p: $want" ]; then
        bad_n=$((bad_n + 1)); [ $bad_n -le 5 ] && echo "  $ans (expected $want)"
      fi
    done
  done
  [ $bad_n -eq 0 ] && ok "$what: $n paths mdir lists (x3 cases) exist with mtools' type and size" ||
    bad "$what: $bad_n answers differ from mtools'"
  local tail4; tail4=$(printf '%s\n' "${A[@]: -4}" | grep -c ': absent$')
  [ "$tail4" -eq 4 ] && ok "$what: 4 absent paths are absent" || bad "$what: absent paths: ${A[*]: -4}"
}

# check_fsck WHAT FILE: fat_ls's counts against fsck.fat -n -v on FILE
# (a bare volume), then the used-range copy.
check_fsck() {
  local what=$1 img=$2
  fsck.fat -n -v "$img" >"$SCRATCH/fsck" 2>&1 || { bad "$what: fsck.fat on the original: $(tail -1 "$SCRATCH/fsck")"; return; }
  local used total
  read -r used total < <(sed -n 's/.* \([0-9]*\)\/\([0-9]*\) clusters$/\1 \2/p' "$SCRATCH/fsck")
  local our_used our_total
  our_used=$(sed -n 's/^used_clusters //p' "$SCRATCH/ls")
  our_total=$(sed -n 's/^cluster_count //p' "$SCRATCH/ls")
  [ "$our_used/$our_total" = "$used/$total" ] &&
    ok "$what: used/total clusters $our_used/$our_total as fsck.fat counts" ||
    bad "$what: used/total clusters $our_used/$our_total, fsck.fat says $used/$total"
  rm -f "$SCRATCH/copy.img"
  if ! "$LS" -c "$SCRATCH/copy.img" "$img" >"$SCRATCH/ls-copy" 2>"$SCRATCH/err"; then
    bad "$what: fat_ls -c: $(cat "$SCRATCH/err")"; return
  fi
  local ub vs
  ub=$(sed -n 's/^used_bytes //p' "$SCRATCH/ls-copy"); vs=$(stat -c %s "$img")
  ok "$what: used ranges $(sed -n 's/^used_ranges //p' "$SCRATCH/ls-copy") of $ub bytes ($((ub * 100 / vs))% of $vs)"
  if fsck.fat -n "$SCRATCH/copy.img" >"$SCRATCH/fsck2" 2>&1; then
    ok "$what: the used-range copy passes fsck.fat -n"
  else
    bad "$what: fsck.fat -n on the used-range copy: $(grep -v '^fsck\|^Checking' "$SCRATCH/fsck2" | head -2)"
  fi
  local diffs=0
  rm -rf "$SCRATCH/x-copy"; mkdir "$SCRATCH/x-copy"
  mcopy -s -n -i "$SCRATCH/copy.img" '::/*' "$SCRATCH/x-copy/" 2>/dev/null || diffs=$((diffs + 1))
  diff -r "$SCRATCH/x-orig" "$SCRATCH/x-copy" >/dev/null || diffs=$((diffs + 1))
  mdir -/ -b -i "$SCRATCH/copy.img" :: >"$SCRATCH/mdir2" 2>/dev/null
  cmp -s "$SCRATCH/mdir" "$SCRATCH/mdir2" || diffs=$((diffs + 1))
  [ $diffs -eq 0 ] && ok "$what: mcopy reads the same tree and bytes from the copy" ||
    bad "$what: the used-range copy differs ($diffs of mcopy -s, diff -r, mdir)"
}

# name size-MiB mkfs-options expected-type bootx64-size
while read -r name mib opts type big; do
  img=$SCRATCH/$name.img opts=${opts//_/ }
  rm -f "$img"; truncate -s "${mib}M" "$img"
  # shellcheck disable=SC2086
  mkfs.vfat $opts -n SYSTEM "$img" >/dev/null || { bad "$name: mkfs.vfat $opts"; continue; }
  populate "$img" "$big" || { bad "$name: mtools could not fill the volume"; continue; }
  check_volume "$name" "$img" "$img" "$type"
  check_fsck "$name" "$img"
done <<'EOF'
esp32-512 100 -F32 32 1500000
esp32-4kn 300 -F32_-S_4096_-s_1 32 1500000
fat16 32 -F16 16 1500000
fat12 4 -F12 12 300000
EOF

# mkfs.vfat -F 32 -s 8 on 100 MiB writes FAT32 fields for 25546 clusters,
# which fatgen103 makes FAT16 (Windows needs 260 MB for a FAT32 ESP with 4
# KiB clusters for that reason); mtools cannot use it either.  Refused.
img=$SCRATCH/small32.img
rm -f "$img"; truncate -s 100M "$img"
mkfs.vfat -F 32 -s 8 "$img" >/dev/null 2>&1
expect_exit 3 "FAT32 layout with a FAT16 cluster count is refused" "$LS" "$img"
grep -q '25546 clusters make FAT16' "$SCRATCH/err" && ok "... saying which count" ||
  bad "FAT16 count refusal message: $(cat "$SCRATCH/err")"

# The ESP of a GPT disk, at 1 MiB, raw and in a VHDX.
if command -v sgdisk >/dev/null; then
  disk=$SCRATCH/gpt.img
  truncate -s 160M "$disk"
  sgdisk -n1:2048:+100M -t1:ef00 -c1:'EFI system partition' -n2:0:+16M -t2:0c01 "$disk" >/dev/null 2>&1 &&
  mkfs.vfat -F 32 --offset 2048 -n SYSTEM "$disk" $((100 * 1024)) >/dev/null 2>&1 &&
  populate "$disk@@1M" 1500000 ||
    { bad "gpt: could not make and fill the ESP"; finish; exit; }
  check_volume "gpt-esp" "-o 1048576 -s 104857600 $disk" "$disk@@1M" 32
  if command -v qemu-img >/dev/null && qemu-img convert -O vhdx "$disk" "$SCRATCH/gpt.vhdx"; then
    "$LS" -o 1048576 -s 104857600 "$SCRATCH/gpt.vhdx" '\EFI\Microsoft\Boot\BCD' '\EFI\Boot\bootx64.efi' >"$SCRATCH/vhdx.ls" 2>&1
    "$LS" -o 1048576 -s 104857600 "$disk" '\EFI\Microsoft\Boot\BCD' '\EFI\Boot\bootx64.efi' >"$SCRATCH/raw.ls" 2>&1
    cmp -s "$SCRATCH/vhdx.ls" "$SCRATCH/raw.ls" && grep -q 'bootx64.efi: file 1500000' "$SCRATCH/vhdx.ls" &&
      ok "gpt-esp in a VHDX: the same answers as the raw disk" ||
      bad "gpt-esp in a VHDX: $(diff "$SCRATCH/raw.ls" "$SCRATCH/vhdx.ls" | head -3)"
  fi
  # A partition smaller than the volume: refused (exit 3), naming it.
  expect_exit 3 "gpt-esp: a partition shorter than the volume is refused" \
    "$LS" -o 1048576 -s 52428800 "$disk" '\EFI'
  grep -q 'do not fit the partition' "$SCRATCH/err" && ok "gpt-esp: the refusal says why" ||
    bad "gpt-esp: refusal message: $(cat "$SCRATCH/err")"
  # The MSR (no file system) is not FAT.
  expect_exit 3 "gpt-msr: no FAT boot sector" "$LS" -o $((1048576 + 104857600)) -s 16777216 "$disk"
else
  echo "# sgdisk missing: GPT part skipped"
fi
finish
