#!/usr/bin/env bash
# patch keeps a differencing VHDX differencing: the output is a child of
# the same parent with the input's Parent Locator item, block and sector
# sizes and Page 83 Data, new write GUIDs (vhdx_tool.py link; vhdiinfo's
# parent identifier and file name), only fully present blocks that differ
# from the parent and no sector bitmap (vhdx_tool.py blocks); the parent
# is never written (sha256); libvhdi reads the chain as we do
# (vhdx_tool.py vhdi: an independent flatten, compared wherever there is
# data); the edited volume's free clusters and everything outside it keep
# the input's bytes (diffcheck.py volcmp with ntfscat's $Bitmap); the
# hives (hivexregedit --export) equal those of a patch of a flattened
# copy.  A child with earlier data (partially present blocks, other block
# size) keeps those blocks and drops the ones equal to the parent.  An
# output that would not find the parent, and a child holding what a new
# one could not keep, are refused with exit 3 before any work.
#
# qemu-img is no oracle here: it opens no differencing VHDX ("Operation
# not supported") and cannot make one, so the children come from
# tests/e2e/vhdx_tool.py, written from [MS-VHDX]; qemu-img makes the
# parent (an independent VHDX writer) and reads the flattened copies.
. "$SRCDIR/tests/e2e/lib.sh"
. "$SRCDIR/tests/e2e/patch-diff-lib.sh"
TOOL="$PY $SRCDIR/tests/e2e/vhdx_tool.py"
CAT=$BUILDDIR/tests/tools/disk_cat
need_fixture nano-base.vhd
have_vhdi=1
$PY -c 'import pyvhdi' 2>/dev/null || have_vhdi=0

# read_chain NAME IMG OUT.raw: our reading of the chain, which must be a
# differencing VHDX, and libvhdi's, which must agree.
read_chain() {
  local fmt r
  if ! fmt=$("$CAT" "$2" "$3" 2>"$d/err"); then bad "$1: disk_cat: $(cat "$d/err")"; return 1; fi
  case $fmt in vhdx-differencing\ *) ok "$1: still a differencing VHDX ($fmt)" ;;
    *) bad "$1: read as '$fmt'"; return 1 ;; esac
  if [ $have_vhdi = 1 ]; then
    if r=$($TOOL vhdi "$2" "$d/parent.vhdx" "$3" "$d/parent.raw" 2>&1); then ok "$1: libvhdi reads the chain as we do: $r"
    else bad "$1: libvhdi's reading differs: $r"; fi
  else
    skip_part "$1: python3-libvhdi missing: no independent reading"
  fi
}
# vhdi_link NAME IMG: vhdiinfo sees a differencing VHDX naming the parent.
vhdi_link() {
  local cpid cname
  vhdiinfo "$2" > "$d/info" 2>&1 || { bad "$1: vhdiinfo: $(tail -1 "$d/info")"; return; }
  grep -q "Disk type.*Differential" "$d/info" && ok "$1: vhdiinfo: Differential" || bad "$1: vhdiinfo: $(grep 'Disk type' "$d/info")"
  cpid=$(sed -n 's/^[[:space:]]*Parent identifier[^:]*:[[:space:]]*//p' "$d/info")
  [ -n "$pid" ] && [ "$cpid" = "$pid" ] && ok "$1: vhdiinfo: parent identifier $cpid is the parent's" || bad "$1: vhdiinfo: parent identifier '$cpid', the parent is '$pid'"
  cname=$(sed -n 's/^[[:space:]]*Parent filename[^:]*:[[:space:]]*//p' "$d/info")
  [ "$cname" = 'C:\nowhere\parent.vhdx' ] && ok "$1: vhdiinfo: parent file name $cname" || bad "$1: vhdiinfo: parent file name '$cname'"
}
# timed_patch OUTVAR ARGS...: run patch, put its wall time in OUTVAR.
timed_patch() {
  local var=$1 t0 rc; shift
  t0=$(date +%s.%N)
  "$BOXWRIGHT" patch "$@" 2>"$d/err"; rc=$?
  printf -v "$var" '%.2f' "$(echo "$(date +%s.%N) - $t0" | bc)"
  return $rc
}

qemu-img convert -f vpc -O vhdx -o subformat=dynamic "$FIXTURES/nano-base.vhd" "$d/parent.vhdx"
psum=$(sha256sum < "$d/parent.vhdx")
qemu-img convert -f vhdx -O raw "$d/parent.vhdx" "$d/parent.raw"
pid=$(vhdiinfo "$d/parent.vhdx" | sed -n 's/^[[:space:]]*Identifier[^:]*:[[:space:]]*//p')

# 1. A fresh child (no block: the parent's disk; every locator key, an
#    unknown one too), patched to -o beside it.
$TOOL child "$d/parent.vhdx" "$d/c.vhdx" - --empty --keys linkage,relative,volume,absolute,extra > /dev/null
if timed_patch t1 "$d/c.vhdx" -o "$d/out.vhdx" --quiet --json --hostname diffhost > "$d/j"; then
  ok "fresh child: patch -o (${t1} s)"
else
  bad "fresh child: patch failed: $(cat "$d/err")"; finish; exit
fi
fmt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["format"])' "$d/j")
[ "$fmt" = vhdx-differencing ] && ok "fresh child: --json format $fmt" || bad "fresh child: --json format '$fmt'"
[ "$(sha256sum < "$d/parent.vhdx")" = "$psum" ] && ok "fresh child: the parent is unchanged (sha256)" || bad "fresh child: the parent changed"
read_chain "fresh child" "$d/out.vhdx" "$d/out.raw"
if r=$($TOOL link "$d/c.vhdx" "$d/out.vhdx" 2>&1); then ok "fresh child: keeps the input's link: $r"; else bad "fresh child: link: $r"; fi
vhdi_link "fresh child" "$d/out.vhdx"
if r=$($TOOL blocks "$d/out.vhdx" "$d/parent.raw" 2>&1); then ok "fresh child: $r"; else bad "fresh child: $r"; fi
volcmp "fresh child" "$d/parent.raw" "$d/out.raw"
# A standalone dynamic VHDX patched the same way: its hives must equal ours.
"$BOXWRIGHT" convert "$d/c.vhdx" "$d/flat.vhdx" -O vhdx --quiet &&
  "$BOXWRIGHT" patch "$d/flat.vhdx" -o "$d/flatp.vhdx" --quiet --hostname diffhost 2>"$d/err" || bad "flattened copy: $(cat "$d/err")"
cs=$(size_of "$d/c.vhdx") os=$(size_of "$d/out.vhdx") fs=$(size_of "$d/flatp.vhdx")
echo "# sizes: child before $cs, after $os; the patched flattened (dynamic) copy $fs bytes; patch took $t1 s"
[ "$os" -lt $((fs / 4)) ] && ok "fresh child: $os bytes, under a quarter of the dynamic VHDX ($fs)" || bad "fresh child: $os bytes vs the dynamic $fs"
qemu-img convert -f vhdx -O raw "$d/flatp.vhdx" "$d/flatp.raw"
check_hives "fresh child" "$d/out.raw" "$d/flatp.raw" "$d/parent.raw" 64,00,69,00,66,00,66,00,68,00,6f,00,73,00,74,00,00,00
rm -f "$d/flat.vhdx" "$d/flatp.vhdx" "$d/flatp.raw"

# 2. A child with data of its own in 4 MiB blocks (what the first patch
#    wrote, whole and as partial sector bitmaps; plus a block equal to the
#    parent and one with no bit set), patched in place.
$TOOL child "$d/parent.vhdx" "$d/c2.vhdx" - --from "$d/out.raw" --parent-raw "$d/parent.raw" --block-size 4 > /dev/null
chmod 600 "$d/c2.vhdx"
cp "$d/c2.vhdx" "$d/c2.before"
"$CAT" "$d/c2.vhdx" "$d/c2.before.raw" > /dev/null
cmp -s "$d/c2.before.raw" "$d/out.raw" && ok "child with data: reads as the first output" || bad "child with data: vhdx_tool.py --from"
cs=$(size_of "$d/c2.vhdx")
if timed_patch t2 "$d/c2.vhdx" --in-place --quiet --hostname second; then
  ok "child with data: patch --in-place (${t2} s)"
else
  bad "child with data: patch --in-place failed: $(cat "$d/err")"; finish; exit
fi
os=$(size_of "$d/c2.vhdx")
echo "# sizes: child with data before $cs, after --in-place $os bytes; patch took $t2 s"
[ "$(stat -c %a "$d/c2.vhdx")" = 600 ] && ok "child with data: mode 600 kept" || bad "child with data: mode $(stat -c %a "$d/c2.vhdx")"
[ "$(sha256sum < "$d/parent.vhdx")" = "$psum" ] && ok "child with data: the parent is unchanged (sha256)" || bad "child with data: the parent changed"
read_chain "child with data" "$d/c2.vhdx" "$d/c2.raw"
if r=$($TOOL link "$d/c2.before" "$d/c2.vhdx" 2>&1); then ok "child with data: keeps the input's link: $r"; else bad "child with data: link: $r"; fi
vhdi_link "child with data" "$d/c2.vhdx"
if r=$($TOOL blocks "$d/c2.vhdx" "$d/parent.raw" 2>&1); then ok "child with data: $r"; else bad "child with data: $r"; fi
if r=$($TOOL kept "$d/c2.before" "$d/c2.before.raw" "$d/c2.vhdx" "$d/parent.raw" 2>&1); then ok "child with data: the input's blocks: $r"; else bad "child with data: $r"; fi
case $r in *" 2 dropped"*) ok "child with data: the equal and the empty-bitmap blocks dropped" ;;
  *) bad "child with data: expected 2 blocks dropped: $r" ;; esac
volcmp "child with data" "$d/c2.before.raw" "$d/c2.raw"
if hives "$d/c2.raw" "$d/h2"; then
  grep -q '"Hostname"=hex(1):73,00,65,00,63,00,6f,00,6e,00,64,00,00,00' "$d/h2/SYSTEM.reg" &&
    ok "child with data: Hostname is \"second\"" || bad "child with data: Hostname: $(grep '"Hostname"' "$d/h2/SYSTEM.reg")"
else
  bad "child with data: reading the hives"
fi
temps_left "$d" && bad "child with data: temporary files left" || ok "child with data: no temporary files left"
rm -rf "$d/h2" "$d/c2.before" "$d/c2.before.raw" "$d/c2.raw" "$d/out.raw"

# 3. An output that would not find the parent: the child finds it by its
#    relative path only, and -o puts the new child elsewhere.
$TOOL child "$d/parent.vhdx" "$d/c3.vhdx" - --empty --keys linkage,relative > /dev/null
mkdir -p "$d/elsewhere"
expect_exit 3 "output elsewhere: refused" "$BOXWRIGHT" patch "$d/c3.vhdx" -o "$d/elsewhere/o.vhdx" --quiet --hostname x
grep -q "differencing VHDX would not find its parent.*-O vhdx" "$d/err" && ! grep -q "boxwright-" "$d/err" && ok "output elsewhere: says so: $(cat "$d/err")" || bad "output elsewhere: message: $(cat "$d/err")"
[ -z "$(ls -A "$d/elsewhere")" ] && ok "output elsewhere: nothing left there" || bad "output elsewhere: left $(ls -A "$d/elsewhere")"

# 4. What a new child could not keep, refused before any work (exit 3, a
#    hint), the image untouched: an optional metadata item we do not know
#    (the new child would lose it), a parent locator of another type.
$TOOL child "$d/parent.vhdx" "$d/c4.vhdx" - --empty --user-item > /dev/null
$TOOL child "$d/parent.vhdx" "$d/c5.vhdx" - --empty --locator-type 0a1b2c3d-1111-2222-3333-444455556666 > /dev/null
for c in "c4.vhdx:optional metadata item.*boxwright does not know.*-O vhdx" "c5.vhdx:Parent Locator.*locator type.*expected the VHDX type"; do
  img=${c%%:*} want=${c#*:}
  xsum=$(sha256sum < "$d/$img")
  for how in "--in-place" "-o $d/x.vhdx"; do
    expect_exit 3 "$img ($how): refused" "$BOXWRIGHT" patch "$d/$img" $how --quiet --hostname x
    grep -q "^boxwright: $d/$img: .*$want" "$d/err" && [ "$(wc -l < "$d/err")" = 1 ] &&
      ok "$img ($how): one line naming the file and what was expected: $(cat "$d/err")" || bad "$img ($how): message: $(cat "$d/err")"
  done
  [ "$(sha256sum < "$d/$img")" = "$xsum" ] && ok "$img: unchanged" || bad "$img: changed"
  [ ! -e "$d/x.vhdx" ] && ok "$img: no output" || bad "$img: an output was written"
done
temps_left "$d" && bad "temporary files left behind" || ok "no temporary files left behind"
finish
