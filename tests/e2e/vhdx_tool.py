#!/usr/bin/env python3
"""VHDX helpers for tests/e2e/vhdx.sh, written from [MS-VHDX] alone (own
CRC-32C, own layout), so that they check boxwright instead of sharing its
mistakes.

  vhdx_tool.py child BASE.vhdx CHILD.vhdx EXPECTED.raw
      Make CHILD, a differencing VHDX over BASE (qemu-img cannot make
      one), "written into": whole blocks, partial blocks with a sector
      bitmap, a ZERO block.  EXPECTED.raw must hold BASE's raw content on
      entry; the same writes are applied to it, so it ends as what CHILD
      reads as.
      Options (after the three paths; EXPECTED.raw may be "-" with
      --empty or --from):
        --empty           no writes: the child reads as BASE
        --from RAW --parent-raw PRAW
                          instead of the pattern writes, the child reads
                          as RAW: each block where RAW differs from PRAW
                          (BASE's content) is stored, alternately whole
                          (fully present) and as the differing sectors
                          (partially present, the other sectors filled
                          with 0xEE that the bitmap hides); plus one block
                          equal to PRAW's (fully present) and one with no
                          sector bit set: both add nothing
        --block-size MIB  payload block size (default 2)
        --keys LIST       locator keys, comma-separated, of: linkage,
                          linkage2, relative, volume, absolute, extra (an
                          unknown key); default linkage,relative,absolute
        --user-item       add an optional user metadata item
        --locator-type G  the parent locator's type GUID (default VHDX's)
  vhdx_tool.py setlog IMG.vhdx
      Give IMG's headers a non-zero LogGuid (as a crash mid-update leaves
      it), CRCs fixed: readers must replay the log or refuse.
  vhdx_tool.py link A.vhdx B.vhdx
      B keeps A's link to the parent: the same Parent Locator item bytes,
      HasParent, block size, sector sizes, virtual size and Page 83 Data;
      B's FileWriteGuid and DataWriteGuid are its own.  Prints the keys.
  vhdx_tool.py blocks IMG.vhdx PARENT.raw
      Every payload block of IMG is not present or fully present, each
      present block differs from PARENT.raw there, and every chunk has a
      present sector bitmap whose bits (sampled) are set for the fully
      present blocks and clear for the others.  Prints the count.
  vhdx_tool.py kept IN.vhdx IN.raw OUT.vhdx PARENT.raw
      The blocks IN holds whose content (IN.raw: IN read through its
      chain) differs from the parent are in OUT; the others are dropped.
      Prints both counts.
  vhdx_tool.py vhdi CHILD.vhdx PARENT.vhdx OURS.raw PARENT.raw
      libvhdi (python3-libvhdi, the parent set) reads CHILD as OURS.raw
      says, in the 4 MiB chunks where OURS.raw or PARENT.raw hold data or
      CHILD holds a block (elsewhere both are zeros by construction).
"""
import os
import struct
import sys

MIB = 1 << 20


def crc32c(data):
    poly = 0x82F63B78
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def seal(buf):
    buf[4:8] = b"\0\0\0\0"
    buf[4:8] = struct.pack("<I", crc32c(bytes(buf)))


def guid_bytes(text):
    """{D1-D2-D3-D4-D5} to the on-disk layout (D1-D3 little-endian)."""
    h = text.strip("{}").split("-")
    return (struct.pack("<IHH", int(h[0], 16), int(h[1], 16), int(h[2], 16))
            + bytes.fromhex(h[3] + h[4]))


def guid_text(b):
    d1, d2, d3 = struct.unpack("<IHH", b[:8])
    return "{%08x-%04x-%04x-%s-%s}" % (d1, d2, d3, b[8:10].hex(), b[10:16].hex())


G_BAT = guid_bytes("2DC27766-F623-4200-9D64-115E9BFD4A08")
G_META = guid_bytes("8B7CA206-4790-4B9A-B8FE-575F050F886E")
G_FP = guid_bytes("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
G_SIZE = guid_bytes("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
G_P83 = guid_bytes("BECA12AB-B2E6-4523-93EF-C309E000C746")
G_LSS = guid_bytes("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
G_PSS = guid_bytes("CDA348C7-445D-4471-9CC9-E9885251C556")
G_PL = guid_bytes("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
G_PLT = guid_bytes("B04AEFB7-D19E-4A81-B789-25B8E9445913")


def current_header(f):
    best = None
    for off in (64 * 1024, 128 * 1024):
        f.seek(off)
        h = bytearray(f.read(4096))
        stored = struct.unpack("<I", h[4:8])[0]
        c = bytearray(h)
        c[4:8] = b"\0\0\0\0"
        if h[:4] != b"head" or crc32c(bytes(c)) != stored:
            continue
        seq = struct.unpack("<Q", h[8:16])[0]
        if best is None or seq > best[0]:
            best = (seq, off, h)
    if best is None:
        sys.exit("no valid header")
    return best


def virtual_size(f):
    """Walk region table 1 and the metadata table for the size."""
    f.seek(192 * 1024)
    rt = f.read(64 * 1024)
    for i in range(struct.unpack("<I", rt[8:12])[0]):
        e = rt[16 + 32 * i:48 + 32 * i]
        if e[:16] == G_META:
            moff = struct.unpack("<Q", e[16:24])[0]
            f.seek(moff)
            mt = f.read(64 * 1024)
            for k in range(struct.unpack("<H", mt[10:12])[0]):
                me = mt[32 + 32 * k:64 + 32 * k]
                if me[:16] == G_SIZE:
                    f.seek(moff + struct.unpack("<I", me[16:20])[0])
                    return struct.unpack("<Q", f.read(8))[0]
    sys.exit("no virtual size")


def utf16(s):
    return s.encode("utf-16-le")


def child(base, out, expected, opt):
    with open(base, "rb") as f:
        _, _, h = current_header(f)
        dwg = bytes(h[32:48])
        size = virtual_size(f)
    bs, lss = opt.block_size * MIB, 512
    spb = bs // lss
    cr = (1 << 23) * lss // bs
    nblocks = (size + bs - 1) // bs
    nchunks = (nblocks + cr - 1) // cr
    nentries = nchunks * (cr + 1)
    bat_len = (nentries * 8 + MIB - 1) // MIB * MIB

    area = bytearray(MIB)
    area[0:8] = b"vhdxfile"
    cre = utf16("vhdx_tool.py")
    area[8:8 + len(cre)] = cre
    hdr = bytearray(4096)
    hdr[0:4] = b"head"
    hdr[16:32] = os.urandom(16)
    hdr[32:48] = os.urandom(16)
    struct.pack_into("<HHIQ", hdr, 64, 0, 1, MIB, MIB)   # log 1 MiB at 1 MiB
    for n, off in ((7, 64 * 1024), (8, 128 * 1024)):
        struct.pack_into("<Q", hdr, 8, n)
        seal(hdr)
        area[off:off + 4096] = hdr
    rt = bytearray(64 * 1024)
    rt[0:4] = b"regi"
    struct.pack_into("<I", rt, 8, 2)
    meta_off, bat_off = 2 * MIB, 3 * MIB
    rt[16:48] = G_BAT + struct.pack("<QII", bat_off, bat_len, 1)
    rt[48:80] = G_META + struct.pack("<QII", meta_off, MIB, 1)
    seal(rt)
    area[192 * 1024:256 * 1024] = rt
    area[256 * 1024:320 * 1024] = rt

    meta = bytearray(MIB)
    meta[0:8] = b"metadata"
    name = os.path.basename(base)
    known = {"linkage": ("parent_linkage", guid_text(dwg)),
             "linkage2": ("parent_linkage2", guid_text(os.urandom(16))),
             "relative": ("relative_path", ".\\" + name),
             "volume": ("volume_path", "\\\\?\\Volume{26a21bda-a627-11d7-9931-806e6f6e6963}\\nowhere\\" + name),
             "absolute": ("absolute_win32_path", "C:\\nowhere\\" + name),
             "extra": ("vendor_note", "kept as is")}
    kv = [known[k] for k in opt.keys.split(",")]
    pl = bytearray(guid_bytes(opt.locator_type) + struct.pack("<HH", 0, len(kv)))
    texts = b""
    tbase = 20 + 12 * len(kv)
    for k, v in kv:
        ko = tbase + len(texts)
        texts += utf16(k)
        vo = tbase + len(texts)
        texts += utf16(v)
        pl += struct.pack("<IIHH", ko, vo, len(utf16(k)), len(utf16(v)))
    pl += texts
    items = [(G_FP, struct.pack("<II", bs, 2), 4),          # HasParent
             (G_SIZE, struct.pack("<Q", size), 6),
             (G_LSS, struct.pack("<I", lss), 6),
             (G_PSS, struct.pack("<I", 4096), 6),
             (G_P83, os.urandom(16), 6),
             (G_PL, bytes(pl), 4)]
    if opt.user_item:
        items.append((os.urandom(16), b"user data", 1))          # IsUser
    struct.pack_into("<H", meta, 10, len(items))
    off = 64 * 1024
    for i, (g, data, flags) in enumerate(items):
        meta[32 + 32 * i:64 + 32 * i] = g + struct.pack("<IIII", off, len(data), flags, 0)
        meta[off:off + len(data)] = data
        off += 4096

    # The writes: (first sector, sector count) runs of pattern data, and
    # blocks made ZERO.
    runs = [(1, 7), (2 * spb * 10, spb), (spb * 100 + 3, 5), (spb * 100 + 700, 300),
            (spb * (nblocks - 1) + spb - 2, 2)]
    zero_blocks = [1]
    if opt.empty or opt.from_raw:
        runs, zero_blocks = [], []
    bat = bytearray(bat_len)
    bitmap = bytearray(nchunks * MIB)
    blocks = {}
    pos = 4 * MIB + nchunks * MIB
    if opt.from_raw:
        pos = from_raw(opt, bs, lss, nblocks, blocks, bitmap, pos)
    with open(expected if expected != "-" else os.devnull, "r+b") as ex:
        for first, count in runs:
            for s in range(first, first + count):
                b = s // spb
                data = bytes(((s * 7 + i) & 0xFF) ^ 0x5A for i in range(lss))
                if b not in blocks:
                    blocks[b] = [pos, bytearray(bs)]
                    pos += bs
                blocks[b][1][(s % spb) * lss:(s % spb + 1) * lss] = data
                bitmap[s // 8] |= 1 << (s % 8)
                ex.seek(s * lss)
                ex.write(data)
        for b in zero_blocks:
            ex.seek(b * bs)
            ex.write(bytes(bs))
    with open(out, "wb") as f:
        f.write(area)
        f.seek(meta_off)
        f.write(meta)
        for b, (bpos, data) in blocks.items():
            full = all(bitmap[(b * spb + s) // 8] >> ((b * spb + s) % 8) & 1
                       for s in range(spb))
            struct.pack_into("<Q", bat, 8 * (b + b // cr), (6 if full else 7) | (bpos // MIB) << 20)
            f.seek(bpos)
            f.write(data)
        for b in zero_blocks:
            struct.pack_into("<Q", bat, 8 * (b + b // cr), 2)
        for c in range(nchunks):
            sb = 4 * MIB + c * MIB
            struct.pack_into("<Q", bat, 8 * (c * (cr + 1) + cr), 6 | (sb // MIB) << 20)
            f.seek(sb)
            f.write(bitmap[c * MIB:(c + 1) * MIB])
        f.seek(bat_off)
        f.write(bat)
        f.truncate(pos)
    print("child of %s: %d blocks written into, %d zeroed" % (base, len(blocks), len(zero_blocks)))


def from_raw(opt, bs, lss, nblocks, blocks, bitmap, pos):
    """Blocks for a child reading as opt.from_raw over opt.parent_raw."""
    spb = bs // lss
    equal = []
    n = 0
    with open(opt.from_raw, "rb") as r, open(opt.parent_raw, "rb") as p:
        for b in range(nblocks):
            want, par = r.read(bs).ljust(bs, b"\0"), p.read(bs).ljust(bs, b"\0")
            if want == par:
                if any(par) and len(equal) < 2:
                    equal.append(b)
                continue
            n += 1
            if n % 2:
                data, secs = bytearray(want), range(spb)
            else:
                data = bytearray(b"\xee" * bs)
                secs = [s for s in range(spb) if want[s * lss:(s + 1) * lss] != par[s * lss:(s + 1) * lss]]
                for s in secs:
                    data[s * lss:(s + 1) * lss] = want[s * lss:(s + 1) * lss]
            for s in secs:
                bit = b * spb + s
                bitmap[bit // 8] |= 1 << (bit % 8)
            blocks[b] = [pos, data]
            pos += bs
        # One block equal to the parent's (all bits), one with none.
        if equal:
            p.seek(equal[0] * bs)
            blocks[equal[0]] = [pos, bytearray(p.read(bs).ljust(bs, b"\0"))]
            for s in range(spb):
                bit = equal[0] * spb + s
                bitmap[bit // 8] |= 1 << (bit % 8)
            pos += bs
        if len(equal) > 1:
            blocks[equal[1]] = [pos, bytearray(b"\xee" * bs)]
            pos += bs
    return pos


class Vhdx:
    """Just enough of a reader for the checks below."""

    def __init__(self, path):
        self.f = open(path, "rb")
        _, _, h = current_header(self.f)
        self.fwg, self.dwg = bytes(h[16:32]), bytes(h[32:48])
        self.f.seek(192 * 1024)
        rt = self.f.read(64 * 1024)
        self.items = {}
        for i in range(struct.unpack("<I", rt[8:12])[0]):
            g, off, ln = struct.unpack_from("<16sQI", rt, 16 + 32 * i)
            if g == G_META:
                self.f.seek(off)
                mt = self.f.read(64 * 1024)
                for k in range(struct.unpack("<H", mt[10:12])[0]):
                    ig, io, il, fl = struct.unpack_from("<16sIII", mt, 32 + 32 * k)
                    self.f.seek(off + io)
                    self.items[ig] = (self.f.read(il), fl)
            elif g == G_BAT:
                bat_off = off
        self.bs, self.flags = struct.unpack("<II", self.items[G_FP][0])
        self.size = struct.unpack("<Q", self.items[G_SIZE][0])[0]
        self.lss = struct.unpack("<I", self.items[G_LSS][0])[0]
        self.cr = (1 << 23) * self.lss // self.bs
        self.nblocks = (self.size + self.bs - 1) // self.bs
        nchunks = (self.nblocks + self.cr - 1) // self.cr
        n = nchunks * (self.cr + 1)
        self.f.seek(bat_off)
        self.bat = struct.unpack("<%dQ" % n, self.f.read(8 * n))

    def payload(self, b):
        return self.bat[b + b // self.cr]

    def bitmap_entries(self):
        return self.bat[self.cr::self.cr + 1]

    def block(self, b):
        self.f.seek((self.payload(b) >> 20) * MIB)
        return self.f.read(self.bs)

    def locator_keys(self):
        pl = self.items[G_PL][0]
        out = {}
        for i in range(struct.unpack("<H", pl[18:20])[0]):
            ko, vo, kl, vl = struct.unpack_from("<IIHH", pl, 20 + 12 * i)
            out[pl[ko:ko + kl].decode("utf-16-le")] = pl[vo:vo + vl].decode("utf-16-le")
        return out


def link(a_path, b_path):
    a, b = Vhdx(a_path), Vhdx(b_path)
    bad = []
    if not (a.flags & 2 and b.flags == 2):
        bad.append("flags %#x, %#x (expected HasParent alone in B)" % (a.flags, b.flags))
    for what, g in (("Parent Locator", G_PL), ("block size", G_FP), ("virtual size", G_SIZE),
                    ("logical sector size", G_LSS), ("physical sector size", G_PSS),
                    ("Page 83 Data", G_P83)):
        if a.items[g][0] != b.items[g][0]:
            bad.append(what)
    if b.items[G_PL][1] & 4 == 0:
        bad.append("the Parent Locator is not marked required")
    if a.fwg == b.fwg or a.dwg == b.dwg:
        bad.append("FileWriteGuid or DataWriteGuid kept (expected new ones)")
    if bad:
        sys.exit("differ: " + ", ".join(bad))
    print("same locator %s, block size %d, new DataWriteGuid %s" %
          (a.locator_keys(), a.bs, guid_text(b.dwg)))


def blocks(img, parent_raw):
    v = Vhdx(img)
    n = 0
    spb = v.bs // v.lss
    sectors = v.size // v.lss
    with open(parent_raw, "rb") as p:
        for c, sbe in enumerate(v.bitmap_entries()):
            if sbe & 7 != 6:
                sys.exit("chunk %d: sector bitmap state %d (expected 6, present)" % (c, sbe & 7))
            v.f.seek((sbe >> 20) * MIB)
            bm = v.f.read(MIB).ljust(MIB, b"\0")
            for b in range(c * v.cr, min((c + 1) * v.cr, v.nblocks)):
                st = v.payload(b) & 7
                if st not in (0, 6):
                    sys.exit("block %d: state %d (expected 0 or 6)" % (b, st))
                first = (b - c * v.cr) * spb
                count = min(spb, sectors - b * spb)
                bits = [bm[(first + k) // 8] >> ((first + k) % 8) & 1 for k in range(0, count, 61)]
                bits.append(bm[(first + count - 1) // 8] >> ((first + count - 1) % 8) & 1)
                if set(bits) != {1 if st == 6 else 0}:
                    sys.exit("block %d (state %d): sector bits %s do not match" % (b, st, sorted(set(bits))))
                if st == 0:
                    continue
                p.seek(b * v.bs)
                n_ = min(v.bs, v.size - b * v.bs)
                if v.block(b)[:n_] == p.read(n_).ljust(n_, b"\0"):
                    sys.exit("block %d equals the parent's" % b)
                n += 1
    print("%d fully present blocks, each differs from the parent; every chunk's sector "
          "bitmap present with the bits of those blocks set" % n)


def kept(in_path, in_raw, out_path, parent_raw):
    i, o = Vhdx(in_path), Vhdx(out_path)
    k = d = 0
    with open(in_raw, "rb") as r, open(parent_raw, "rb") as p:
        for b in range(i.nblocks):
            if i.payload(b) & 7 not in (6, 7):
                continue
            r.seek(b * i.bs)
            p.seek(b * i.bs)
            differs = r.read(i.bs) != p.read(i.bs)
            present = o.payload(b) & 7 == 6
            if differs and not present:
                sys.exit("block %d differs from the parent but was dropped" % b)
            if not differs and present:
                sys.exit("block %d equals the parent but was kept" % b)
            k, d = k + differs, d + (not differs)
    print("%d kept, %d dropped" % (k, d))


def vhdi(child_path, parent_path, ours_raw, parent_raw):
    # The chunk walk and libvhdi's reading are diffcheck.py's (VHD); no
    # bytecode left in the source tree.
    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from diffcheck import vhdi_compare
    v = Vhdx(child_path)
    vhdi_compare(child_path, parent_path, ours_raw, parent_raw,
                 [(b * v.bs, (b + 1) * v.bs) for b in range(v.nblocks)
                  if v.payload(b) & 7 in (6, 7)])


def setlog(img):
    with open(img, "r+b") as f:
        for off in (64 * 1024, 128 * 1024):
            f.seek(off)
            h = bytearray(f.read(4096))
            h[48:64] = bytes(range(1, 17))
            seal(h)
            f.seek(off)
            f.write(h)


if __name__ == "__main__":
    if sys.argv[1] == "child":
        import argparse
        ap = argparse.ArgumentParser()
        ap.add_argument("--empty", action="store_true")
        ap.add_argument("--from", dest="from_raw")
        ap.add_argument("--parent-raw")
        ap.add_argument("--block-size", type=int, default=2)
        ap.add_argument("--keys", default="linkage,relative,absolute")
        ap.add_argument("--user-item", action="store_true")
        ap.add_argument("--locator-type", default="B04AEFB7-D19E-4A81-B789-25B8E9445913")
        child(sys.argv[2], sys.argv[3], sys.argv[4], ap.parse_args(sys.argv[5:]))
    elif sys.argv[1] == "setlog":
        setlog(sys.argv[2])
    elif sys.argv[1] == "link":
        link(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "blocks":
        blocks(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "kept":
        kept(*sys.argv[2:6])
    elif sys.argv[1] == "vhdi":
        vhdi(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
