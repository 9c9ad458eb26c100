#!/usr/bin/env bash
# volcompare.py, the comparator the build and patch tests trust, catches
# what it claims to: on a small MBR disk whose NTFS volume populate.py
# --special fills (3 hard links, 2 named streams, compressed and sparse
# files, a deep path), an untouched copy compares equal; a copy where one
# named stream changed, a hard link became a separate copy, a compressed
# file was rewritten uncompressed and the sparse file's holes were filled
# (same content everywhere) shows each of these, and no content
# difference.
. "$SRCDIR/tests/e2e/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (FUSE, loop devices)"; exit 77; }
for t in mkntfs ntfs-3g sfdisk losetup fusermount; do
  command -v $t > /dev/null || { echo "SKIP: $t missing"; exit 77; }
done
d=$SCRATCH
truncate -s 64M "$d/part.img"
mkntfs -F -Q -q -s 512 -c 4096 -p 2048 "$d/part.img" > /dev/null 2>&1 || { bad "mkntfs"; finish; }
mkdir "$d/tree" "$d/mnt"
mount_rw() { ntfs-3g -o streams_interface=windows,compression "$1" "$d/mnt"; }
mount_rw "$d/part.img" && "$PY" "$SRCDIR/fixtures/populate.py" "$d/tree" "$d/mnt" --special --seed 7
rc=$?
fusermount -u "$d/mnt"
[ $rc = 0 ] && ok "populate.py --special on a 64 MiB volume" || { bad "populate.py --special"; finish; }
cp --sparse=always "$d/part.img" "$d/tampered.img"
mount_rw "$d/tampered.img" && "$PY" - "$d/mnt" <<'PYEOF'
import os, shutil, sys
m = sys.argv[1]
p = lambda r: os.path.join(m, r)
# a named stream's content
with open(p("Users/Public/Downloads/setup.exe:Boxwright.Big"), "r+b") as f:
    f.seek(4096); f.write(b"X")
# a hard link turned into a copy
shutil.copyfile(p("Windows/System32/bwlink.dll"), p("bwlink.tmp"))
os.unlink(p("Program Files/Boxwright/bwlink.dll"))
os.rename(p("bwlink.tmp"), p("Program Files/Boxwright/bwlink.dll"))
# the compressed file rewritten outside the compressed directory
shutil.copyfile(p("Windows/Logs/CBS/CBS.log"), p("cbs.tmp"))
os.unlink(p("Windows/Logs/CBS/CBS.log"))
os.rename(p("cbs.tmp"), p("Windows/Logs/CBS/CBS.log"))
# the sparse file's holes filled with zeros (same content)
sp = p("Windows/System32/LogFiles/Sparse/usnjrnl.dat")
data = open(sp, "rb").read()
os.unlink(sp)
with open(sp, "wb") as f:
    for i in range(0, len(data), 65536):
        f.write(data[i:i + 65536])
PYEOF
rc=$?
fusermount -u "$d/mnt"
[ $rc = 0 ] && ok "tampered copy written" || { bad "tampering"; finish; }
disk() {   # PART.IMG DISK
  truncate -s 80M "$2"
  printf 'label: dos\nstart=2048, size=131072, type=7\n' | sfdisk -q "$2" &&
    dd if="$1" of="$2" bs=1M seek=1 conv=notrunc,sparse status=none
}
disk "$d/part.img" "$d/in.raw" && disk "$d/part.img" "$d/same.raw" && disk "$d/tampered.img" "$d/out.raw" ||
  { bad "assembling the disks"; finish; }
"$PY" "$SRCDIR/tests/e2e/volcompare.py" --special 1 "$d/in.raw" "$d/same.raw" > "$d/same.txt" 2>&1
rc=$?
sed 's/^/  /' "$d/same.txt"
[ $rc = 77 ] && { echo "SKIP: volcompare.py could not run"; exit 77; }
[ $rc = 0 ] && grep -q "identical" "$d/same.txt" && ok "an untouched copy compares equal" || bad "an untouched copy: exit $rc"
"$PY" "$SRCDIR/tests/e2e/volcompare.py" --special 1 --allow 'Windows/Logs/CBS/CbsPersist_*' "$d/in.raw" "$d/out.raw" > "$d/out.txt" 2>&1
rc=$?
sed 's/^/  /' "$d/out.txt"
[ $rc = 1 ] && ok "the tampered copy differs (exit 1)" || bad "the tampered copy: exit $rc"
want() {   # WHAT REGEX
  grep -Eq "$2" "$d/out.txt" && ok "reported: $1" || bad "not reported: $1"
}
want "the changed named stream" '^volcompare: p1: Users/Public/Downloads/setup.exe: streams .*Boxwright.Big'
want "the broken hard-link group" '^volcompare: p1: Program Files/Boxwright/bwlink.dll: links '
want "the group's other members" '^volcompare: p1: Windows/System32/bwlink.dll: (links|nlink) '
want "the lost compression attribute" '^volcompare: p1: Windows/Logs/CBS/CBS.log: attrib 0x00000820 -> 0x00000020'
want "the lost sparse attribute" '^volcompare: p1: Windows/System32/LogFiles/Sparse/usnjrnl.dat: attrib 0x00000220 -> 0x00000020'
want "the filled holes" '^volcompare: p1: Windows/System32/LogFiles/Sparse/usnjrnl.dat: blocks '
grep -Eq ': sha256 ' "$d/out.txt" && bad "a content difference where the content is the same" || ok "no content difference reported (the contents are the same)"
finish
