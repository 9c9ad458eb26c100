# Helpers of the patch tests of differencing images (patch-diff.sh,
# patch-diff-vhdx.sh), sourced after lib.sh: partitions, hives and volume
# comparisons of raw disks in $SCRATCH, and the checks both make.  The
# caller sets EXT (vhd, vhdx), QFMT (qemu-img's name of it), CHECKER
# (diffcheck.py or vhdx_tool.py: the same link, blocks, kept and vhdi
# commands) and, once made, $d/parent.$EXT, $d/parent.raw and psum (its
# sha256).
d=$SCRATCH
CHK="$PY $SRCDIR/tests/e2e/diffcheck.py"
CAT=$BUILDDIR/tests/tools/disk_cat
have_vhdi=1
$PY -c 'import pyvhdi' 2>/dev/null || have_vhdi=0
KIND=${EXT^^}

# read_chain NAME IMG OUT.raw: our reading of the chain, which must be a
# differencing image, and libvhdi's, which must agree.
read_chain() {
  local fmt r
  if ! fmt=$("$CAT" "$2" "$3" 2>"$d/err"); then bad "$1: disk_cat: $(cat "$d/err")"; return 1; fi
  case $fmt in "$EXT-differencing "*) ok "$1: still a differencing $KIND ($fmt)" ;;
    *) bad "$1: read as '$fmt'"; return 1 ;; esac
  if [ $have_vhdi = 1 ]; then
    if r=$($CHECKER vhdi "$2" "$d/parent.$EXT" "$3" "$d/parent.raw" 2>&1); then ok "$1: libvhdi reads the chain as we do: $r"
    else bad "$1: libvhdi's reading differs: $r"; fi
  else
    skip_part "$1: python3-libvhdi missing: no independent reading"
  fi
}
# vhdimount_cmp NAME IMG OUT.raw: libvhdi's flattening of IMG's chain
# (vhdimount: the image is the last vhdiN) equals OUT.raw byte for byte.
vhdimount_cmp() {
  local m="$d/mnt" last
  mkdir -p "$m"
  if [ ! -c /dev/fuse ] || ! vhdimount "$2" "$m" > "$d/mount.err" 2>&1; then
    skip_part "$1: vhdimount could not mount: $(tail -1 "$d/mount.err" 2>/dev/null)"; return
  fi
  last=$(ls "$m" | sort -V | tail -1)
  cmp "$m/$last" "$3" > "$d/cmp" 2>&1 && ok "$1: vhdimount's flattening equals ours" || bad "$1: vhdimount's flattening differs: $(cat "$d/cmp")"
  fusermount -u "$m" 2>/dev/null || umount "$m"
}
# vhdi_link NAME IMG PID [PARENT_FILENAME]: vhdiinfo sees a differencing
# image naming the parent whose identifier vhdiinfo gives as PID.
vhdi_link() {
  local cpid cname
  vhdiinfo "$2" > "$d/info" 2>&1 || { bad "$1: vhdiinfo: $(tail -1 "$d/info")"; return; }
  grep -q "Disk type.*Differential" "$d/info" && ok "$1: vhdiinfo: Differential" || bad "$1: vhdiinfo: $(grep 'Disk type' "$d/info")"
  cpid=$(sed -n 's/^[[:space:]]*Parent identifier[^:]*:[[:space:]]*//p' "$d/info")
  [ -n "$3" ] && [ "$cpid" = "$3" ] && ok "$1: vhdiinfo: parent identifier $cpid is the parent's" || bad "$1: vhdiinfo: parent identifier '$cpid', the parent is '$3'"
  [ $# -lt 4 ] && return
  cname=$(sed -n 's/^[[:space:]]*Parent filename[^:]*:[[:space:]]*//p' "$d/info")
  [ "$cname" = "$4" ] && ok "$1: vhdiinfo: parent file name $cname" || bad "$1: vhdiinfo: parent file name '$cname', expected '$4'"
}
# identifier IMG: vhdiinfo's identifier of IMG.
identifier() { vhdiinfo "$1" | sed -n 's/^[[:space:]]*Identifier[^:]*:[[:space:]]*//p'; }

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
# timed_patch OUTVAR ARGS...: run patch (stderr to $d/err), put its wall
# time in seconds in OUTVAR.
timed_patch() {
  local var=$1 t0 rc; shift
  t0=$(date +%s.%N)
  "$BOXWRIGHT" patch "$@" 2>"$d/err"; rc=$?
  printf -v "$var" '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)"
  return $rc
}
# check_fresh NAME IN OUT: patch -o OUT --json (to $d/j) --hostname
# diffhost of IN, a child holding no block; then the format, the parent
# unchanged, the chain read (to $d/out.raw), CHECKER's link and blocks,
# volcmp against the parent; and a flattened copy of IN patched the same
# way (what patch wrote before: a standalone image) must be far larger,
# with the same hives.  Returns 1 when patch failed.
check_fresh() {
  local r fmt cs os fs t
  if timed_patch t "$2" -o "$3" --quiet --json --hostname diffhost > "$d/j"; then
    ok "$1: patch -o ($t s)"
  else
    bad "$1: patch failed: $(cat "$d/err")"; return 1
  fi
  fmt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["format"])' "$d/j")
  [ "$fmt" = "$EXT-differencing" ] && ok "$1: --json format $fmt" || bad "$1: --json format '$fmt'"
  [ "$(sha256sum < "$d/parent.$EXT")" = "$psum" ] && ok "$1: the parent is unchanged (sha256)" || bad "$1: the parent changed"
  read_chain "$1" "$3" "$d/out.raw"
  if r=$($CHECKER link "$2" "$3" 2>&1); then ok "$1: names the parent as the input did: $r"; else bad "$1: parent link: $r"; fi
  if r=$($CHECKER blocks "$3" "$d/parent.raw" 2>&1); then ok "$1: $r"; else bad "$1: $r"; fi
  volcmp "$1" "$d/parent.raw" "$d/out.raw"
  "$BOXWRIGHT" convert "$2" "$d/flat.$EXT" -O "$EXT" --quiet &&
    "$BOXWRIGHT" patch "$d/flat.$EXT" -o "$d/flatp.$EXT" --quiet --hostname diffhost 2>"$d/err" || bad "$1: flattened copy: $(cat "$d/err")"
  cs=$(size_of "$2") os=$(size_of "$3") fs=$(size_of "$d/flatp.$EXT")
  echo "# sizes: child before $cs, after $os; the patched flattened (dynamic) copy $fs bytes; patch took $t s"
  [ "$os" -lt $((fs / 4)) ] && ok "$1: $os bytes, under a quarter of the dynamic $KIND ($fs)" || bad "$1: $os bytes vs the dynamic $fs"
  qemu-img convert -f "$QFMT" -O raw "$d/flatp.$EXT" "$d/flatp.raw"
  check_hives "$1" "$d/out.raw" "$d/flatp.raw" "$d/parent.raw" 64,00,69,00,66,00,66,00,68,00,6f,00,73,00,74,00,00,00
  rm -f "$d/flat.$EXT" "$d/flatp.$EXT" "$d/flatp.raw"
}
# check_second_patch NAME IMG: IMG, a child reading as $d/out.raw (the
# first output), made mode 600 and patched --in-place --hostname second
# (the input kept as $d/c2.before, read as $d/c2.before.raw): the mode
# kept, the parent unchanged, the chain read (to $d/c2.raw), CHECKER's
# link, blocks and kept (two input blocks dropped: one equal to the
# parent, one with no sector bit), volcmp against the input, the
# Hostname, no temporary files left.  Returns 1 when patch failed.
check_second_patch() {
  local r cs t
  chmod 600 "$2"
  cp "$2" "$d/c2.before"
  "$CAT" "$2" "$d/c2.before.raw" > /dev/null
  cmp -s "$d/c2.before.raw" "$d/out.raw" && ok "$1: reads as the first output" || bad "$1: the child builder's --from"
  set -- "$1" "$2" "$d/c2.before" "$d/c2.before.raw"
  cs=$(size_of "$2")
  if timed_patch t "$2" --in-place --quiet --hostname second; then
    ok "$1: patch --in-place ($t s)"
  else
    bad "$1: patch --in-place failed: $(cat "$d/err")"; return 1
  fi
  echo "# sizes: child with data before $cs, after --in-place $(size_of "$2") bytes; patch took $t s"
  [ "$(stat -c %a "$2")" = 600 ] && ok "$1: mode 600 kept" || bad "$1: mode $(stat -c %a "$2")"
  [ "$(sha256sum < "$d/parent.$EXT")" = "$psum" ] && ok "$1: the parent is unchanged (sha256)" || bad "$1: the parent changed"
  read_chain "$1" "$2" "$d/c2.raw"
  if r=$($CHECKER link "$3" "$2" 2>&1); then ok "$1: the same parent link: $r"; else bad "$1: parent link: $r"; fi
  if r=$($CHECKER blocks "$2" "$d/parent.raw" 2>&1); then ok "$1: $r"; else bad "$1: $r"; fi
  if r=$($CHECKER kept "$3" "$4" "$2" "$d/parent.raw" 2>&1); then ok "$1: the input's blocks: $r"; else bad "$1: $r"; fi
  case $r in *" 2 dropped"*) ok "$1: the equal and the empty-bitmap blocks dropped" ;;
    *) bad "$1: expected 2 blocks dropped: $r" ;; esac
  volcmp "$1" "$4" "$d/c2.raw"
  if hives "$d/c2.raw" "$d/h2"; then
    grep -q '"Hostname"=hex(1):73,00,65,00,63,00,6f,00,6e,00,64,00,00,00' "$d/h2/SYSTEM.reg" &&
      ok "$1: Hostname is \"second\"" || bad "$1: Hostname: $(grep '"Hostname"' "$d/h2/SYSTEM.reg")"
  else
    bad "$1: reading the hives"
  fi
  temps_left "$d" && bad "$1: temporary files left" || ok "$1: no temporary files left"
  rm -rf "$d/h2" "$d/c2.raw" "$d/c2.before" "$d/c2.before.raw"
}
# check_elsewhere NAME IMG: patch -o into another directory, where IMG's
# locators would not lead to its parent, is refused with the kind named,
# and nothing is left there.
check_elsewhere() {
  mkdir -p "$d/elsewhere"
  expect_exit 3 "$1: refused" "$BOXWRIGHT" patch "$2" -o "$d/elsewhere/o.$EXT" --quiet --hostname x
  grep -q "differencing $KIND would not find its parent.*-O $EXT" "$d/err" && ! grep -q "boxwright-" "$d/err" && ok "$1: says so: $(cat "$d/err")" || bad "$1: message: $(cat "$d/err")"
  [ -z "$(ls -A "$d/elsewhere")" ] && ok "$1: nothing left there" || bad "$1: left $(ls -A "$d/elsewhere")"
}
