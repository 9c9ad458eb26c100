#!/usr/bin/python3
"""diffcheck.py - checks of differencing VHDs for tests/e2e/patch-diff.sh,
written from the VHD specification (footer at the end, dynamic header at
its data offset, BAT, sector bitmap before each block), not from
boxwright's code.

  diffcheck.py link A.vhd B.vhd
      A and B name their parent alike: the same parent unique id, parent
      time stamp and parent name in the dynamic header, and the same
      parent locator entries (platform code, data length) with the same
      data.  Prints what they hold.
  diffcheck.py blocks IMG.vhd PARENT.raw
      Every allocated block of IMG has every sector bit set and differs
      from PARENT.raw's bytes there (a block equal to the parent's is a
      waste).  Prints the count.
  diffcheck.py kept IN.vhd IN.raw OUT.vhd PARENT.raw
      The blocks IN holds: those that differ from the parent (IN.raw: IN
      read through its chain) are still in OUT, those that do not are
      dropped.  Prints both counts.
  diffcheck.py vhdi CHILD.vhd PARENT.vhd OURS.raw PARENT.raw
      libvhdi (python3-libvhdi, the parent set) reads CHILD as OURS.raw
      says.  Only the chunks where OURS.raw or PARENT.raw hold data, or
      CHILD holds a block, are read (a whole 4 GiB read takes libvhdi
      a minute): elsewhere both sides are zeros by construction.
  diffcheck.py volcmp IN.raw OUT.raw PART_OFFSET BITMAP CLUSTER_SIZE
      OUT differs from IN only inside clusters that BITMAP (the $Bitmap of
      OUT's volume at PART_OFFSET) marks used: bytes outside the volume's
      clusters and its free clusters are identical.  Prints counts.
"""
import os
import struct
import sys

# The VHD layout is read by tests/fixtures-diff/vhdspec.py, shared with
# mkdiffvhd.py (no bytecode left in the source tree).
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "fixtures-diff"))
import vhdspec  # noqa: E402
from vhdspec import SECTOR, UNUSED, data_chunks  # noqa: E402


class Vhd(vhdspec.Vhd):
    """A dynamic or differencing VHD: its blocks and parent locators."""

    def __init__(self, path):
        super().__init__(path)
        if self.bat is None:
            vhdspec.fail(path, "no dynamic header")

    def allocated(self):
        return [i for i, e in enumerate(self.bat) if e != UNUSED]

    def block(self, i):
        self.fh.seek(self.bat[i] * SECTOR)
        bm = self.fh.read(self.bitmap_bytes)
        return bm, self.fh.read(self.bs)

    def locators(self):
        out = []
        for k in range(8):
            code, space, length, _, off = struct.unpack_from(">4sIIIQ", self.header, 576 + 24 * k)
            if code == b"\0\0\0\0":
                continue
            self.fh.seek(off)
            out.append((code, length, self.fh.read(length)))
        return out


def vhdi(child, parent, ours_raw, parent_raw):
    v = Vhd(child)
    vhdi_compare(child, parent, ours_raw, parent_raw,
                 [(b * v.bs, (b + 1) * v.bs) for b in v.allocated()])


def vhdi_compare(child, parent, ours_raw, parent_raw, held):
    """libvhdi's reading of CHILD over PARENT against OURS_RAW, in the
    chunks where OURS_RAW or PARENT_RAW hold data or HELD, the (start,
    end) byte ranges CHILD stores, lie.  Also for VHDX (vhdx_tool.py)."""
    import pyvhdi
    f, p = pyvhdi.file(), pyvhdi.file()
    f.open(child)
    p.open(parent)
    f.set_parent(p)
    size = f.get_media_size()
    if size != os.path.getsize(ours_raw):
        sys.exit(f"libvhdi's size {size}, ours {os.path.getsize(ours_raw)}")
    CH = 4 << 20
    todo = data_chunks(ours_raw, CH) | data_chunks(parent_raw, CH)
    for start, end in held:
        todo.update(range(start // CH, (end + CH - 1) // CH))
    with open(ours_raw, "rb") as r:
        for c in sorted(todo):
            off = c * CH
            if off >= size:
                break
            n = min(CH, size - off)
            if f.read_buffer_at_offset(n, off) != read_at(r, off, n):
                sys.exit(f"chunk at {off} differs")
    print(f"{len(todo)} chunks of 4 MiB with data compared, identical")


def read_at(fh, off, n):
    fh.seek(off)
    return fh.read(n).ljust(n, b"\0")


def link(a_path, b_path):
    a, b = Vhd(a_path), Vhd(b_path)
    bad = []
    if a.type != 4 or b.type != 4:
        bad.append(f"disk types {a.type}, {b.type} (expected 4)")
    for what, lo, hi in (("parent unique id", 40, 56), ("parent time stamp", 56, 60),
                         ("parent name", 64, 576)):
        if a.header[lo:hi] != b.header[lo:hi]:
            bad.append(what)
    if a.locators() != b.locators():
        bad.append("parent locators")
    if bad:
        sys.exit("differ: " + ", ".join(bad))
    name = a.header[64:576].decode("utf-16-be").rstrip("\0")
    locs = ", ".join(f"{c.decode()} {d.decode('utf-16-le') if c.startswith(b'W2') else d!r}"
                     for c, _, d in a.locators())
    print(f"parent id {a.header[40:56].hex()}, name {name!r}, locators {locs}")


def blocks(img_path, parent_raw):
    v = Vhd(img_path)
    full = b"\xff" * ((v.bs // SECTOR + 7) // 8)
    n = 0
    with open(parent_raw, "rb") as p:
        for i in v.allocated():
            bm, data = v.block(i)
            if bm[:len(full)] != full:
                sys.exit(f"block {i}: sector bitmap not all set")
            if data == read_at(p, i * v.bs, v.bs):
                sys.exit(f"block {i}: equal to the parent's bytes")
            n += 1
    print(f"{n} blocks, each all set and unlike the parent's")


def kept(in_path, in_raw, out_path, parent_raw):
    vi, vo = Vhd(in_path), Vhd(out_path)
    out_blocks = set(vo.allocated())
    k = dropped = 0
    with open(in_raw, "rb") as r, open(parent_raw, "rb") as p:
        for i in vi.allocated():
            differs = read_at(r, i * vi.bs, vi.bs) != read_at(p, i * vi.bs, vi.bs)
            if differs and i not in out_blocks:
                sys.exit(f"block {i}: the input child's data was dropped")
            if not differs and i in out_blocks:
                sys.exit(f"block {i}: equal to the parent, yet kept")
            k += differs
            dropped += not differs
    print(f"{k} kept, {dropped} dropped as equal to the parent")


def volcmp(in_raw, out_raw, poff, bitmap_path, cs):
    bitmap = open(bitmap_path, "rb").read()
    with open(out_raw, "rb") as f:
        f.seek(poff + 0x28)
        total_sectors = int.from_bytes(f.read(8), "little")
        f.seek(poff + 0x0B)
        bps = int.from_bytes(f.read(2), "little")
    vol_end = poff + total_sectors * bps // cs * cs
    size = os.path.getsize(in_raw)
    if os.path.getsize(out_raw) != size:
        sys.exit("sizes differ")
    used_diff = outside_same = 0
    CH = 4 << 20
    with open(in_raw, "rb") as a, open(out_raw, "rb") as b:
        # Chunks where neither file holds data are zeros in both.
        for c in sorted(data_chunks(in_raw, CH) | data_chunks(out_raw, CH)):
            off = c * CH
            x, y = read_at(a, off, CH), read_at(b, off, CH)
            if x != y:
                # Sector by sector, then its cluster's state.
                for s in range(0, len(x), SECTOR):
                    if x[s:s + SECTOR] == y[s:s + SECTOR]:
                        continue
                    at = off + s
                    if at < poff or at >= vol_end:
                        sys.exit(f"byte {at}: outside the volume's clusters, changed")
                    lcn = (at - poff) // cs
                    if not (bitmap[lcn // 8] >> (lcn % 8)) & 1:
                        sys.exit(f"byte {at}: free cluster {lcn} changed")
                    used_diff += 1
    print(f"only {used_diff} sectors of used clusters differ; free clusters and "
          f"the rest of the disk identical")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "link":
        link(*args)
    elif cmd == "blocks":
        blocks(*args)
    elif cmd == "kept":
        kept(*args)
    elif cmd == "vhdi":
        vhdi(*args)
    elif cmd == "volcmp":
        volcmp(args[0], args[1], int(args[2]), args[3], int(args[4]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
