#!/usr/bin/python3
"""masked_cmp.py REF OUT PART_OFFSET BITMAP CLUSTER_SIZE

Check a sparsified disk OUT against the original REF (both raw): every
cluster that BITMAP (ntfscat's $Bitmap of the volume at PART_OFFSET) marks
used is byte-identical, every free cluster of OUT is zero, and every byte
outside the volume's clusters is identical.  Prints counts; exit 1 on any
difference.
"""
import os
import sys

ref_path, out_path = sys.argv[1], sys.argv[2]
poff, bitmap_path, cs = int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
bitmap = open(bitmap_path, "rb").read()
size = os.path.getsize(ref_path)
if os.path.getsize(out_path) < size:
    sys.exit("OUT is shorter than REF")
ref, out = open(ref_path, "rb"), open(out_path, "rb")
# The volume's clusters: as many as fit the partition (the bitmap may be longer).
with open(ref_path, "rb") as f:
    f.seek(poff + 0x28)
    total_sectors = int.from_bytes(f.read(8), "little")
    f.seek(poff + 0x0B)
    bps = int.from_bytes(f.read(2), "little")
nclusters = total_sectors * bps // cs
vol_end = poff + nclusters * cs
zero = bytes(cs)
bad = used = free = 0
CH = 4 << 20


def same(a, b, n):
    ref.seek(a); out.seek(a)
    return ref.read(n) == out.read(n)


# outside the volume's clusters: identical
for a, b in ((0, poff), (vol_end, size)):
    p = a
    while p < b:
        n = min(CH, b - p)
        if not same(p, p, n):
            bad += 1
            print("differs outside the volume at", p)
            break
        p += n
# inside: cluster by cluster, runs at a time
lcn = 0
while lcn < nclusters:
    u = (bitmap[lcn // 8] >> (lcn % 8)) & 1
    end = lcn + 1
    while end < nclusters and end - lcn < 1024 and ((bitmap[end // 8] >> (end % 8)) & 1) == u:
        end += 1
    a, n = poff + lcn * cs, (end - lcn) * cs
    out.seek(a)
    data = out.read(n)
    if u:
        used += end - lcn
        ref.seek(a)
        if ref.read(n) != data:
            bad += 1
            print("used clusters %d..%d differ" % (lcn, end - 1))
    else:
        free += end - lcn
        if data.count(0) != len(data):
            bad += 1
            print("free clusters %d..%d are not zero" % (lcn, end - 1))
    lcn = end
print("used clusters %d identical, free clusters %d zero, %d differences" % (used, free, bad))
sys.exit(1 if bad else 0)
