#!/usr/bin/env bash
# patch keeps a differencing VHD differencing: the output is a child of the
# same parent, named the same way (diffcheck.py link, vhdiinfo), holding
# only blocks that differ from the parent, each whole (diffcheck.py
# blocks); the parent is never written (sha256); the edited volume's free
# clusters and everything outside it keep the input's bytes (diffcheck.py
# volcmp with ntfscat's $Bitmap); libvhdi reads the chain as we do; the
# hives (hivexregedit --export) equal those of a patch of a flattened copy
# -- raw bytes of two patch runs differ in MFT time stamps, so the hives
# are compared by content.  A child with earlier data keeps those blocks
# and drops the ones equal to the parent.  An output that would not find
# the parent is refused with exit 3.  (A differencing VHDX:
# patch-diff-vhdx.sh.)
#
# qemu-img is no oracle here: it reads a type-4 VHD without its parent
# and has no check for vpc ("does not support checks"); qemu-img cannot
# create a differencing VHD either, so the children come from
# tests/fixtures-diff/mkdiffvhd.py.
. "$SRCDIR/tests/e2e/lib.sh"
GEN="$PY $SRCDIR/tests/fixtures-diff/mkdiffvhd.py"
. "$SRCDIR/tests/e2e/patch-diff-lib.sh"
CAT=$BUILDDIR/tests/tools/disk_cat
need_fixture nano-base.vhd
have_vhdi=1
$PY -c 'import pyvhdi' 2>/dev/null || have_vhdi=0

# read NAME IMG OUT.raw: our reading of the chain, which must be a
# differencing VHD, and libvhdi's, which must agree.
read_chain() {
  local fmt
  if ! fmt=$("$CAT" "$2" "$3" 2>"$d/err"); then bad "$1: disk_cat: $(cat "$d/err")"; return 1; fi
  case $fmt in vhd-differencing\ *) ok "$1: still a differencing VHD ($fmt)" ;;
    *) bad "$1: read as '$fmt'"; return 1 ;; esac
  if [ $have_vhdi = 1 ]; then
    if r=$($CHK vhdi "$2" "$d/parent.vhd" "$3" "$d/parent.raw" 2>&1); then ok "$1: libvhdi reads the chain as we do: $r"
    else bad "$1: libvhdi's reading differs: $r"; fi
  else
    skip_part "$1: python3-libvhdi missing: no independent reading"
  fi
}

cp --sparse=always "$FIXTURES/nano-base.vhd" "$d/parent.vhd"
psum=$(sha256sum < "$d/parent.vhd")
qemu-img convert -f vpc -O raw "$d/parent.vhd" "$d/parent.raw"
pid=$(vhdiinfo "$d/parent.vhd" | sed -n 's/^[[:space:]]*Identifier[^:]*:[[:space:]]*//p')

# 1. A fresh child (no block: the parent's disk), patched to -o beside it.
$GEN child "$d/c.vhd" --parent "$d/parent.vhd" --empty
if "$BOXWRIGHT" patch "$d/c.vhd" -o "$d/out.vhd" --quiet --json --hostname diffhost > "$d/j" 2>"$d/err"; then
  ok "fresh child: patch -o"
else
  bad "fresh child: patch failed: $(cat "$d/err")"; finish; exit
fi
fmt=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["format"])' "$d/j")
[ "$fmt" = vhd-differencing ] && ok "fresh child: --json format $fmt" || bad "fresh child: --json format '$fmt'"
[ "$(sha256sum < "$d/parent.vhd")" = "$psum" ] && ok "fresh child: the parent is unchanged (sha256)" || bad "fresh child: the parent changed"
read_chain "fresh child" "$d/out.vhd" "$d/out.raw"
if r=$($CHK link "$d/c.vhd" "$d/out.vhd" 2>&1); then ok "fresh child: names the parent as the input did: $r"; else bad "fresh child: parent link: $r"; fi
vhdiinfo "$d/out.vhd" > "$d/info"
grep -q "Disk type.*Differential" "$d/info" && ok "vhdiinfo: Differential" || bad "vhdiinfo: $(grep 'Disk type' "$d/info")"
cpid=$(sed -n 's/^[[:space:]]*Parent identifier[^:]*:[[:space:]]*//p' "$d/info")
[ -n "$pid" ] && [ "$cpid" = "$pid" ] && ok "vhdiinfo: parent identifier $cpid is the parent's" || bad "vhdiinfo: parent identifier '$cpid', the parent is '$pid'"
if r=$($CHK blocks "$d/out.vhd" "$d/parent.raw" 2>&1); then ok "fresh child: $r"; else bad "fresh child: $r"; fi
volcmp "fresh child" "$d/parent.raw" "$d/out.raw"
# What patch wrote before: a standalone dynamic VHD (the same as a patch
# of a flattened copy); its hives must equal ours.
"$BOXWRIGHT" convert "$d/c.vhd" "$d/flat.vhd" -O vhd --quiet &&
  "$BOXWRIGHT" patch "$d/flat.vhd" -o "$d/flatp.vhd" --quiet --hostname diffhost 2>"$d/err" || bad "flattened copy: $(cat "$d/err")"
cs=$(size_of "$d/c.vhd") os=$(size_of "$d/out.vhd") fs=$(size_of "$d/flatp.vhd")
echo "# sizes: child before $cs, after $os; the patched flattened (dynamic) copy $fs bytes"
[ "$os" -lt $((fs / 4)) ] && ok "fresh child: $os bytes, under a quarter of the dynamic VHD ($fs)" || bad "fresh child: $os bytes vs the dynamic $fs"
qemu-img convert -f vpc -O raw "$d/flatp.vhd" "$d/flatp.raw"
check_hives "fresh child" "$d/out.raw" "$d/flatp.raw" "$d/parent.raw" 64,00,69,00,66,00,66,00,68,00,6f,00,73,00,74,00,00,00
rm -rf "$d/flat.vhd" "$d/flatp.vhd" "$d/flatp.raw"

# 2. A child with data of its own (what the first patch wrote, as partial
#    sector bitmaps; plus a block equal to the parent and one with no bit
#    set), patched in place.
$GEN child "$d/c2.vhd" --parent "$d/parent.vhd" --from "$d/out.raw" --parent-raw "$d/parent.raw" --seed 3
chmod 600 "$d/c2.vhd"
cp "$d/c2.vhd" "$d/c2.before"
"$CAT" "$d/c2.vhd" "$d/c2.before.raw" > /dev/null
cmp -s "$d/c2.before.raw" "$d/out.raw" && ok "child with data: reads as the first output" || bad "child with data: mkdiffvhd --from"
cs=$(size_of "$d/c2.vhd")
if "$BOXWRIGHT" patch "$d/c2.vhd" --in-place --quiet --hostname second 2>"$d/err"; then
  ok "child with data: patch --in-place"
else
  bad "child with data: patch --in-place failed: $(cat "$d/err")"; finish; exit
fi
os=$(size_of "$d/c2.vhd")
echo "# sizes: child with data before $cs, after --in-place $os bytes"
[ "$(stat -c %a "$d/c2.vhd")" = 600 ] && ok "child with data: mode 600 kept" || bad "child with data: mode $(stat -c %a "$d/c2.vhd")"
[ "$(sha256sum < "$d/parent.vhd")" = "$psum" ] && ok "child with data: the parent is unchanged (sha256)" || bad "child with data: the parent changed"
read_chain "child with data" "$d/c2.vhd" "$d/c2.raw"
if r=$($CHK link "$d/c2.before" "$d/c2.vhd" 2>&1); then ok "child with data: the same parent link: $r"; else bad "child with data: parent link: $r"; fi
if r=$($CHK blocks "$d/c2.vhd" "$d/parent.raw" 2>&1); then ok "child with data: $r"; else bad "child with data: $r"; fi
if r=$($CHK kept "$d/c2.before" "$d/c2.before.raw" "$d/c2.vhd" "$d/parent.raw" 2>&1); then ok "child with data: the input's blocks: $r"; else bad "child with data: $r"; fi
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
#    relative locator only, and -o puts the new child elsewhere.
$GEN child "$d/c3.vhd" --parent "$d/parent.vhd" --empty --locators w2ru --no-parent-name
mkdir -p "$d/elsewhere"
expect_exit 3 "output elsewhere: refused" "$BOXWRIGHT" patch "$d/c3.vhd" -o "$d/elsewhere/o.vhd" --quiet --hostname x
grep -q "would not find its parent" "$d/err" && ! grep -q "boxwright-" "$d/err" && ok "output elsewhere: says so: $(cat "$d/err")" || bad "output elsewhere: message: $(cat "$d/err")"
[ -z "$(ls -A "$d/elsewhere")" ] && ok "output elsewhere: nothing left there" || bad "output elsewhere: left $(ls -A "$d/elsewhere")"

temps_left "$d" && bad "temporary files left behind" || ok "no temporary files left behind"
finish
