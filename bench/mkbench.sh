#!/usr/bin/env bash
# mkbench.sh OUTDIR - build the benchmark image OUTDIR/nano-bench.vhd.
#
# The same steps as fixtures/build-fixtures.sh for nano-base (variants.py
# prepare, mkntfs, ntfs-3g + populate.py, mkvhd.py), through
# fixtures/bench_image.py, bigger: a 4 GiB dynamic VHD whose NTFS volume
# holds about 400 MiB of real machine code (this machine's ELF files with
# a compressed "resource" tail, ~2:1 like Windows binaries) and about
# 1.5 GiB of deleted garbage in free space.  Writes nano-bench.vhd,
# nano-bench.facts.json and nano-bench.manifest.txt.  Needs root (FUSE),
# mkntfs/ntfs-3g, hivexregedit, /usr/bin/python3.  About 2 minutes.
#
# Environment: BENCH_BINARIES_MIB (400), BENCH_GARBAGE ('600 936' MiB
# before/after the tree).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail

PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIX=$(cd "$HERE/../fixtures" && pwd)
die() { echo "mkbench: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: mkbench.sh OUTDIR"
[ "$(id -u)" = 0 ] || die "must run as root (FUSE mount of the NTFS volume)"
for t in mkntfs ntfs-3g hivexregedit fusermount mountpoint truncate; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -e /dev/fuse ] || die "/dev/fuse missing"
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
NAME=nano-bench

unmount_below() {
    local dir=$1 m
    awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r m; do
        fusermount -u "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    if [ -f "$dir/p1/ntfs-3g.pid" ]; then
        kill "$(cat "$dir/p1/ntfs-3g.pid")" 2>/dev/null || true
        rm -f "$dir/p1/ntfs-3g.pid"
    fi
}
for old in "$OUT"/.bench.*; do
    [ -d "$old" ] || continue
    unmount_below "$old"
    rm -rf "$old"
done
rm -f "$OUT/.$NAME".*.tmp

W=$(mktemp -d "$OUT/.bench.XXXXXX")
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    unmount_below "$W"
    rm -rf "$W"
    rm -f "$OUT/.$NAME".*.tmp
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t0=$SECONDS
"$PY" "$FIX/bench_image.py" prepare "$W" \
    --binaries-mib "${BENCH_BINARIES_MIB:-400}" \
    --garbage "${BENCH_GARBAGE:-600 936}"
# shellcheck disable=SC1091
. "$W/env"
[ "$NPARTS" = 1 ] || die "expected one partition"

# build-fixtures.sh build_partition, for partition 1
P="$W/p1"
truncate -s "$P1_BYTES" "$P/part.img"
mkntfs -F -Q -q -s 512 -c 4096 -p "$P1_HIDDEN" -H 255 -S 63 -L "$P1_LABEL" \
    "$P/part.img"
"$PY" "$FIX/mkmbr.py" serial "$P/part.img" "$P1_SERIAL"
mkdir "$P/mnt"
ntfs-3g -o no_detach,big_writes "$P/part.img" "$P/mnt" &
pid=$!
echo "$pid" > "$P/ntfs-3g.pid"
n=0
until mountpoint -q "$P/mnt"; do
    kill -0 "$pid" 2>/dev/null || die "ntfs-3g exited before mounting"
    n=$((n + 1)); [ $n -lt 200 ] || die "ntfs-3g did not mount"
    sleep 0.05
done
"$PY" "$FIX/populate.py" "$P/tree" "$P/mnt" --attrs "$P/attrs" \
    --garbage "$P1_GARBAGE" --seed "$P1_SEED"
fusermount -u "$P/mnt"
wait "$pid" || die "ntfs-3g failed"
rm -f "$P/ntfs-3g.pid"
rmdir "$P/mnt"
rm -rf "$P/tree"
echo "mkbench: volume populated, $((SECONDS - t0)) s"

"$PY" "$FIX/mkvhd.py" "$OUT/.$NAME.vhd.tmp" --type "$FORMAT" \
    --size "$DISK_SIZE" --uuid "$VHD_UUID" "0:$W/mbr.bin" "$P1_OFFSET:$P/part.img"
"$PY" "$FIX/mkvhd.py" --check "$OUT/.$NAME.vhd.tmp"
"$PY" "$FIX/bench_image.py" facts "$W" "$OUT/.$NAME.facts.json.tmp"
cp "$W/manifest.txt" "$OUT/.$NAME.manifest.txt.tmp"
mv "$OUT/.$NAME.manifest.txt.tmp" "$OUT/$NAME.manifest.txt"
mv "$OUT/.$NAME.facts.json.tmp" "$OUT/$NAME.facts.json"
mv "$OUT/.$NAME.vhd.tmp" "$OUT/$NAME.vhd"
echo "mkbench: $OUT/$NAME.vhd, $((SECONDS - t0)) s"
