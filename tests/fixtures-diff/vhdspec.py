"""vhdspec.py - a VHD's layout read as the Microsoft "Virtual Hard Disk
Image Format Specification" (October 2006) gives it, for the test tools
that must not use boxwright's reader: mkdiffvhd.py (its chain reference
and a child's parent) and tests/e2e/diffcheck.py (patch-diff.sh's
checks).  Stdlib only; checks kept minimal: a test reference, not a
validator.

"Hard Disk Footer Format": the last 512 bytes ("conectix", big-endian
fields); "Dynamic Disk Header Format": 1024 bytes ("cxsparse") at the
footer's data offset, then the BAT; each allocated block is a sector
bitmap (a set bit, most significant first: the sector is here) padded to
a sector, then the block's data.
"""
import os
import struct
import sys

SECTOR = 512
FOOTER = 512
HEADER = 1024
UNUSED = 0xFFFFFFFF             # a BAT entry of an unallocated block


def fail(path, what):
    sys.exit(f"{os.path.basename(sys.argv[0])}: {path}: {what}")


class Vhd:
    """The footer of the VHD at PATH (size, type, unique id, time stamp)
    and, for a dynamic (3) or differencing (4) one, its dynamic header,
    BAT, block size and sector-bitmap length.  fh stays open."""

    def __init__(self, path):
        self.fh = open(path, "rb")
        self.fh.seek(-FOOTER, os.SEEK_END)
        self.footer = self.fh.read(FOOTER)
        if self.footer[:8] != b"conectix":
            fail(path, "no VHD footer")
        self.timestamp = struct.unpack_from(">I", self.footer, 24)[0]
        self.size = struct.unpack_from(">Q", self.footer, 48)[0]
        self.type = struct.unpack_from(">I", self.footer, 60)[0]
        self.uid = self.footer[68:84]
        self.header = self.bat = None
        if self.type in (3, 4):
            self.fh.seek(struct.unpack_from(">Q", self.footer, 16)[0])
            self.header = self.fh.read(HEADER)
            if self.header[:8] != b"cxsparse":
                fail(path, "no dynamic header")
            table = struct.unpack_from(">Q", self.header, 16)[0]
            n, self.bs = struct.unpack_from(">II", self.header, 28)
            self.fh.seek(table)
            self.bat = struct.unpack(f">{n}I", self.fh.read(4 * n))
            self.bitmap_bytes = ((self.bs // SECTOR + 7) // 8 + 511) // 512 * 512


def data_chunks(path, chunk):
    """Indexes of the CHUNK-byte pieces of sparse file PATH that hold data
    (SEEK_DATA / SEEK_HOLE)."""
    out, pos = set(), 0
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        while pos < size:
            try:
                start = os.lseek(fd, pos, os.SEEK_DATA)
            except OSError:
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            out.update(range(start // chunk, (end + chunk - 1) // chunk))
            pos = end
    finally:
        os.close(fd)
    return out
