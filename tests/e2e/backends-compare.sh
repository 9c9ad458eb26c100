#!/usr/bin/env bash
# The native (libntfs-3g) and guestfs (appliance) backends must leave the
# same image behind: the same build (all four providers: every provider's
# disk equal to the VirtualBox one of its backend) of the sector-63 fixture (which moves,
# grows and gets every kind of edit) and the same patch of the fixture
# whose live control set is 2, done once with each backend.  Compared:
# `hivexregedit --export` of SYSTEM, SOFTWARE and BCD; the file tree (names,
# sizes, SHA-256 of every file) of the Windows volume; and inspect's view
# (partition, hidden sectors, BCD devices, MountedDevices, WinRM...).
# A difference is a bug in one of them.
. "$SRCDIR/tests/e2e/lib.sh"
command -v hivexregedit >/dev/null || { echo "hivexregedit missing (libwin-hivex-perl)"; exit 77; }
command -v ntfs-3g >/dev/null && [ -e /dev/fuse ] && [ "$(id -u)" = 0 ] ||
  { echo "needs root, /dev/fuse and ntfs-3g to mount the results read-only"; exit 77; }
need_fixture nano-sector63.vhd
need_fixture nano-cs2.vhd

MNT=$SCRATCH/mnt
cleanup() {
  for m in "$MNT"/*; do mountpoint -q "$m" 2>/dev/null && fusermount -u "$m" 2>/dev/null; done
  rm -rf "$SCRATCH"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
mkdir -p "$MNT"

printf '@echo off\r\nwinrm quickconfig -q\r\n' > "$SCRATCH/setup.cmd"
printf '<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend"/>\n' > "$SCRATCH/unattend.xml"
head -c 3000000 /dev/urandom > "$SCRATCH/payload.bin"
cat > "$SCRATCH/edit.reg" <<'EOF'
Windows Registry Editor Version 5.00

[HKEY_LOCAL_MACHINE\SOFTWARE\Boxwright\Compare]
"Name"="same on both"
"Count"=dword:0000002a

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\BwCompare]
"Start"=dword:00000004
EOF
EDITS=(--winrm --hostname cmp-host --setup-complete "$SCRATCH/setup.cmd"
       --unattend "$SCRATCH/unattend.xml" --reg "$SCRATCH/edit.reg"
       --copy-in "$SCRATCH/payload.bin:\\Program Files\\Compare Dir"
       --copy-in "$SCRATCH/setup.cmd:\\WINDOWS\\system32\\Extra")

# partition FILE -> byte offset and size of the Windows partition of a raw disk
part_of() {
  "$BOXWRIGHT" inspect --disk-only --json "$1" | $PY -c '
import json, sys
d = json.load(sys.stdin)
p = next(v for v in d["volumes"] if v["filesystem"] == "ntfs")
print(p["offset"], p["size"])'
}

# collect NAME RAWDISK: hive exports, file tree and inspect text under $SCRATCH/NAME.*
collect() {
  local name=$1 raw=$2 off size
  read -r off size < <(part_of "$raw") || { bad "$name: no NTFS partition"; return 1; }
  dd if="$raw" of="$SCRATCH/$name.part" bs=1M skip="$off" count="$size" conv=sparse \
     iflag=skip_bytes,count_bytes status=none
  mkdir -p "$MNT/$name"
  ntfs-3g -o ro "$SCRATCH/$name.part" "$MNT/$name" || { bad "$name: cannot mount the result"; return 1; }
  (cd "$MNT/$name" && find . -printf '%y %s %P\n' | LC_ALL=C sort > "$SCRATCH/$name.tree" &&
   find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum > "$SCRATCH/$name.sums")
  for h in Windows/System32/config/SYSTEM Windows/System32/config/SOFTWARE Boot/BCD; do
    hivexregedit --export "$MNT/$name/$h" '\' > "$SCRATCH/$name.$(basename "$h").reg" 2>&1 ||
      bad "$name: hivexregedit cannot read $h"
  done
  fusermount -u "$MNT/$name"
  # inspect minus the lines naming the file and its allocated size
  "$BOXWRIGHT" inspect "$raw" | grep -v -e '^Image:' -e '^Format:' > "$SCRATCH/$name.inspect"
}

compare() {   # WHAT A B
  local what=$1 a=$2 b=$3 f
  for f in tree sums SYSTEM.reg SOFTWARE.reg BCD.reg inspect; do
    if cmp -s "$SCRATCH/$a.$f" "$SCRATCH/$b.$f"; then
      ok "$what: $f equal on both backends ($(wc -l < "$SCRATCH/$a.$f") lines)"
    else
      bad "$what: $f differs between backends"
      diff "$SCRATCH/$a.$f" "$SCRATCH/$b.$f" | head -20 | sed 's/^/  /'
    fi
  done
}

# Every provider's disk of a build holds the same bytes as its VirtualBox
# VMDK (qemu-img compare), whose content is then compared across backends.
PROVIDERS=(virtualbox libvirt hyperv vmware_desktop)
DISKS=(box-disk001.vmdk box.img "Virtual Hard Disks/boxwright-nano.vhd" boxwright-nano.vmdk)
for be in native guestfs; do
  box=$SCRATCH/build-$be.box
  if BOXWRIGHT_BACKEND=$be "$BOXWRIGHT" build "$FIXTURES/nano-sector63.vhd" -o "$box" --size 6G \
       --provider "$(IFS=,; echo "${PROVIDERS[*]}")" \
       --hardware-uuid 8f6d2f4e-5a1b-4c3d-9e7f-0a1b2c3d4e5f --quiet "${EDITS[@]}" 2>"$SCRATCH/err"; then
    ok "build of the four providers with --backend $be"
  else
    bad "build with --backend $be: $(cat "$SCRATCH/err")"; continue
  fi
  for i in "${!PROVIDERS[@]}"; do
    p=${PROVIDERS[$i]}
    mkdir -p "$SCRATCH/box-$be-$p" && tar -xf "$SCRATCH/build-$be-$p.box" -C "$SCRATCH/box-$be-$p"
    [ "$p" = virtualbox ] && continue
    qemu-img compare "$SCRATCH/box-$be-$p/${DISKS[$i]}" "$SCRATCH/box-$be-virtualbox/box-disk001.vmdk" 2>&1 |
      grep -q "Images are identical" && ok "$be: the $p disk holds the VirtualBox disk's bytes" ||
      bad "$be: the $p disk differs from the VirtualBox one"
    rm -rf "$SCRATCH/box-$be-$p"
  done
  "$BOXWRIGHT" convert "$SCRATCH/box-$be-virtualbox/box-disk001.vmdk" "$SCRATCH/build-$be.raw" -O raw
  collect "build-$be" "$SCRATCH/build-$be.raw"
  rm -f "$SCRATCH/build-$be.raw" "$SCRATCH/build-$be.part"

  if BOXWRIGHT_BACKEND=$be "$BOXWRIGHT" patch "$FIXTURES/nano-cs2.vhd" -o "$SCRATCH/patch-$be.vhd" \
       --quiet "${EDITS[@]}" 2>"$SCRATCH/err"; then
    ok "patch with --backend $be"
  else
    bad "patch with --backend $be: $(cat "$SCRATCH/err")"; continue
  fi
  "$BOXWRIGHT" convert "$SCRATCH/patch-$be.vhd" "$SCRATCH/patch-$be.raw" -O raw
  collect "patch-$be" "$SCRATCH/patch-$be.raw"
  rm -f "$SCRATCH/patch-$be.raw" "$SCRATCH/patch-$be.part" "$SCRATCH/patch-$be.vhd"
done

compare "build nano-sector63" build-native build-guestfs
compare "patch nano-cs2" patch-native patch-guestfs
# The edits really are there (equal and empty would also compare equal).
grep -q '"Count"=dword:0000002a' "$SCRATCH/build-native.SOFTWARE.reg" &&
  grep -q 'BwCompare' "$SCRATCH/patch-native.SYSTEM.reg" &&
  grep -q 'Program Files/Compare Dir/payload.bin' "$SCRATCH/build-native.sums" &&
  grep -q '^f 33 Windows/System32/Extra/setup.cmd$' "$SCRATCH/patch-native.tree" &&
  ok "the compared outputs carry the edits" || bad "the compared outputs lack the edits"
finish
