#!/usr/bin/python3
"""mkdiffvhd.py - small synthetic VHD chains for the differencing reader
tests (stdlib only).

Follows the Microsoft "Virtual Hard Disk Image Format Specification"
(big-endian fields; "conectix" footer at the end and a copy at 0; a
"cxsparse" dynamic header at 512; the BAT after it) and, for differencing
images (disk type 4), its "Parent Locator Entry" and sector bitmap rules:
a set bit (most significant bit first) means the sector is in the child,
a clear bit means read the parent; an unallocated block is all parent.

  mkdiffvhd.py base OUT.vhd --size BYTES [--seed N] [--block-size B]
      a dynamic VHD whose blocks are, by a seeded choice, empty, full of
      pseudo-random bytes, or a few scattered sectors.
  mkdiffvhd.py child OUT.vhd --parent P.vhd [--seed N] [--block-size B]
      [--locators w2ru,w2ku,macx] [--parent-name NAME] [--no-parent-name]
      [--data-space-bytes] [--parent-id HEX32] [--libvhdi-safe]
      a differencing VHD over P (size and unique id read from P's footer).
      Each block is, by a seeded choice: unallocated; allocated with every
      bit set; allocated with random bits (some set sectors all zero, which
      must hide the parent's data); or allocated with no bit set.  Sectors
      whose bit is clear hold 0xEE junk that a reader must never return.
      Locators: W2ru = the parent's path relative to OUT's directory, W2ku
      = its absolute path, both UTF-16LE with backslashes; MacX = a
      file:// URL (UTF-8, percent-encoded).  The parent name (UTF-16BE) is
      the parent's file name.  --data-space-bytes stores the locator data
      space in bytes, as Hyper-V does, instead of the spec's sectors.
      --parent-id records another parent unique id (a wrong-parent test).
      --libvhdi-safe makes every bitmap byte 0...01...1 (0x00, 0x01, 0x03,
      ... 0xFF), the only bytes libvhdi 20210425 reads right (see cat).
      --empty: no block at all (a fresh child: the parent's disk).
      --from NEW.raw --parent-raw P.raw: a child that reads as NEW.raw,
      P.raw being P's disk: each block where they differ is allocated
      with a bit set only for the sectors that differ (the others hold
      0xEE junk); two blocks that do not differ are allocated too, one
      with every bit set (the parent's bytes copied) and one with none
      (junk only), as Hyper-V leaves them.
  mkdiffvhd.py cat OUT.raw IMAGE [PARENT ...] [--libvhdi-quirk]
      the virtual disk of IMAGE read through its chain (given child first),
      as the spec says, written sparse to OUT.raw: the reference the e2e
      test compares our reader with.  --libvhdi-quirk reads a bitmap as
      libvhdi 20210425 does: its VHD sector-bitmap loop shifts each byte
      by (7 - bit) without masking the bit, so every sector from the first
      set bit of a byte to the end of that byte counts as the child's.

Only stdlib; the output is deterministic for a seed (the unique ids are
derived from it, the timestamps are fixed).
"""
import argparse
import os
import random
import struct
import sys
import urllib.parse
import uuid

sys.dont_write_bytecode = True      # nothing left in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vhdspec  # noqa: E402
from vhdspec import FOOTER, HEADER, SECTOR, data_chunks  # noqa: E402

TIMESTAMP = 528163200          # 2016-09-26T00:00:00Z, seconds since 2000
NS = uuid.UUID("7b1e0c55-2f0a-4c1d-8f36-6d6b64696676")   # mkdiffvhd ids


def chs(size):
    """The spec's CHS algorithm (Appendix: CHS calculation)."""
    total = min(size // SECTOR, 65535 * 16 * 255)
    if total >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = total // spt
    else:
        spt = 17
        cth = total // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = total // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = total // spt
    return cth // heads, heads, spt


def checksum(data):
    return (~sum(data)) & 0xFFFFFFFF


def make_footer(size, disk_type, uid):
    c, h, s = chs(size)
    f = bytearray(FOOTER)
    struct.pack_into(">8sIIQI4sI4sQQHBBII16sB", f, 0, b"conectix", 2,
                     0x00010000, HEADER // 2, TIMESTAMP, b"win ", 0x000A0000,
                     b"Wi2k", size, size, c, h, s, disk_type, 0, uid, 0)
    struct.pack_into(">I", f, 64, checksum(f))
    return bytes(f)


def read_footer(path):
    v = vhdspec.Vhd(path)
    v.fh.close()
    return v.size, v.uid, v.timestamp


def write_image(out, size, disk_type, uid, bs, blocks, header_extra=None,
                locators=()):
    """blocks: {index: (bitmap bytes, data bytes)}; locators: [(code, data)]."""
    n = (size + bs - 1) // bs
    bat_bytes = (n * 4 + 511) // 512 * 512
    bitmap_bytes = ((bs // SECTOR + 7) // 8 + 511) // 512 * 512
    h = bytearray(HEADER)
    struct.pack_into(">8sQQIII", h, 0, b"cxsparse", 0xFFFFFFFFFFFFFFFF,
                     1536, 0x00010000, n, bs)
    if header_extra:
        header_extra(h)
    pos = 1536 + bat_bytes
    placed = []
    for i, (code, data, space_bytes) in enumerate(locators):
        room = (len(data) + 511) // 512 * 512 or 512
        space = room if space_bytes else room // 512
        struct.pack_into(">4sIIIQ", h, 576 + 24 * i, code,
                         space, len(data), 0, pos)
        placed.append((pos, data))
        pos += room
    struct.pack_into(">I", h, 36, checksum(h))
    bat = bytearray(b"\xff" * bat_bytes)
    tmp = out + ".tmp"
    with open(tmp, "wb") as fh:
        for off, data in placed:
            fh.seek(off)
            fh.write(data)
        for b in sorted(blocks):
            bitmap, data = blocks[b]
            struct.pack_into(">I", bat, 4 * b, pos // 512)
            fh.seek(pos)
            fh.write(bitmap.ljust(bitmap_bytes, b"\0"))
            fh.write(data)
            pos += bitmap_bytes + bs
        footer = make_footer(size, disk_type, uid)
        fh.seek(0)
        fh.write(footer)
        fh.write(h)
        fh.write(bat)
        fh.seek(pos)
        fh.write(footer)
    os.replace(tmp, out)


def base(args):
    rnd = random.Random(args.seed)
    bs = args.block_size
    sectors = bs // SECTOR
    blocks = {}
    for b in range((args.size + bs - 1) // bs):
        kind = rnd.choice(["empty", "full", "scattered"])
        if kind == "empty":
            continue
        data = bytearray(bs)
        if kind == "full":
            data[:] = rnd.randbytes(bs)
        else:
            for s in rnd.sample(range(sectors), min(8, sectors)):
                data[s * SECTOR:(s + 1) * SECTOR] = rnd.randbytes(SECTOR)
        # Bytes past the virtual size stay zero.
        limit = args.size - b * bs
        if limit < bs:
            data[limit:] = bytes(bs - limit)
        blocks[b] = (b"\xff" * ((sectors + 7) // 8), bytes(data))
    uid = uuid.uuid5(NS, f"base-{args.seed}").bytes
    write_image(args.out, args.size, 3, uid, bs, blocks)


def utf16le(text):
    return text.encode("utf-16-le")


def from_raw(args, psize, bs, rnd):
    """Blocks of a child over P.raw that reads as NEW.raw (see --from)."""
    sectors = bs // SECTOR
    blocks, same = {}, []
    with open(args.from_raw, "rb") as new, open(args.parent_raw, "rb") as old:
        # Only blocks where either file holds data (both are sparse).
        todo = sorted(data_chunks(args.from_raw, bs) | data_chunks(args.parent_raw, bs))
        for b in todo:
            if b * bs >= psize:
                break
            new.seek(b * bs)
            old.seek(b * bs)
            n, o = new.read(bs).ljust(bs, b"\0"), old.read(bs).ljust(bs, b"\0")
            if n == o:
                if o.count(0) != bs:
                    same.append((b, o))
                continue
            bitmap = bytearray((sectors + 7) // 8)
            data = bytearray(b"\xee" * bs)
            for s in range(sectors):
                a = slice(s * SECTOR, (s + 1) * SECTOR)
                if n[a] != o[a]:
                    bitmap[s // 8] |= 0x80 >> (s % 8)
                    data[a] = n[a]
            blocks[b] = (bytes(bitmap), bytes(data))
    if len(same) >= 2:
        (b1, o1), (b2, _) = rnd.sample(same, 2)
        blocks[b1] = (b"\xff" * ((sectors + 7) // 8), o1)
        blocks[b2] = (bytes((sectors + 7) // 8), b"\xee" * bs)
    return blocks


def child(args):
    rnd = random.Random(args.seed)
    psize, puid, pstamp = read_footer(args.parent)
    if args.parent_id:
        puid = bytes.fromhex(args.parent_id)
    bs = args.block_size
    sectors = bs // SECTOR
    blocks = {}
    for b in range((psize + bs - 1) // bs):
        if args.empty or args.from_raw:
            break
        kind = rnd.choice(["none", "none", "all", "some", "some", "clear"])
        if kind == "none":
            continue
        if kind == "all":
            bits = [1] * sectors
        elif kind == "clear":
            bits = [0] * sectors
        elif args.libvhdi_safe:
            bits = []
            for _ in range((sectors + 7) // 8):
                k = rnd.choice([0, 8, 8, rnd.randrange(9)])
                bits += [0] * k + [1] * (8 - k)
            bits = bits[:sectors]
        else:
            bits = [1 if rnd.random() < 0.3 else 0 for _ in range(sectors)]
            # Runs too, so that reads see long stretches of each side.
            start = rnd.randrange(sectors)
            for s in range(start, min(sectors, start + rnd.randrange(1, 64))):
                bits[s] = 1
        data = bytearray(b"\xee" * bs)
        for s, bit in enumerate(bits):
            if bit:
                zero = rnd.random() < 0.1
                data[s * SECTOR:(s + 1) * SECTOR] = (
                    bytes(SECTOR) if zero else rnd.randbytes(SECTOR))
        bitmap = bytearray((sectors + 7) // 8)
        for s, bit in enumerate(bits):
            if bit:
                bitmap[s // 8] |= 0x80 >> (s % 8)
        blocks[b] = (bytes(bitmap), bytes(data))
    if args.from_raw:
        blocks = from_raw(args, psize, bs, rnd)

    parent_abs = os.path.abspath(args.parent)
    rel = os.path.relpath(parent_abs, os.path.dirname(os.path.abspath(args.out)))
    codes = {
        "w2ru": (b"W2ru", utf16le(".\\" + rel.replace("/", "\\")
                                  if not rel.startswith("..") else
                                  rel.replace("/", "\\"))),
        "w2ku": (b"W2ku", utf16le(parent_abs.replace("/", "\\"))),
        "macx": (b"MacX", ("file://localhost" +
                           urllib.parse.quote(parent_abs)).encode()),
    }
    locators = []
    for name in filter(None, args.locators.split(",")):
        code, data = codes[name]
        locators.append((code, data, args.data_space_bytes))
    name = None if args.no_parent_name else (
        args.parent_name or os.path.basename(args.parent))

    def extra(h):
        h[40:56] = puid
        struct.pack_into(">I", h, 56, pstamp)
        if name:
            h[64:64 + 512] = name.encode("utf-16-be")[:510].ljust(512, b"\0")

    uid = uuid.uuid5(NS, f"child-{args.seed}").bytes
    write_image(args.out, psize, 4, uid, bs, blocks, extra, locators)


class Image(vhdspec.Vhd):
    """One VHD of a chain, read as the spec says."""

    def __init__(self, path, quirk):
        super().__init__(path)
        self.quirk = quirk
        self.cache = {}

    def sources(self, block):
        """Per sector of BLOCK: file offset of its data here, or None."""
        if block in self.cache:
            return self.cache[block]
        entry = self.bat[block]
        per = self.bs // SECTOR
        if entry == vhdspec.UNUSED:
            out = [None] * per
        else:
            self.fh.seek(entry * SECTOR)
            bm = self.fh.read(self.bitmap_bytes)
            data = entry * SECTOR + self.bitmap_bytes
            out = []
            for s in range(per):
                byte = bm[s // 8]
                if self.type == 3:
                    mine = True            # dynamic: the bitmap is not used
                elif self.quirk:
                    mine = (byte >> (7 - s % 8)) != 0
                else:
                    mine = (byte >> (7 - s % 8)) & 1
                out.append(data + s * SECTOR if mine else None)
        self.cache = {block: out}
        return out

    def read_sector(self, n, parent):
        """Sector N, or b"" for "ask the parent"."""
        if self.type == 2:
            self.fh.seek(n * SECTOR)
            return self.fh.read(SECTOR)
        per = self.bs // SECTOR
        where = self.sources(n // per)[n % per]
        if where is None:
            if self.type == 4:
                return parent(n)
            return bytes(SECTOR)
        self.fh.seek(where)
        return self.fh.read(SECTOR)


def cat(args):
    chain = [Image(p, args.libvhdi_quirk) for p in args.chain]

    def reader(i):
        if i + 1 < len(chain):
            nxt = reader(i + 1)
            return lambda n: chain[i].read_sector(n, nxt)
        return lambda n: chain[i].read_sector(
            n, lambda m: sys.exit("mkdiffvhd: chain ends in a differencing image"))

    top = reader(0)
    size = chain[0].size
    with open(args.out, "wb") as out:
        zero = bytes(SECTOR)
        for n in range(size // SECTOR):
            data = top(n)
            if data != zero:
                out.seek(n * SECTOR)
                out.write(data)
        out.truncate(size)
    return size


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("base")
    b.add_argument("out")
    b.add_argument("--size", type=int, required=True)
    b.add_argument("--seed", type=int, default=1)
    b.add_argument("--block-size", type=int, default=2 * 1024 * 1024)
    c = sub.add_parser("child")
    c.add_argument("out")
    c.add_argument("--parent", required=True)
    c.add_argument("--seed", type=int, default=2)
    c.add_argument("--block-size", type=int, default=2 * 1024 * 1024)
    c.add_argument("--locators", default="w2ru,w2ku")
    c.add_argument("--parent-name")
    c.add_argument("--no-parent-name", action="store_true")
    c.add_argument("--data-space-bytes", action="store_true")
    c.add_argument("--parent-id")
    c.add_argument("--libvhdi-safe", action="store_true")
    c.add_argument("--empty", action="store_true")
    c.add_argument("--from", dest="from_raw")
    c.add_argument("--parent-raw")
    r = sub.add_parser("cat")
    r.add_argument("out")
    r.add_argument("chain", nargs="+")
    r.add_argument("--libvhdi-quirk", action="store_true")
    args = ap.parse_args()
    if args.cmd == "cat":
        print(cat(args))
        return
    if args.block_size < SECTOR or args.block_size & (args.block_size - 1):
        sys.exit("mkdiffvhd: --block-size must be a power of two >= 512")
    if args.cmd == "base":
        if args.size <= 0 or args.size % SECTOR:
            sys.exit("mkdiffvhd: --size must be a positive multiple of 512")
        base(args)
    else:
        child(args)


if __name__ == "__main__":
    main()
