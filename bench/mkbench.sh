#!/usr/bin/env bash
# mkbench.sh [--gpt] OUTDIR - build the benchmark image OUTDIR/nano-bench.vhd
# (--gpt: OUTDIR/nano-bench-gpt.vhdx, the same content in nano-gpt's layout:
# ESP, MSR, Windows, as a dynamic VHDX; needs sgdisk, mkfs.vfat, mtools).
#
# The same steps as fixtures/build-fixtures.sh for nano-base (variants.py
# prepare, mkntfs, ntfs-3g + populate.py, mkvhd.py), through
# fixtures/bench_image.py, bigger: a 4 GiB dynamic VHD whose NTFS volume
# holds about 400 MiB of real machine code (this machine's ELF files with
# a compressed "resource" tail, ~2:1 like Windows binaries) and about
# 1.5 GiB of deleted garbage in free space.  Writes nano-bench.vhd (or
# nano-bench-gpt.vhdx), its .facts.json and .manifest.txt.  Needs root (FUSE),
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

GPT=
if [ "${1:-}" = --gpt ]; then GPT=1; shift; fi
[ $# -eq 1 ] || die "usage: mkbench.sh [--gpt] OUTDIR"
[ "$(id -u)" = 0 ] || die "must run as root (FUSE mount of the NTFS volume)"
for t in mkntfs ntfs-3g hivexregedit fusermount mountpoint truncate \
         ${GPT:+sgdisk mkfs.vfat mmd mcopy qemu-img}; do
    command -v "$t" >/dev/null || die "$t not found"
done
[ -e /dev/fuse ] || die "/dev/fuse missing"
mkdir -p "$1"
OUT=$(cd "$1" && pwd)
NAME=nano-bench EXT=vhd
[ -z "$GPT" ] || NAME=nano-bench-gpt EXT=vhdx

# unmount_below, build_partition, build_gpt_raw
# shellcheck source=fixtures/lib-build.sh
. "$FIX/lib-build.sh"
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
    --garbage "${BENCH_GARBAGE:-600 936}" ${GPT:+--gpt}
# shellcheck disable=SC1091
. "$W/env"

# as build-fixtures.sh builds them, but the NTFS volume plain (no
# special files), as the benchmark image has always been
for ((i = 1; i <= NPARTS; i++)); do
    build_partition "$W" "$i" plain
done
echo "mkbench: volumes populated, $((SECONDS - t0)) s"

if [ "$TABLE" = gpt ]; then
    # build-fixtures.sh build_one: sgdisk on a sparse raw disk, the
    # partitions placed (data extents only), qemu-img to a dynamic VHDX
    pieces=()
    for ((i = 1; i <= NPARTS; i++)); do
        eval "pieces+=(\"\$P${i}_OFFSET:$W/p$i/part.img\")"
    done
    build_gpt_raw "$W" "${pieces[@]}"
    qemu-img convert -q -f raw -O vhdx -o \
        "subformat=$FORMAT,block_size=$VHDX_BLOCK,log_size=1M" \
        "$W/disk.raw" "$OUT/.$NAME.$EXT.tmp"
    qemu-img check -q -f vhdx "$OUT/.$NAME.$EXT.tmp" || die "qemu-img check failed"
else
    "$PY" "$FIX/mkvhd.py" "$OUT/.$NAME.$EXT.tmp" --type "$FORMAT" \
        --size "$DISK_SIZE" --uuid "$VHD_UUID" "0:$W/mbr.bin" "$P1_OFFSET:$W/p1/part.img"
    "$PY" "$FIX/mkvhd.py" --check "$OUT/.$NAME.$EXT.tmp"
fi
"$PY" "$FIX/bench_image.py" facts "$W" "$OUT/.$NAME.facts.json.tmp"
cp "$W/manifest.txt" "$OUT/.$NAME.manifest.txt.tmp"
mv "$OUT/.$NAME.manifest.txt.tmp" "$OUT/$NAME.manifest.txt"
mv "$OUT/.$NAME.facts.json.tmp" "$OUT/$NAME.facts.json"
mv "$OUT/.$NAME.$EXT.tmp" "$OUT/$NAME.$EXT"
echo "mkbench: $OUT/$NAME.$EXT, $((SECONDS - t0)) s"
