#!/usr/bin/env bash
# Our VMDK streamOptimized writer against independent readers, on the
# nano-base fixture copied by tests/tools/vmdk_write with 1 and 2 threads:
# qemu-img check, vmdkinfo, qemu-img compare with the VHD, and the CONTENT
# read through libvmdk (python3-libvmdk) against qemu-img's raw (header
# checks alone pass a VMDK whose grains are zero); a walk of the stream as
# VirtualBox's sequential reader does it (markers in order, LBAs strictly
# increasing, every grain inflating to a full 64 KiB of at most 66036 bytes
# of deflate data, GT/GD/footer/EOS where FORMATS.md puts them); and the
# same bytes from 1 and 2 threads but for the random CID and image UUID.
. "$SRCDIR/tests/e2e/lib.sh"
TOOL=$BUILDDIR/tests/tools/vmdk_write
f=nano-base.vhd
need_fixture "$f"
img=$FIXTURES/$f
[ -x "$TOOL" ] || { echo "$TOOL missing: build check_PROGRAMS"; exit 99; }

qemu-img convert -f vpc -O raw "$img" "$SCRATCH/qemu.raw" || { bad "$f: qemu-img convert"; finish; exit; }
want_sha=$(sha256sum "$SCRATCH/qemu.raw" | awk '{print $1}')
want_size=$(stat -c %s "$SCRATCH/qemu.raw")
rm -f "$SCRATCH/qemu.raw"

if $PY -c 'import pyvmdk' 2>/dev/null; then have_pyvmdk=1; else have_pyvmdk=0; fi

for t in 1 2; do
  out=$SCRATCH/t$t.vmdk
  if res=$("$TOOL" "$img" "$out" 6 "$t"); then
    ok "$f: written with $t thread(s): size, file bytes, seconds = $res"
  else
    bad "$f: vmdk_write with $t thread(s)"; continue
  fi
  qemu-img check -f vmdk "$out" >"$SCRATCH/check" 2>&1 && ok "t$t: qemu-img check" || { bad "t$t: qemu-img check"; sed 's/^/  /' "$SCRATCH/check"; }
  q=$(qemu-img info --output=json -f vmdk "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  [ "$q" = "$want_size" ] && ok "t$t: qemu-img virtual size $q" || bad "t$t: qemu-img says size $q, expected $want_size"
  vmdkinfo_check "t$t" "$out" "Stream optimized" "$want_size"
  qemu-img compare -f vpc "$img" -F vmdk "$out" >/dev/null && ok "t$t: qemu-img compare: identical to the VHD" || bad "t$t: qemu-img compare: differs"
  if [ $have_pyvmdk = 1 ]; then
    got=$(libvmdk_sha256 "$out")
    [ "$got" = "$want_sha" ] && ok "t$t: libvmdk content sha256 = qemu-img raw's" || bad "t$t: libvmdk content sha256 '$got', qemu-img raw's $want_sha"
  else
    bad "t$t: python3 module pyvmdk missing (Debian package python3-libvmdk): content not checked"
  fi
  if walk=$($PY - "$out" "$want_size" <<'EOF'
# VirtualBox's vmdkStreamReadSequential, strictly: start at overHead, every
# marker in order, each grain inflated to exactly one grain.
import struct, sys, zlib
path, size = sys.argv[1], int(sys.argv[2])
f = open(path, "rb").read()
S = 512
def fail(msg): sys.exit(msg)
magic, ver, flags, cap, grain, doff, dsize, ngte, rgd, gd, over = struct.unpack_from("<4sIIQQQQIQQQ", f, 0)
if (magic, ver, flags, grain, ngte, rgd, gd) != (b"KDMV", 3, 0x30001, 128, 512, 0, 2**64 - 1):
    fail("header %r" % ((magic, ver, flags, grain, ngte, rgd, gd),))
if cap * S != size or doff != 1 or over != 128 or f[73:77] != b"\n \r\n" or struct.unpack_from("<H", f, 77)[0] != 1:
    fail("header capacity/descriptor/overHead/newline/compression")
if len(f) % S:
    fail("file not a sector multiple")
ngd = -(-cap // (128 * 512))
s, last, open_span, gts, grains, state, gd_sect = over, -1, None, {}, 0, 0, None
while True:
    if s * S + 16 > len(f):
        fail("ran off the end at sector %d" % s)
    val, zsize = struct.unpack_from("<QI", f, s * S)
    if zsize:
        if state or val <= last or val % 128 or val >= cap or zsize > 66036:
            fail("grain at sector %d: lba %d size %d" % (s, val, zsize))
        span = val // (128 * 512)
        if open_span not in (None, span):
            fail("span %d has no GT before lba %d" % (open_span, val))
        open_span, last = span, val
        g = zlib.decompress(f[s * S + 12 : s * S + 12 + zsize])
        if len(g) != 65536:
            fail("grain at lba %d inflates to %d bytes" % (val, len(g)))
        grains += 1
        s += -(-(12 + zsize) // S)
        continue
    mtype = struct.unpack_from("<I", f, s * S + 12)[0]
    if mtype == 1 and state == 0 and val == 4 and open_span is not None:
        gts[open_span] = s + 1; open_span = None; s += 5
    elif mtype == 2 and state == 0 and open_span is None and val == -(-ngd * 4 // S):
        ents = struct.unpack_from("<%dI" % ngd, f, (s + 1) * S)
        if any(ents[i] != gts.get(i, 0) for i in range(ngd)):
            fail("GD does not match the GTs seen")
        gd_sect, state, s = s + 1, 1, s + 1 + val
    elif mtype == 3 and state == 1 and val == 1:
        foot = f[(s + 1) * S : (s + 2) * S]
        if foot[:56] != f[:56] or foot[64:] != f[64:S] or struct.unpack_from("<Q", foot, 56)[0] != gd_sect:
            fail("footer header differs from the header (gdOffset %d)" % gd_sect)
        state, s = 2, s + 2
    elif mtype == 0 and state == 2 and f[s * S : (s + 1) * S] == bytes(S):
        if (s + 1) * S != len(f):
            fail("EOS is not the last sector")
        break
    else:
        fail("unexpected marker type %d value %d at sector %d (state %d)" % (mtype, val, s, state))
print("%d grains, %d grain tables, %d GD entries" % (grains, len(gts), ngd))
EOF
); then ok "t$t: stream walk: $walk"; else bad "t$t: stream walk: $walk"; fi
done

# 1 and 2 threads: same header and stream; descriptors differ only in the
# random CID and ddb.uuid.image.
a=$SCRATCH/t1.vmdk b=$SCRATCH/t2.vmdk
if [ -f "$a" ] && [ -f "$b" ]; then
  cmp -n 512 "$a" "$b" >/dev/null && cmp -i 10752 "$a" "$b" >/dev/null \
    && ok "1 and 2 threads: same bytes outside the descriptor" || bad "1 and 2 threads: outputs differ"
  desc() { dd if="$1" bs=512 skip=1 count=20 status=none | tr -d '\0' | sed -e 's/^CID=.*/CID=X/' -e 's/^ddb.uuid.image = .*/UUID/' -e 's/^RW \([0-9]*\) SPARSE .*/RW \1/'; }
  [ "$(desc "$a")" = "$(desc "$b")" ] && ok "1 and 2 threads: descriptors equal but CID, uuid.image and name" || bad "1 and 2 threads: descriptors differ"
fi
finish
