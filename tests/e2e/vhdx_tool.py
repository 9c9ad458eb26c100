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
  vhdx_tool.py setlog IMG.vhdx
      Give IMG's headers a non-zero LogGuid (as a crash mid-update leaves
      it), CRCs fixed: readers must replay the log or refuse.
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


def child(base, out, expected):
    with open(base, "rb") as f:
        _, _, h = current_header(f)
        dwg = bytes(h[32:48])
        size = virtual_size(f)
    bs, lss = 2 * MIB, 512
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
    kv = [("parent_linkage", guid_text(dwg)),
          ("relative_path", ".\\" + os.path.basename(base)),
          ("absolute_win32_path", "C:\\nowhere\\" + os.path.basename(base))]
    pl = bytearray(G_PLT + struct.pack("<HH", 0, len(kv)))
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
             (G_PL, bytes(pl), 6)]
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
    bat = bytearray(bat_len)
    bitmap = bytearray(nchunks * MIB)
    blocks = {}
    pos = 4 * MIB + nchunks * MIB
    with open(expected, "r+b") as ex:
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
        child(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "setlog":
        setlog(sys.argv[2])
    else:
        sys.exit(__doc__)
