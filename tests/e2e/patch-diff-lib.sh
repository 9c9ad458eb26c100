# Helpers of the patch tests of differencing images (patch-diff.sh,
# patch-diff-vhdx.sh), sourced after lib.sh: partitions, hives and volume
# comparisons of raw disks in $SCRATCH.
d=$SCRATCH
CHK="$PY $SRCDIR/tests/e2e/diffcheck.py"

# part RAW: partition 1 of RAW to $d/part.img; prints its offset.
part() {
  local start sectors
  read -r start sectors < <($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(*struct.unpack_from('<II',d,0x1BE+8))" "$1")
  dd if="$1" of="$d/part.img" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
  echo $((start * 512))
}
# hives RAW DIR: SYSTEM.reg and SOFTWARE.reg of RAW's partition 1.
hives() {
  part "$1" > /dev/null
  mkdir -p "$2"
  for h in SYSTEM SOFTWARE; do
    ntfscat "$d/part.img" "/Windows/System32/config/$h" > "$2/$h" &&
      hivexregedit --export "$2/$h" '\' > "$2/$h.reg" || return 1
  done
}
# volcmp NAME IN.raw OUT.raw: OUT differs from IN only in used clusters
# of OUT's Windows volume.
volcmp() {
  local off cs
  off=$(part "$3")
  ntfscat "$d/part.img" '$Bitmap' > "$d/bitmap" || { bad "$1: ntfscat \$Bitmap"; return; }
  cs=$($PY -c "import sys; b=open(sys.argv[1],'rb').read(512); print(int.from_bytes(b[11:13],'little')*b[13])" "$d/part.img")
  if r=$($CHK volcmp "$2" "$3" "$off" "$d/bitmap" "$cs" 2>&1); then ok "$1: $r"; else bad "$1: $r"; fi
  ntfsfix -n "$d/part.img" > "$d/fix" 2>&1 && ok "$1: ntfsfix -n finds the volume consistent" || bad "$1: ntfsfix -n: $(tail -2 "$d/fix")"
}
size_of() { stat -c %s "$1"; }
temps_left() { ls -a "$1" | grep -q 'boxwright-'; }
# check_hives NAME OUT.raw FLATP.raw IN.raw HOSTNAME_HEX: OUT's SYSTEM and
# SOFTWARE hives (hivexregedit --export) equal those of FLATP (a patch of
# a flattened copy: raw bytes of two patch runs differ in MFT time
# stamps), and OUT's Hostname, changed from IN's, is the REG_EXPAND_SZ
# bytes HOSTNAME_HEX.
check_hives() {
  local h
  if hives "$2" "$d/h.out" && hives "$3" "$d/h.flat" && hives "$4" "$d/h.in"; then
    for h in SYSTEM SOFTWARE; do
      $PY "$SRCDIR/tests/e2e/regdiff.py" "$d/h.flat/$h.reg" "$d/h.out/$h.reg" > "$d/$h.diff"
      ! grep -q . "$d/$h.diff" && ok "$1: $h hive as in the patched flattened copy" || bad "$1: $h differs from the flattened copy's: $(head -3 "$d/$h.diff")"
    done
    $PY "$SRCDIR/tests/e2e/regdiff.py" "$d/h.in/SYSTEM.reg" "$d/h.out/SYSTEM.reg" > "$d/sys.diff"
    grep -q "Parameters\\\\Hostname = hex(1):$5" "$d/sys.diff" &&
      ok "$1: Hostname is $5" || bad "$1: Hostname: $(grep 'Parameters\\Hostname' "$d/sys.diff")"
  else
    bad "$1: reading the hives"
  fi
  rm -rf "$d/h.out" "$d/h.flat" "$d/h.in"
}
