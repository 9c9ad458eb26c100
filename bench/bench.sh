#!/usr/bin/env bash
# bench.sh - boxwright vs qemu-img vs the deflate floor, on one image.
#
#   bench/bench.sh [--rebuild] [--runs N] [--best] [--rows "ROWS"] [--no-doc]
#                  [--profile] [--report-only]
#
# Builds (once, cached in $BENCH_DIR) the benchmark image with
# bench/mkbench.sh: a 4 GiB dynamic VHD, ~400 MiB of binaries in use and
# ~1.5 GiB of deleted garbage in free space.  Then times, on that image,
# in rounds (each round runs every row once, so background load hits all
# rows alike), N rounds (default 3):
#   qemu      qemu-img convert -f vpc -O vmdk -o subformat=streamOptimized
#   convert   boxwright convert -O vmdk
#   sparsify  boxwright convert -O vmdk --sparsify
#   floor     bench/floor.c: the used clusters + MBR, already in memory,
#             deflated in 64 KiB grains on all cores with boxwright's
#             library and level (row "floor"), and read + compress
#             (row "floor+read")
# and, when BOXWRIGHT_ZLIB names a zlib build of boxwright (configure
# --without-libdeflate), sparsify_zlib and floor_zlib (the floor is built
# against the libboxwright.a beside that binary), and the rows of
# issue 10 and of the native backend:
#   build_native   boxwright build --backend native IMAGE -o X.box --winrm
#                  --size $BENCH_SIZE (libntfs-3g in process, no VM; the
#                  default backend; row "build" is an alias)
#   build_providers4  the same with --provider virtualbox,libvirt,hyperv,
#                  vmware_desktop: four boxes from one edit of the image
#                  (issue 17's target: at most 2.2x build_native)
#   build_gpt      build_native on nano-bench-gpt.vhdx: the same content in
#                  nano-gpt's layout (ESP, MSR, Windows) as a dynamic VHDX
#                  (bench/mkbench.sh --gpt), GPT rewritten for --size
#   build_guestfs  the same with --backend guestfs (the libguestfs
#                  appliance, under TCG here)
#   inspect        boxwright inspect --json --backend native IMAGE (the full
#                  report, hives and BCD read through the guest backend)
#   classic   the Linux pipeline that does the same job: qemu-img -> raw,
#             truncate + sfdisk (partition 1 at 2048 to the end, signature
#             kept), ntfsresize (+ ntfsfix -d) on a loop device, one
#             guestfish launch (download SOFTWARE/SYSTEM, hivexregedit
#             --merge of the WinRM values, upload), virt-sparsify
#             --in-place, qemu-img -> streamOptimized VMDK, tar with the
#             build rows' box.ovf, metadata.json and Vagrantfile; each
#             step's wall time goes into the notes.
# They are skipped (with a message) when their tools or backend are
# missing; build_guestfs and classic need libguestfs, which runs under TCG
# here (LIBGUESTFS_BACKEND_SETTINGS=force_tcg unless set).  Hooks, off by
# default (add them with --rows): convert_zlib, inspect_guestfs.
#
# Every measurement: /usr/bin/time -f '%e %U %S %M' (wall, user, sys, peak
# RSS: the largest of the process and its waited-for descendants, e.g. a
# libguestfs appliance's qemu), output size, and the CPU time the rest of
# the machine used meanwhile (/proc/stat, minus the row's own: other
# jobs' load, shown as "other CPUs" in the table); the median of the runs
# per metric (--best: the minimum).  The page cache is warmed first (the image is read once,
# untimed) so every row reads from memory; each output is synced
# (untimed) and deleted before the next row.  Prints a Markdown table with
# the ratios and the PASS/MISS of the targets (issues 8 and 10) and writes it into
# docs/bench.md between the bench:begin/bench:end markers (--no-doc: not).
# --profile adds a perf (cpu-clock) profile of one sparsify run.
# --report-only rebuilds the report from the last run's results
# ($BENCH_DIR/results.tsv) without measuring.  The binaries are copied
# into $BENCH_DIR/run first, so a concurrent `make` cannot swap them
# between rounds.
#
# Environment: BENCH_DIR (/var/tmp/boxwright-bench: the image is 2.3 GB,
# keep it out of the git tree), BOXWRIGHT (the tree's ./boxwright),
# BOXWRIGHT_ZLIB, BENCH_RUNS, BENCH_ROWS, BENCH_LEVEL (6), BENCH_THREADS
# (all CPUs), BENCH_BUILD_ARGS (the build row's edits and options,
# default "--winrm --hardware-uuid none"), BENCH_SIZE (the disk size of the
# build and classic rows, 8G).
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
die() { echo "bench: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

BENCH_DIR=${BENCH_DIR:-/var/tmp/boxwright-bench}
BOXWRIGHT=${BOXWRIGHT:-$TOP/boxwright}
BOXWRIGHT_ZLIB=${BOXWRIGHT_ZLIB:-}
RUNS=${BENCH_RUNS:-3}
LEVEL=${BENCH_LEVEL:-6}
THREADS=${BENCH_THREADS:-$(nproc)}
ROWS=${BENCH_ROWS:-qemu convert sparsify floor build_native build_providers4 build_gpt build_guestfs inspect classic}
SIZE=${BENCH_SIZE:-8G}
# libguestfs (build, classic): TCG unless told otherwise (issue 10's targets
# are stated for the libguestfs backend under TCG)
export LIBGUESTFS_BACKEND_SETTINGS=${LIBGUESTFS_BACKEND_SETTINGS-force_tcg}
STAT=median
REBUILD=0
WRITE_DOC=1
PROFILE=0
REPORT_ONLY=0
DOC=$TOP/docs/bench.md

while [ $# -gt 0 ]; do
    case $1 in
    --rebuild) REBUILD=1 ;;
    --runs) RUNS=$2; shift ;;
    --best) STAT=best ;;
    --rows) ROWS=$2; shift ;;
    --no-doc) WRITE_DOC=0 ;;
    --profile) PROFILE=1 ;;
    --report-only) REPORT_ONLY=1 ;;
    -h|--help) sed -n '2,/^if /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (try --help)" ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs takes a positive number"
if [ -n "$BOXWRIGHT_ZLIB" ]; then
    [ -x "$BOXWRIGHT_ZLIB" ] || die "BOXWRIGHT_ZLIB=$BOXWRIGHT_ZLIB is not executable"
    case " $ROWS " in *" sparsify_zlib "*) ;; *) ROWS="$ROWS sparsify_zlib" ;; esac
    case " $ROWS " in *" floor_zlib "*) ;; *) ROWS="$ROWS floor_zlib" ;; esac
fi

# ---- tools ---------------------------------------------------------------
need_pkg() {   # COMMAND PACKAGE
    command -v "$1" >/dev/null && return 0
    [ "$(id -u)" = 0 ] || die "$1 missing: apt-get install $2"
    say "installing $2 (for $1)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null ||
        { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$2" >/dev/null; } ||
        die "cannot install $2"
}
[ -x /usr/bin/time ] || need_pkg /usr/bin/time time
need_pkg qemu-img qemu-utils
need_pkg cc gcc
need_pkg python3 python3
[ -x "$BOXWRIGHT" ] || die "$BOXWRIGHT missing: run make first"
[ -f "$TOP/libboxwright.a" ] || die "$TOP/libboxwright.a missing: run make first"
TIME=/usr/bin/time

mkdir -p "$BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
case $BENCH_DIR/ in "$TOP"/*)
    # never let `git add -A` pick up a 2 GB image
    [ -f "$BENCH_DIR/.gitignore" ] || echo '*' > "$BENCH_DIR/.gitignore" ;;
esac
IMG=$BENCH_DIR/nano-bench.vhd
IMG_GPT=$BENCH_DIR/nano-bench-gpt.vhdx
RES=$BENCH_DIR/results.tsv
META=$BENCH_DIR/results.meta
PROFILE_TXT=$BENCH_DIR/profile.txt
WORK=$BENCH_DIR/run

measure_all() {
rm -rf "$WORK"
mkdir -p "$WORK"

# ---- the image -------------------------------------------------------------
if [ "$REBUILD" = 1 ] || [ ! -f "$IMG" ]; then
    say "building the benchmark image in $BENCH_DIR (about 2 minutes)"
    bash "$HERE/mkbench.sh" "$BENCH_DIR" > "$BENCH_DIR/mkbench.log" 2>&1 ||
        { tail -n 30 "$BENCH_DIR/mkbench.log" >&2; die "mkbench.sh failed"; }
    tail -n 1 "$BENCH_DIR/mkbench.log" >&2
fi
case " $ROWS " in *" build_gpt "*)
    if [ "$REBUILD" = 1 ] || [ ! -f "$IMG_GPT" ]; then
        say "building the GPT benchmark image in $BENCH_DIR (about 2 minutes)"
        bash "$HERE/mkbench.sh" --gpt "$BENCH_DIR" > "$BENCH_DIR/mkbench-gpt.log" 2>&1 ||
            { tail -n 30 "$BENCH_DIR/mkbench-gpt.log" >&2; die "mkbench.sh --gpt failed"; }
        tail -n 1 "$BENCH_DIR/mkbench-gpt.log" >&2
    fi ;;
esac

# ---- the floor program -------------------------------------------------------
# cc against the tree's libboxwright.a: the same deflate.c, the same library
# (link flags from the Makefile beside the library: -ldeflate only if
# that build was configured with it)
build_floor() {   # LIBBOXWRIGHT.A OUT
    local lib=$1 out=$2 mk libs
    mk=$(dirname "$lib")/Makefile
    libs="-lz -lpthread"
    if [ -f "$mk" ]; then
        libs="$(sed -n 's/^LIBDEFLATE_LIBS = //p' "$mk") $libs"
    elif pkg-config --exists libdeflate 2>/dev/null; then
        libs="-ldeflate $libs"
    fi
    if [ ! -x "$out" ] || [ "$HERE/floor.c" -nt "$out" ] || [ "$lib" -nt "$out" ]; then
        # shellcheck disable=SC2086
        cc -O2 -std=gnu11 -D_GNU_SOURCE -Wall -I"$TOP/include" -I"$TOP/src" \
            -o "$out" "$HERE/floor.c" "$lib" $libs || die "cannot build $out"
    fi
}
build_floor "$TOP/libboxwright.a" "$BENCH_DIR/floor"
FLOOR_ZLIB=
if [ -n "$BOXWRIGHT_ZLIB" ]; then
    zlib_lib=$(dirname "$BOXWRIGHT_ZLIB")/libboxwright.a
    if [ -f "$zlib_lib" ]; then
        build_floor "$zlib_lib" "$BENCH_DIR/floor-zlib"
        FLOOR_ZLIB=$BENCH_DIR/floor-zlib
    else
        say "no $zlib_lib: no zlib floor"
    fi
fi
# one binary for the whole run, whatever `make` does meanwhile
cp "$BOXWRIGHT" "$WORK/boxwright"
BW=$WORK/boxwright
BWZ=
if [ -n "$BOXWRIGHT_ZLIB" ]; then
    cp "$BOXWRIGHT_ZLIB" "$WORK/boxwright-zlib"
    BWZ=$WORK/boxwright-zlib
fi

# ---- measuring -----------------------------------------------------------------
: > "$RES"
: > "$BENCH_DIR/classic-steps.tsv"
: > "$BENCH_DIR/failures.tsv"
rm -f "$BENCH_DIR"/build-failures.tsv "$BENCH_DIR"/build-failure-*.err "$BENCH_DIR"/failure-*.err
ROUND=0

# The machine's busy CPU time so far, in clock ticks (/proc/stat: user,
# nice, system, irq, softirq, steal; guest time is inside user)
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
busy_ticks() {
    local user nice system irq softirq steal
    read -r _ user nice system _ _ irq softirq steal _ < /proc/stat
    echo $((user + nice + system + irq + softirq + steal))
}
# others B0 B1 WALL CPU: CPUs the rest of the machine used on average while
# a row ran (busy ticks of the whole machine minus the row's own CPU)
others() {
    awk -v a="$1" -v b="$2" -v w="$3" -v c="$4" -v hz="$CLK_TCK" \
        'BEGIN { o = (b - a) / hz - c; if (o < 0) o = 0; printf "%.2f", (w > 0 ? o / w : 0) }'
}

# measure ROW OUTFILE CMD... : one timed run; appends a line to $RES.
# A failed run is run once more (the failed one is not counted) and noted
# in $BENCH_DIR/failures.tsv (round, row, how it ended, first line of its
# stderr) for the report: the guest session has failed now and then on a
# busy machine, and so has qemu-img (EINVAL on a write, 2026-11-25); a
# second failure ends the bench.
# An OUTFILE ending in '/' is a directory made empty before each run; its
# files' total size is the row's output size (a build writing several boxes).
measure() {
    local row=$1 out=$2; shift 2
    local tf="$WORK/$row.time" log="$WORK/$row.out" size=0 b0 b1 try
    for try in 1 2; do
        if [ "${out%/}" != "$out" ]; then rm -rf "$out" && mkdir -p "$out"; else rm -f "$out"; fi
        b0=$(busy_ticks)
        if "$TIME" -f '%e %U %S %M' -o "$tf" "$@" > "$log" 2> "$WORK/$row.err"; then
            break
        fi
        cat "$WORK/$row.err" >&2
        [ "$try" = 1 ] || die "$row failed twice in round $ROUND: $*"
        printf '%s\t%s\t%s\t%s\n' "$ROUND" "$row" \
            "$(grep -m 1 -v '^[0-9.]* [0-9.]* [0-9.]* [0-9]*$' "$tf" || echo '?')" \
            "$(grep -m 1 . "$WORK/$row.err" | cut -c1-200)" >> "$BENCH_DIR/failures.tsv"
        cp "$WORK/$row.err" "$BENCH_DIR/failure-$row-$ROUND.err"
        say "$row failed in round $ROUND, running it once more"
    done
    b1=$(busy_ticks)
    if [ "${out%/}" != "$out" ]; then
        size=$(find "$out" -type f -printf '%s\n' | awk '{ t += $1 } END { print t + 0 }')
    elif [ -e "$out" ]; then
        size=$(stat -c %s "$out")
    fi
    sync
    # untimed, before the output goes: MEASURE_AFTER OUTFILE
    [ -z "${MEASURE_AFTER:-}" ] || "$MEASURE_AFTER" "$out"
    local wall user sys rss oth
    read -r wall user sys rss < <(tail -n 1 "$tf")
    oth=$(others "$b0" "$b1" "$wall" "$(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }')")
    printf '%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$ROUND" "$wall" "$user" "$sys" \
        "$rss" "$size" "$oth" >> "$RES"
    rm -rf "$out"
    awk -v r="$row" -v w="$wall" -v u="$user" -v s="$sys" -v m="$rss" -v z="$size" -v o="$oth" \
        'BEGIN { printf "  %-14s %7.2f s wall %7.2f s cpu %6d MB rss %8.1f MB   (others used %.2f CPUs)\n", r, w, u + s, m / 1024, z / 1e6, o }' >&2
}

# The floor times itself: compress-only and read+compress rows come from
# its key=value output; peak RSS is the whole process (it holds the used
# data in memory on purpose).
floor_row() {   # ROW FLOOR_BINARY
    local row=$1 bin=$2 kv="$WORK/$1.out" b0 b1
    b0=$(busy_ticks)
    "$TIME" -f '%e %U %S %M' -o "$WORK/$row.time" "$bin" --reps 1 \
        --threads "$THREADS" --level "$LEVEL" "$IMG" > "$kv" 2> "$WORK/$row.err" ||
        { cat "$WORK/$row.err" >&2; die "$bin failed"; }
    b1=$(busy_ticks)
    local rss cs ccpu rs z oth
    rss=$(awk '{print $4}' "$WORK/$row.time" | tail -n 1)
    # others: over the whole process (load, read, compress)
    oth=$(others "$b0" "$b1" "$(awk '{print $1}' "$WORK/$row.time" | tail -n 1)" \
        "$(awk '{print $2 + $3}' "$WORK/$row.time" | tail -n 1)")
    cs=$(sed -n 's/^compress_s=//p' "$kv")
    ccpu=$(sed -n 's/^compress_cpu_s=//p' "$kv")
    rs=$(sed -n 's/^read_s=//p' "$kv")
    z=$(sed -n 's/^compressed_bytes=//p' "$kv")
    printf '%s\t%d\t%s\t%s\t0\t%s\t%s\t%s\n' "$row" "$ROUND" "$cs" "$ccpu" "$rss" "$z" \
        "$oth" >> "$RES"
    # read+compress: wall = read + compress; CPU of the read is in its wall
    # (single thread, from the page cache), so CPU = compress CPU + read
    printf '%s+read\t%d\t%s\t%s\t0\t%s\t%s\t%s\n' "$row" "$ROUND" \
        "$(awk -v a="$rs" -v b="$cs" 'BEGIN { printf "%.3f", a + b }')" \
        "$(awk -v a="$rs" -v b="$ccpu" 'BEGIN { printf "%.3f", a + b }')" "$rss" "$z" \
        "$oth" >> "$RES"
    cp "$kv" "$BENCH_DIR/$row.kv"
    printf '  %-14s %7.2f s compress (%s s cpu), read %s s, %s bytes   (others used %s CPUs)\n' \
        "$row" "$cs" "$ccpu" "$rs" "$z" "$oth" >&2
}

# One function per row: add rows here (and to ROW_TITLE in the report).
row_qemu() {
    measure qemu "$WORK/qemu.vmdk" qemu-img convert -f vpc -O vmdk \
        -o subformat=streamOptimized "$IMG" "$WORK/qemu.vmdk"
}
bw_convert() {   # ROW BINARY [ARGS...]
    local row=$1 bin=$2; shift 2
    measure "$row" "$WORK/$row.vmdk" "$bin" convert --quiet --json \
        --compress-level "$LEVEL" --threads "$THREADS" "$@" -O vmdk "$IMG" "$WORK/$row.vmdk"
    cp "$WORK/$row.out" "$BENCH_DIR/$row.json"
}
row_convert() { bw_convert convert "$BW"; }
row_sparsify() { bw_convert sparsify "$BW" --sparsify; }
row_convert_zlib() { [ -z "$BWZ" ] || bw_convert convert_zlib "$BWZ"; }
row_sparsify_zlib() { [ -z "$BWZ" ] || bw_convert sparsify_zlib "$BWZ" --sparsify; }
row_floor() { floor_row floor "$BENCH_DIR/floor"; }
row_floor_zlib() {
    [ -n "$FLOOR_ZLIB" ] || return 0
    floor_row floor_zlib "$FLOOR_ZLIB"
}
# issue 10 and the native backend: boxwright build (the whole pipeline:
# copy used clusters, resize, edits, VMDK, box) with each guest backend,
# and inspect; skipped while the command says "not implemented" or the
# backend is missing.  Untimed after each build run: box.ovf,
# metadata.json and the Vagrantfile are kept for the classic row's box.
BOXMETA=$WORK/boxmeta
keep_box_meta() {   # BOX
    rm -rf "$BOXMETA"
    mkdir -p "$BOXMETA"
    tar -C "$BOXMETA" -xf "$1" box.ovf metadata.json Vagrantfile
}
build_cmd() {   # BACKEND OUT.box [IMAGE]
    # shellcheck disable=SC2086
    echo "$BW" build --quiet --json --backend "$1" --compress-level "$LEVEL" \
        --threads "$THREADS" "${3:-$IMG}" -o "$2" --size "$SIZE" \
        ${BENCH_BUILD_ARGS:---winrm --hardware-uuid none}
}
backend_missing() {   # BACKEND: why it cannot run here, or nothing
    if "$BW" inspect --backend "$1" /dev/null 2>&1 | grep -q 'not built into'; then
        echo "the $1 backend is not built into $BOXWRIGHT"
    elif [ "$1" = guestfs ] && ! command -v guestfish >/dev/null; then
        echo "libguestfs missing (libguestfs-tools)"
    fi
}
build_missing() {   # [BACKEND]
    if "$BW" build --help 2>&1 | grep -q 'not implemented'; then
        echo "the command is not implemented yet"
    else
        backend_missing "${1:-native}"
    fi
}
# bw_build ROW BACKEND [IMAGE]
bw_build() {
    local row=$1 backend=$2 img=${3:-$IMG} why
    why=$(build_missing "$backend")
    if [ -n "$why" ]; then
        [ "$ROUND" = 1 ] && say "$row: $why, row skipped"
        return 0
    fi
    # shellcheck disable=SC2046
    MEASURE_AFTER=keep_box_meta measure "$row" "$WORK/bench.box" \
        $(build_cmd "$backend" "$WORK/bench.box" "$img")
    cp "$WORK/$row.out" "$BENCH_DIR/$row.json"
}
row_build_native() { bw_build build_native native; }
row_build_gpt() { bw_build build_gpt native "$IMG_GPT"; }
row_build_guestfs() {
    # the appliance: direct backend, as the classic row's
    LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct} bw_build build_guestfs guestfs
}
row_build() { row_build_native; }   # the row's name before the backends
# issue 17: the same build writing the boxes of all four providers (one
# read and edit of the image, four disks: VMDK stream, qcow2, VHD, VMDK
# sparse); the target is at most 2.2x the build_native row
PROVIDERS4=virtualbox,libvirt,hyperv,vmware_desktop
row_build_providers4() {
    local why
    why=$(build_missing native)
    if [ -n "$why" ]; then
        [ "$ROUND" = 1 ] && say "build_providers4: $why, row skipped"
        return 0
    fi
    # shellcheck disable=SC2046
    measure build_providers4 "$WORK/p4/" \
        $(build_cmd native "$WORK/p4/bench.box") --provider "$PROVIDERS4"
    cp "$WORK/build_providers4.out" "$BENCH_DIR/build_providers4.json"
}
# inspect: the whole report (--json), hives and BCD through the backend;
# untimed afterwards, the JSON must say the guest was inspected
check_inspect() {   # JSON
    /usr/bin/python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d.get("guest_inspected") and d.get("windows") else 1)' "$1" ||
        die "inspect: the JSON does not say guest_inspected with a windows object"
    cp "$1" "$BENCH_DIR/$(basename "$1" .out).json"
}
bw_inspect() {   # ROW BACKEND
    local row=$1 backend=$2 why
    why=$(backend_missing "$backend")
    if [ -n "$why" ]; then
        [ "$ROUND" = 1 ] && say "$row: $why, row skipped"
        return 0
    fi
    MEASURE_AFTER=check_inspect measure "$row" "$WORK/$row.out" \
        "$BW" inspect --json --backend "$backend" "$IMG"
}
row_inspect() { bw_inspect inspect native; }
row_inspect_guestfs() {
    LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct} bw_inspect inspect_guestfs guestfs
}
# The classic pipeline a user scripts today for the same job as `build
# --winrm --size SIZE`; written to $WORK/classic.sh and timed as a whole,
# each step's wall time appended to $BENCH_DIR/classic-steps.tsv.
write_classic() {
    cat > "$WORK/classic.sh" <<'CLASSIC'
# classic.sh IMAGE OUT.box META_DIR STEPS_FILE SIZE
set -euo pipefail
img=$1 out=$2 meta=$3 steps=$4 size=$5
d=$(dirname "$out")/classic.d
rm -rf "$d"
mkdir -p "$d"
raw=$d/disk.raw loop=
trap '[ -z "$loop" ] || losetup -d "$loop" 2>/dev/null || true; rm -rf "$d"' EXIT
t=$(date +%s.%N)
step() {
    local n
    n=$(date +%s.%N)
    awk -v s="$1" -v a="$t" -v b="$n" 'BEGIN { printf "%s\t%.2f\n", s, b - a }' >> "$steps"
    t=$n
}
# 1. VHD -> raw
qemu-img convert -f vpc -O raw "$img" "$raw"
step "qemu-img convert -O raw"
# 2. grow the disk; partition 1 (at sector 2048) to the end, signature kept
truncate -s "$size" "$raw"
echo '2048,+' | sfdisk -q --no-reread --no-tell-kernel -N 1 "$raw" > /dev/null
step "truncate + sfdisk"
# 3. NTFS to fill the partition, on a loop device at the partition's offset
#    (no udev in a container for losetup -P's nodes); ntfsfix -d clears the
#    dirty flag ntfsresize leaves, as build does without --chkdsk
loop=$(losetup --show -f -o $((2048 * 512)) "$raw")
ntfsresize -f "$loop" <<< y > /dev/null
ntfsfix -d "$loop" > /dev/null
losetup -d "$loop"
loop=
step "ntfsresize + ntfsfix -d (loop)"
# 4. WinRM: one guestfish launch; the hives are merged on the host
cat > "$d/software.reg" <<'REG'
Windows Registry Editor Version 5.00

[\Microsoft\Windows\CurrentVersion\WSMAN\Service]
"allow_unencrypted"=dword:00000001
"auth_basic"=dword:00000001

[\Microsoft\Windows\CurrentVersion\WSMAN\Client]
"auth_basic"=dword:00000001
REG
cat > "$d/system.reg" <<'REG'
Windows Registry Editor Version 5.00

[\ControlSet001\Services\WinRM]
"Start"=dword:00000002
REG
guestfish --rw -a "$raw" -m /dev/sda1 <<GF
download /Windows/System32/config/SOFTWARE $d/SOFTWARE
download /Windows/System32/config/SYSTEM $d/SYSTEM
! hivexregedit --merge $d/SOFTWARE $d/software.reg
! hivexregedit --merge $d/SYSTEM $d/system.reg
upload $d/SOFTWARE /Windows/System32/config/SOFTWARE
upload $d/SYSTEM /Windows/System32/config/SYSTEM
GF
step "guestfish + hivexregedit"
# (guestfish does not stop on a failed "!": check what was uploaded)
[ "$(hivexget "$d/SYSTEM" '\Select' Current)" = 1 ]
[ "$(hivexget "$d/SYSTEM" '\ControlSet001\Services\WinRM' Start)" = 2 ]
[ "$(hivexget "$d/SOFTWARE" '\Microsoft\Windows\CurrentVersion\WSMAN\Service' auth_basic)" = 1 ]
# 5. free space
virt-sparsify --quiet --in-place "$raw"
step "virt-sparsify --in-place"
# 6. raw -> streamOptimized VMDK, under the name box.ovf gives it
qemu-img convert -f raw -O vmdk -o subformat=streamOptimized "$raw" "$d/box-disk001.vmdk"
rm -f "$raw"
step "qemu-img convert -O vmdk streamOptimized"
# 7. the box
cp "$meta/box.ovf" "$meta/metadata.json" "$meta/Vagrantfile" "$d/"
tar -C "$d" -cf "$out" box.ovf metadata.json Vagrantfile box-disk001.vmdk
step "tar"
CLASSIC
}
classic_missing() {
    local t
    [ "$(id -u)" = 0 ] || { echo "needs root (losetup)"; return; }
    for t in guestfish virt-sparsify hivexregedit hivexget ntfsresize ntfsfix sfdisk losetup; do
        command -v "$t" >/dev/null || { echo "$t missing"; return; }
    done
    build_missing
}
row_classic() {
    local why
    why=$(classic_missing)
    if [ -n "$why" ]; then
        [ "$ROUND" = 1 ] && say "classic: $why, row skipped"
        return 0
    fi
    if [ ! -f "$BOXMETA/box.ovf" ]; then   # no build row before it: one, untimed
        # shellcheck disable=SC2046,SC2091
        $(build_cmd native "$WORK/meta.box") > /dev/null || die "build failed"
        keep_box_meta "$WORK/meta.box"
        rm -f "$WORK/meta.box"
    fi
    [ -f "$WORK/classic.sh" ] || write_classic
    : > "$WORK/classic.steps"
    LIBGUESTFS_BACKEND=${LIBGUESTFS_BACKEND:-direct} measure classic "$WORK/classic.box" \
        bash "$WORK/classic.sh" "$IMG" "$WORK/classic.box" "$BOXMETA" \
        "$WORK/classic.steps" "$SIZE"
    awk -v r="$ROUND" '{ print r "\t" $0 }' "$WORK/classic.steps" >> "$BENCH_DIR/classic-steps.tsv"
}

for r in $ROWS; do
    declare -F "row_$r" >/dev/null || die "unknown row '$r' (rows: $(declare -F |
        sed -n 's/^declare -f row_//p' | tr '\n' ' '))"
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
say "warming the page cache with $IMG"
cat "$IMG" > /dev/null
case " $ROWS " in *" build_gpt "*) cat "$IMG_GPT" > /dev/null ;; esac
T0=$SECONDS
for ((ROUND = 1; ROUND <= RUNS; ROUND++)); do
    say "round $ROUND of $RUNS"
    for r in $ROWS; do "row_$r"; done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
say "measured in $((SECONDS - T0)) s"

: > "$PROFILE_TXT"
if [ "$PROFILE" = 1 ]; then
    if command -v perf >/dev/null; then
        say "profiling one sparsify run (perf record -e cpu-clock; perf stat)"
        perf record -q -e cpu-clock -F 999 -o "$WORK/perf.data" -- "$BW" convert \
            --quiet --sparsify -O vmdk "$IMG" "$WORK/prof.vmdk" >/dev/null 2>&1 || true
        rm -f "$WORK/prof.vmdk"
        perf report -i "$WORK/perf.data" --no-children --sort dso --stdio 2>/dev/null |
            grep -E '^ +[0-9.]+%' | head -n 6 > "$PROFILE_TXT" || true
        perf stat -e task-clock,context-switches,cpu-migrations,page-faults -- \
            "$BW" convert --quiet --sparsify -O vmdk "$IMG" "$WORK/prof.vmdk" \
            2>&1 >/dev/null | grep -E '[0-9]' >> "$PROFILE_TXT" || true
        rm -f "$WORK/prof.vmdk" "$WORK/perf.data"
    else
        say "--profile: perf missing (linux-perf), skipped"
    fi
fi

ver() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo '?'; }
GITREV=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$TOP" diff --quiet HEAD 2>/dev/null || GITREV="$GITREV+changes"
BENCH_LIBS="boxwright $("$BW" --version | awk '{print $2}') (git $GITREV)"
BENCH_LIBS="$BENCH_LIBS, libdeflate $(ver libdeflate0), zlib $(ver zlib1g)"
BENCH_LIBS="$BENCH_LIBS, libntfs-3g $(ver libntfs-3g89), libguestfs $(ver libguestfs0)"
BENCH_LIBS="$BENCH_LIBS, $(qemu-img --version | head -n 1 | sed 's/ (.*//'), gcc $(ver gcc-12 | cut -d- -f1)"
{
    printf 'BENCH_DATE=%q\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
    printf 'BENCH_LIBS=%q\n' "$BENCH_LIBS"
    printf 'BENCH_LOAD=%q\n' "$LOAD_BEFORE before, $LOAD_AFTER after"
    printf 'RUNS=%q\nLEVEL=%q\nTHREADS=%q\n' "$RUNS" "$LEVEL" "$THREADS"
} > "$META"
}

if [ "$REPORT_ONLY" = 1 ]; then
    if [ ! -s "$RES" ] || [ ! -f "$META" ]; then
        die "no results in $BENCH_DIR: run without --report-only"
    fi
else
    measure_all
fi
mkdir -p "$WORK"
# shellcheck disable=SC1090
. "$META"

# ---- the report --------------------------------------------------------------
export BENCH_STAT=$STAT BENCH_RUNS=$RUNS BENCH_LEVEL=$LEVEL BENCH_THREADS=$THREADS
BENCH_NPROC=$(nproc)
BENCH_CPU=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
BENCH_MEM=$(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
BENCH_KERNEL=$(uname -r)
export BENCH_DATE BENCH_NPROC BENCH_CPU BENCH_MEM BENCH_KERNEL BENCH_LIBS BENCH_LOAD
export BENCH_IMG=$IMG BENCH_RES=$RES BENCH_DIR
export BENCH_PROFILE=$PROFILE_TXT
export BENCH_BUILD_ARGS_SHOWN="--size $SIZE ${BENCH_BUILD_ARGS:---winrm --hardware-uuid none}"
export BENCH_SIZE=$SIZE BENCH_TCG=${LIBGUESTFS_BACKEND_SETTINGS:-}
REPORT=$WORK/report.md
/usr/bin/python3 - > "$REPORT" <<'PY'
import json, os, statistics

env = os.environ
stat = env["BENCH_STAT"]
rows = {}
for line in open(env["BENCH_RES"]):
    f_ = line.rstrip("\n").split("\t")
    row, rnd, wall, user, sys_, rss, size = f_[:7]
    # column 8 (since the native-backend rows): CPUs other jobs used meanwhile
    oth = float(f_[7]) if len(f_) > 7 else None
    rows.setdefault(row, []).append(
        dict(wall=float(wall), cpu=float(user) + float(sys_), rss=int(rss),
             size=int(size), others=oth, round=int(rnd)))
pick = min if stat == "best" else statistics.median
agg = {r: {k: pick([m[k] for m in ms]) for k in ("wall", "cpu", "rss", "size")}
       | {"n": len(ms), "best": min(m["wall"] for m in ms),
          "worst": max(m["wall"] for m in ms),
          "others": (statistics.median([m["others"] for m in ms])
                     if all(m["others"] is not None for m in ms) else None),
          "runs": ms} for r, ms in rows.items()}

kv = {}
for name in ("floor", "floor_zlib"):
    p = os.path.join(env["BENCH_DIR"], name + ".kv")
    if name in agg and os.path.exists(p):
        kv[name] = dict(l.strip().split("=", 1) for l in open(p) if "=" in l)
facts = json.load(open(env["BENCH_IMG"].replace(".vhd", ".facts.json")))
conv = {}
for name in ("sparsify", "convert"):
    p = os.path.join(env["BENCH_DIR"], name + ".json")
    if name in agg and os.path.exists(p):
        conv[name] = json.load(open(p))

lib = kv.get("floor", {}).get("backend", "?")
lvl = env["BENCH_LEVEL"]
thr = env["BENCH_THREADS"]
TITLE = {
    "qemu": "`qemu-img convert -f vpc -O vmdk -o subformat=streamOptimized`",
    "convert": "`boxwright convert -O vmdk`",
    "sparsify": "`boxwright convert -O vmdk --sparsify`",
    "convert_zlib": "`boxwright convert -O vmdk` (zlib build)",
    "sparsify_zlib": "`boxwright convert -O vmdk --sparsify` (zlib build)",
    "floor": "deflate floor, compress only (%s L%s, %s threads)" % (lib, lvl, thr),
    "floor+read": "deflate floor, read + compress",
    "floor_zlib": "deflate floor, compress only (zlib L%s, %s threads)" % (lvl, thr),
    "floor_zlib+read": "deflate floor (zlib), read + compress",
    "build": "`boxwright build %s` (.box)" % env.get(
        "BENCH_BUILD_ARGS_SHOWN", "--winrm --hardware-uuid none"),
    "build_native": "`boxwright build --backend native %s` (.box; libntfs-3g "
                    "in process)" % env.get("BENCH_BUILD_ARGS_SHOWN", ""),
    "build_providers4": "`boxwright build --backend native --provider "
                        "virtualbox,libvirt,hyperv,vmware_desktop %s` (4 boxes; output: "
                        "their sum)" % env.get("BENCH_BUILD_ARGS_SHOWN", ""),
    "build_guestfs": "`boxwright build --backend guestfs %s` (.box; libguestfs "
                     "appliance, %s)" % (env.get("BENCH_BUILD_ARGS_SHOWN", ""),
                                         "TCG" if "force_tcg" in env.get("BENCH_TCG", "")
                                         else "KVM if available"),
    "build_gpt": "the same on `nano-bench-gpt.vhdx` (same content; GPT: ESP, MSR, "
                 "Windows; dynamic VHDX)",
    "inspect": "`boxwright inspect --json --backend native` (output: the JSON)",
    "inspect_guestfs": "`boxwright inspect --json --backend guestfs` (output: the JSON)",
    "classic": "classic pipeline, same job (.box): qemu-img raw, sfdisk, ntfsresize, "
               "guestfish + hivexregedit, virt-sparsify, qemu-img vmdk, tar",
}
ORDER = ["qemu", "classic", "convert", "sparsify", "build_native", "build_providers4", "build_gpt",
         "build_guestfs",
         "build", "inspect", "inspect_guestfs", "floor", "floor+read",
         "convert_zlib", "sparsify_zlib", "floor_zlib", "floor_zlib+read"]
# rows that write the used data deflated: compared with the floor
BOXWRIGHT = {"convert", "sparsify", "build", "build_native", "build_gpt", "build_guestfs",
             "convert_zlib", "sparsify_zlib"}
# rows that write a disk (or a box): compared with qemu-img's output size
DISKS = BOXWRIGHT | {"classic", "floor", "floor+read", "floor_zlib", "floor_zlib+read"}
# rows that do the whole job of the classic pipeline
JOB = {"build", "build_native", "build_gpt", "build_guestfs"}


def floor_for(r):
    return "floor_zlib" if r.endswith("_zlib") else "floor"


def fmt_ratio(x):
    return "%.2f" % x if x is not None else ""


def fmt_size(z):
    if z >= 1e6:
        return "%.1f" % (z / 1e6)
    return "%.3f" % (z / 1e6) if z else "0"


q = agg.get("qemu")
print("Measured %s on %s CPUs (%s), %s RAM, Linux %s." % (
    env["BENCH_DATE"], env["BENCH_NPROC"], env["BENCH_CPU"], env["BENCH_MEM"],
    env["BENCH_KERNEL"]))
print("Versions: %s." % env["BENCH_LIBS"])
b = facts.get("bench", {})
used = int(kv["floor"]["used_bytes"]) if "floor" in kv else None
print("Image: `%s`, 4 GiB dynamic VHD, %d MB allocated; NTFS: %s MB used "
      "(%d files of binaries, %.0f MB), %.0f MB of deleted garbage in free space."
      % (os.path.basename(env["BENCH_IMG"]), os.path.getsize(env["BENCH_IMG"]) / 1e6,
         "%.0f" % (used / 1e6) if used else "?", b.get("files", 0),
         b.get("bytes", 0) / 1e6, facts.get("garbage_bytes", 0) / 1e6))
print("Each value is the %s of %s runs (rounds interleave the rows); "
      "page cache warm; deflate level %s, %s threads. Load average %s "
      "(other jobs shared the machine when it was above 0)."
      % ("best" if stat == "best" else "median", env["BENCH_RUNS"], lvl, thr,
         env["BENCH_LOAD"]))
print()
cl = agg.get("classic")
print("| what | wall s | wall s, best..worst | CPU s (user+sys) | peak RSS MB | output MB | time / qemu-img | size / qemu-img | time / floor | time / classic | other CPUs |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in ORDER:
    if r not in agg:
        continue
    a = agg[r]
    tq = sq = tf = tc = None
    if q and r != "qemu":
        tq = a["wall"] / q["wall"]
        sq = a["size"] / q["size"] if q["size"] and r in DISKS else None
    f = agg.get(floor_for(r))
    if r in BOXWRIGHT and f:
        tf = a["wall"] / f["wall"]
    if cl and r in JOB:
        tc = a["wall"] / cl["wall"]
    print("| %s | %.2f | %.2f..%.2f | %.2f | %.0f | %s | %s | %s | %s | %s | %s |" % (
        TITLE.get(r, r), a["wall"], a["best"], a["worst"], a["cpu"], a["rss"] / 1024,
        fmt_size(a["size"]), fmt_ratio(tq), fmt_ratio(sq), fmt_ratio(tf), fmt_ratio(tc),
        fmt_ratio(a["others"])))
print()
print("\"other CPUs\": how many CPUs, on average, the rest of the machine (other "
      "jobs) kept busy while the row ran (/proc/stat, less the row's own CPU time; "
      "the floor's is over its whole process); %s CPUs in all." % env["BENCH_NPROC"])
print("Floor rows: wall and CPU of the compression (and of the read) as the "
      "program clocks them; its RSS holds all the used data in memory on purpose; "
      "\"output\" is the sum of the deflate streams, without VMDK markers and tables.")
if "floor" in kv:
    k = kv["floor"]
    gb = int(k["input_bytes"])
    print("Floor input: %s grains of 64 KiB (%.0f MB, used clusters + MBR "
          "%.0f MB), deflated %.2f:1, %.0f MB/s per thread of CPU."
          % (k["grains"], gb / 1e6, int(k["used_bytes"]) / 1e6,
             int(k["used_bytes"]) / int(k["compressed_bytes"]),
             gb / 1e6 / float(k["compress_cpu_s"])))
if "sparsify" in conv:
    c = conv["sparsify"]
    print("`--sparsify` read %.0f MB of the %.0f MB allocated and skipped %.0f MB of "
          "free clusters." % (c["bytes_read"] / 1e6, c["bytes_mapped"] / 1e6,
                              c["bytes_skipped_free"] / 1e6))
print()
print("Targets (issue 8):")
print()
s = agg.get("sparsify")
f = agg.get("floor")


def target(ok, text):
    print("- **%s** %s" % ("PASS" if ok else "MISS", text))


if s and q:
    sp = q["wall"] / s["wall"]
    target(sp >= 10, "convert --sparsify at least 10x faster than qemu-img: %.1fx" % sp)
    sz = q["size"] / s["size"]
    target(sz >= 5, "convert --sparsify output at least 5x smaller than qemu-img's: %.1fx" % sz)
if s and f:
    x = s["wall"] / f["wall"]
    fr = agg.get("floor+read")
    extra = (" (%.2fx of read + compress)" % (s["wall"] / fr["wall"])) if fr else ""
    target(x <= 1.5, "convert --sparsify within 1.5x of the deflate floor (compress only): "
           "%.2fx%s" % (x, extra))
for r in ("sparsify", "convert"):
    if r in agg:
        target(agg[r]["rss"] / 1024 < 256, "peak RSS of %s below 256 MB: %.0f MB"
               % (TITLE[r], agg[r]["rss"] / 1024))
bn, bg = agg.get("build_native"), agg.get("build_guestfs")
if not bg and agg.get("build"):
    bg = agg["build"]   # results from before the backends: build was guestfs
cl = agg.get("classic")
tcg = "TCG" if "force_tcg" in env.get("BENCH_TCG", "") else "KVM if available"
if (bn or bg) and (q or cl):
    print()
    print("Targets (issue 10; stated for the libguestfs backend under %s, the native "
          "backend's figures beside them):" % tcg)
    print()
for name, bd in (("guestfs", bg), ("native", bn)):
    if not bd:
        continue
    if q:
        x = bd["wall"] / q["wall"]
        target(x <= 0.5, "build --backend %s at most 0.5x the time of qemu-img convert: "
               "%.2fx (%.1f s vs %.1f s; CPU %.2fx)"
               % (name, x, bd["wall"], q["wall"], bd["cpu"] / q["cpu"]))
    if cl:
        x = cl["wall"] / bd["wall"]
        target(x >= 4, "build --backend %s at least 4x faster than the classic pipeline: "
               "%.2fx (%.1f s vs %.1f s; CPU %.2fx)"
               % (name, x, bd["wall"], cl["wall"], cl["cpu"] / bd["cpu"]))
        target(bd["size"] <= cl["size"], "build --backend %s box no larger than the "
               "classic pipeline's: %.1f MB vs %.1f MB"
               % (name, bd["size"] / 1e6, cl["size"] / 1e6))
if bg:
    print("- (no target) peak RSS of `boxwright build --backend guestfs`: %.0f MB: the "
          "largest process of its tree, the libguestfs appliance's qemu" % (bg["rss"] / 1024))
if cl:
    print("- (no target) peak RSS of the classic pipeline: %.0f MB (its largest process)"
          % (cl["rss"] / 1024))
ins = agg.get("inspect")
if bn or ins:
    print()
    print("Targets (native backend, %s CPUs):" % env["BENCH_NPROC"])
    print()
if bn and q:
    x = q["wall"] / bn["wall"]
    target(x >= 10, "build --backend native at least 10x faster than qemu-img convert "
           "alone: %.1fx (%.1f s vs %.1f s; CPU %.1fx)"
           % (x, bn["wall"], q["wall"], q["cpu"] / bn["cpu"]))
if bn and f:
    x = bn["wall"] / f["wall"]
    fr = agg.get("floor+read")
    extra = (" (%.2fx of read + compress)" % (bn["wall"] / fr["wall"])) if fr else ""
    target(x <= 1.5, "build --backend native within 1.5x of the deflate floor (compress "
           "only): %.2fx%s; CPU %.2fx the floor's" % (x, extra, bn["cpu"] / f["cpu"]))
bgpt = agg.get("build_gpt")
if bn and bgpt:
    x = bgpt["wall"] / bn["wall"]
    target(x <= 1.2, "build (native) of the GPT VHDX bench image within 1.2x of the "
           "MBR VHD build: %.2fx (%.1f s vs %.1f s; CPU %.2fx; box %.1f MB vs %.1f MB)"
           % (x, bgpt["wall"], bn["wall"], bgpt["cpu"] / bn["cpu"],
              bgpt["size"] / 1e6, bn["size"] / 1e6))
if ins:
    target(ins["wall"] <= 1.0, "inspect (native) in 1 s or less: %.2f s (best..worst "
           "%.2f..%.2f)" % (ins["wall"], ins["best"], ins["worst"]))
for r in ("build_native", "inspect"):
    if r in agg:
        target(agg[r]["rss"] / 1024 <= 256, "peak RSS of %s at most 256 MB: %.0f MB"
               % ("build --backend native" if r == "build_native" else "inspect (native)",
                  agg[r]["rss"] / 1024))
b4 = agg.get("build_providers4")
if bn and b4:
    x = b4["wall"] / bn["wall"]
    target(x <= 2.2, "build --provider virtualbox,libvirt,hyperv,vmware_desktop (native) "
           "at most 2.2x the virtualbox-only build (issue 17): %.2fx (%.1f s vs %.1f s; "
           "CPU %.2fx)" % (x, b4["wall"], bn["wall"], b4["cpu"] / bn["cpu"]))
if bn and bg:
    print("- (no target) build --backend native is %.1fx faster than --backend guestfs "
          "(%.1f s vs %.1f s), with %.0f MB instead of %.0f MB peak RSS"
          % (bg["wall"] / bn["wall"], bn["wall"], bg["wall"], bn["rss"] / 1024,
             bg["rss"] / 1024))
ig = agg.get("inspect_guestfs")
if ins and ig:
    print("- (no target) inspect --backend guestfs: %.2f s, %.0f MB peak RSS"
          % (ig["wall"], ig["rss"] / 1024))
fails = []
for name in ("failures.tsv", "build-failures.tsv"):   # the latter: older runs
    fp = os.path.join(env["BENCH_DIR"], name)
    if os.path.exists(fp):
        fails += [l.rstrip("\n").split("\t") for l in open(fp) if l.strip()]
if fails:
    print()
    print("Failed runs (each was run once more; the failed run is not in the table):")
    print()
for f_ in fails:
    # round, row, how it ended, first line of stderr (older: round, line)
    if len(f_) >= 4:
        print("- round %s, %s: %s; stderr: %s" % (f_[0], f_[1], f_[2], f_[3] or "(empty)"))
    else:
        print("- round %s, build: %s" % (f_[0], f_[-1]))
sp = os.path.join(env["BENCH_DIR"], "classic-steps.tsv")
steps = {}
if cl and os.path.exists(sp):
    for l in open(sp):
        f_ = l.rstrip("\n").split("\t")
        if len(f_) == 3:
            steps.setdefault(f_[1], []).append(float(f_[2]))
if steps:
    print()
    print("Classic pipeline, wall time per step (%s of %d runs; each run: %s):" % (
        "best" if stat == "best" else "median", len(next(iter(steps.values()))),
        ", ".join("%.1f" % sum(v[i] for v in steps.values() if i < len(v))
                  for i in range(max(len(v) for v in steps.values())))))
    print()
    for k, v in steps.items():
        print("- %s: %.2f s (%s)" % (k, pick(v), ", ".join("%.2f" % x for x in v)))
if f and f["wall"] > 0 and f["cpu"] / f["wall"] < 0.8 * int(thr):
    print()
    print("**The machine was busy**: the floor's %s threads got %.2f CPUs on average "
          "(CPU / wall), so other jobs held the rest and every multi-threaded row "
          "ran slower than it would on an idle machine; single-threaded qemu-img "
          "suffers less. Compare CPU times as well." % (thr, f["cpu"] / f["wall"]))
if s and q and f:
    print()
    print("CPU time, which other jobs on the machine do not change: qemu-img / "
          "sparsify %.1fx, sparsify / floor %.2fx; the wall-time speedup over "
          "qemu-img with all %s CPUs free would be about %.1fx (qemu-img's CPU "
          "time / sparsify's CPU time per thread)."
          % (q["cpu"] / s["cpu"], s["cpu"] / f["cpu"], thr,
             q["cpu"] / (s["cpu"] / int(thr))))
if bn and q and f:
    print("The same for `build --backend native`: qemu-img / build %.1fx, build / "
          "floor %.2fx; with all %s CPUs free, about %.1fx faster than qemu-img."
          % (q["cpu"] / bn["cpu"], bn["cpu"] / f["cpu"], thr,
             q["cpu"] / (bn["cpu"] / int(thr))))
if any(a["n"] > 1 for a in agg.values()):
    print()
    print("Per round, wall s (other CPUs):")
    print()
    for r in ORDER:
        if r in agg and not r.endswith("+read"):
            print("- %s: %s" % (r, ", ".join(
                "%.2f" % m["wall"] + (" (%.2f)" % m["others"] if m["others"] is not None
                                      else "") for m in agg[r]["runs"])))
prof = (open(env["BENCH_PROFILE"]).read().strip("\n")
        if os.path.exists(env["BENCH_PROFILE"]) else "")
if prof:
    print()
    print("Profile of one `convert --sparsify` (perf, cpu-clock samples):")
    print()
    print("```")
    print(prof)
    print("```")
PY

echo
cat "$REPORT"
cp "$REPORT" "$BENCH_DIR/report.md"

if [ "$WRITE_DOC" = 1 ]; then
    /usr/bin/python3 - "$DOC" "$REPORT" <<'PY'
import os, sys
doc, rep = sys.argv[1], sys.argv[2]
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
body = open(rep).read().rstrip("\n")
text = open(doc).read() if os.path.exists(doc) else "# Benchmark\n\n"
if BEGIN in text and END in text:
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
else:
    head, tail = text.rstrip("\n") + "\n\n## Results\n\n", "\n"
tmp = doc + ".tmp"
with open(tmp, "w") as f:
    f.write(head + BEGIN + "\n" + body + "\n" + END + tail)
os.rename(tmp, doc)
PY
    say "results written to ${DOC#"$TOP"/}"
fi
rm -rf "$WORK"/*.vmdk
