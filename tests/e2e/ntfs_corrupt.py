#!/usr/bin/python3
"""ntfs_corrupt.py - break one thing in the NTFS volume of a raw disk image
(stdlib only), for tests/e2e/bad-ntfs.sh.

  ntfs_corrupt.py RAW PART_OFFSET ACTION [ARG...]

The volume is found from its boot sector at PART_OFFSET; MFT records are read
with their update-sequence fixups applied and written back re-protected (a new
update sequence number), as Windows does, so that only the damage asked for is
there.  Layouts: FORMATS.md and ntfs-3g's layout.h / logfile.h.

Actions:
  record-magic PATH     the MFT record of PATH gets the magic "XXXX"
  record-fixup PATH     the record of PATH keeps its magic, but the last word of
                        its second sector no longer matches the update sequence
  bitmap-short          $Bitmap's $DATA (record 6) claims 8 bytes (initialized,
                        data and allocated sizes): far fewer bits than clusters
  runs-past-end PATH    PATH's $DATA starts 2 clusters before the volume end
                        and goes on past it
  runs-beyond PATH      PATH's $DATA starts far past the volume end
  logfile-unclean       $LogFile gets two restart pages (version 1.1) of an
                        open journal: a client in use, no "volume is clean" flag
  volume-dirty          $Volume's dirty flag (chkdsk at next boot) is set
  volume-dirty-nomirror the same in $MFT only: $MFTMirr no longer matches
  record-unused PATH    the record of PATH is marked not in use (fixups right)
  no-data PATH          PATH's unnamed $DATA becomes a $LOGGED_UTILITY_STREAM (type
                        0x100, still in type order): a file with no data stream
  sizes PATH A,D,I      PATH's $DATA gets allocated, data, initialized sizes
  find PATH             print the MFT record number of PATH

PATH is like /Windows/System32/config/SYSTEM (case-insensitive).
"""
import struct
import sys

SECTOR = 512


class Volume:
    def __init__(self, path, off):
        self.f = open(path, "r+b")
        self.off = off
        bs = self.pread(off, 512)
        if bs[3:11] != b"NTFS    ":
            sys.exit("no NTFS boot sector at %d" % off)
        self.bps = struct.unpack_from("<H", bs, 0x0B)[0]
        self.cs = self.bps * bs[0x0D]
        self.total_clusters = struct.unpack_from("<Q", bs, 0x28)[0] * self.bps // self.cs
        mft_lcn = struct.unpack_from("<Q", bs, 0x30)[0]
        cpr = struct.unpack_from("<b", bs, 0x40)[0]
        self.rec_size = cpr * self.cs if cpr > 0 else 1 << -cpr
        # Record 0 ($MFT) lies at the boot sector's LCN; its $DATA maps the rest.
        self.mft_runs = [(mft_lcn, 1 << 40)]
        rec0 = self.read_record(0)
        self.mft_runs = self.runs(rec0, self.attr(rec0, 0x80))
        self.mft_size = self.attr_sizes(rec0, self.attr(rec0, 0x80))[1]

    def pread(self, off, n):
        self.f.seek(off)
        return self.f.read(n)

    def pwrite(self, off, data):
        self.f.seek(off)
        self.f.write(data)

    def vcn_to_offset(self, runs, byte):
        """Disk offset of byte BYTE of a non-resident stream."""
        vcn, within = divmod(byte, self.cs)
        for lcn, length in runs:
            if vcn < length:
                if lcn is None:
                    sys.exit("sparse run where data was expected")
                return self.off + (lcn + vcn) * self.cs + within
            vcn -= length
        sys.exit("byte %d is not mapped" % byte)

    def stream_write(self, runs, byte, data):
        for i in range(0, len(data), SECTOR):      # runs are cluster-aligned
            self.pwrite(self.vcn_to_offset(runs, byte + i), data[i:i + SECTOR])

    def rec_offset(self, n):
        return self.vcn_to_offset(self.mft_runs, n * self.rec_size)

    def read_record(self, n, fixup=True):
        rec = bytearray(self.pread(self.rec_offset(n), self.rec_size))
        if fixup and rec[0:4] == b"FILE":
            usa_ofs, usa_cnt = struct.unpack_from("<HH", rec, 4)
            usn = rec[usa_ofs:usa_ofs + 2]
            for i in range(1, usa_cnt):
                end = i * SECTOR - 2
                if rec[end:end + 2] != usn:
                    sys.exit("record %d: torn sector %d" % (n, i))
                rec[end:end + 2] = rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2]
        return rec

    def write_record(self, n, rec, mirror=True):
        rec = protect(bytearray(rec))
        self.pwrite(self.rec_offset(n), rec)
        if not mirror:
            return
        # $MFTMirr (record 1) copies the first records; ntfs-3g compares them.
        mirr = self.read_record(1)
        pos = self.attr(mirr, 0x80)
        if n * self.rec_size < self.attr_sizes(mirr, pos)[1]:
            self.stream_write(self.runs(mirr, pos), n * self.rec_size, rec)

    # Attributes: (type, offset in the record) of each.
    def attrs(self, rec):
        pos = struct.unpack_from("<H", rec, 0x14)[0]
        while pos + 8 <= len(rec):
            t, length = struct.unpack_from("<II", rec, pos)
            if t == 0xFFFFFFFF or length == 0:
                return
            yield t, pos
            pos += length

    def attr(self, rec, atype, name_len=0):
        for t, pos in self.attrs(rec):
            if t == atype and rec[pos + 9] == name_len:
                return pos
        sys.exit("no attribute 0x%x" % atype)

    @staticmethod
    def attr_sizes(rec, pos):
        """(allocated, data, initialized) of a non-resident attribute."""
        if not rec[pos + 8]:
            sys.exit("resident attribute where non-resident was expected")
        return struct.unpack_from("<qqq", rec, pos + 0x28)

    def runs(self, rec, pos):
        mp = pos + struct.unpack_from("<H", rec, pos + 0x20)[0]
        end = pos + struct.unpack_from("<I", rec, pos + 4)[0]
        return decode_runs(bytes(rec[mp:end]))

    def names(self, rec):
        """(parent record, name) of each $FILE_NAME."""
        for t, pos in self.attrs(rec):
            if t != 0x30:
                continue
            v = pos + struct.unpack_from("<H", rec, pos + 0x14)[0]
            parent = struct.unpack_from("<Q", rec, v)[0] & 0xFFFFFFFFFFFF
            n = rec[v + 0x40]
            yield parent, rec[v + 0x42:v + 0x42 + 2 * n].decode("utf-16-le")

    def find(self, path):
        """Record number of PATH: each component is looked for among all
        in-use records' names (the MFT of a fixture is small)."""
        by_parent = {}
        for n in range(self.mft_size // self.rec_size):
            try:
                rec = self.read_record(n)
            except SystemExit:
                continue
            if rec[0:4] != b"FILE" or not struct.unpack_from("<H", rec, 0x16)[0] & 1:
                continue
            if struct.unpack_from("<Q", rec, 0x20)[0]:      # an extension record
                continue
            for parent, name in self.names(rec):
                by_parent.setdefault((parent, name.upper()), n)
        cur = 5
        for comp in [c for c in path.split("/") if c]:
            key = (cur, comp.upper())
            if key not in by_parent:
                sys.exit("%s: no %s" % (path, comp))
            cur = by_parent[key]
        return cur


def protect(rec):
    """Apply the update sequence: a fresh USN in the last word of each sector."""
    usa_ofs, usa_cnt = struct.unpack_from("<HH", rec, 4)
    usn = struct.unpack_from("<H", rec, usa_ofs)[0] + 1
    if usn >= 0xFFFF:
        usn = 1
    struct.pack_into("<H", rec, usa_ofs, usn)
    for i in range(1, usa_cnt):
        end = i * SECTOR - 2
        rec[usa_ofs + 2 * i:usa_ofs + 2 * i + 2] = rec[end:end + 2]
        struct.pack_into("<H", rec, end, usn)
    return rec


def decode_runs(mp):
    runs, lcn, i = [], 0, 0
    while i < len(mp) and mp[i]:
        lb, ob = mp[i] & 15, mp[i] >> 4
        length = int.from_bytes(mp[i + 1:i + 1 + lb], "little")
        if ob:
            lcn += int.from_bytes(mp[i + 1 + lb:i + 1 + lb + ob], "little", signed=True)
            runs.append((lcn, length))
        else:
            runs.append((None, length))
        i += 1 + lb + ob
    return runs


def encode_runs(runs):
    out, prev = bytearray(), 0
    for lcn, length in runs:
        lb = (length.bit_length() + 8) // 8
        delta = lcn - prev
        ob = (delta.bit_length() + 8) // 8      # room for the sign bit
        out.append(lb | ob << 4)
        out += length.to_bytes(lb, "little")
        out += delta.to_bytes(ob, "little", signed=True)
        prev = lcn
    out.append(0)
    return out


def set_first_lcn(vol, path, lcn):
    n = vol.find(path)
    rec = vol.read_record(n)
    pos = vol.attr(rec, 0x80)
    runs = vol.runs(rec, pos)
    clusters = sum(length for _, length in runs)
    new = encode_runs([(lcn, clusters)])
    mp = pos + struct.unpack_from("<H", rec, pos + 0x20)[0]
    end = pos + struct.unpack_from("<I", rec, pos + 4)[0]
    if len(new) > end - mp:
        sys.exit("%s: no room for the new mapping pairs" % path)
    rec[mp:end] = new + bytes(end - mp - len(new))
    vol.write_record(n, rec)


def logfile_unclean(vol):
    rec = vol.read_record(2)
    pos = vol.attr(rec, 0x80)
    runs = vol.runs(rec, pos)
    size = vol.attr_sizes(rec, pos)[1]
    page_size = 4096
    for page_pos in (0, page_size):
        page = bytearray(page_size)
        usa_cnt = 1 + page_size // SECTOR
        # RESTART_PAGE_HEADER: magic, usa_ofs, usa_count, chkdsk_lsn,
        # system_page_size, log_page_size, restart_area_offset, minor, major
        struct.pack_into("<4sHHqIIHhh", page, 0, b"RSTR", 0x1E, usa_cnt, 0,
                         page_size, page_size, 0x30, 1, 1)
        ra = 0x30
        # RESTART_AREA: current_lsn, log_clients, client_free_list,
        # client_in_use_list, flags (no RESTART_VOLUME_IS_CLEAN),
        # seq_number_bits, restart_area_length, client_array_offset, file_size,
        # last_lsn_data_length, log_record_header_length, log_page_data_offset,
        # restart_log_open_count
        struct.pack_into("<qHHHHIHHqIHHI", page, ra, 0x1000 + page_pos, 1, 0xFFFF, 0,
                         0, 67 - size.bit_length(), 0x30 + 0xA0, 0x30, size, 0,
                         0x30, 0x40, 1)
        # LOG_CLIENT_RECORD 0: oldest_lsn, client_restart_lsn, prev, next,
        # seq_number, reserved, name length (bytes), name "NTFS"
        cr = ra + 0x30
        struct.pack_into("<qqHHH6xI", page, cr, 0x1000, 0x1000, 0xFFFF, 0xFFFF, 1, 8)
        page[cr + 0x20:cr + 0x28] = "NTFS".encode("utf-16-le")
        struct.pack_into("<H", page, 0x1E, 0)   # USN before protect's +1
        vol.stream_write(runs, page_pos, protect(page))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    vol = Volume(sys.argv[1], int(sys.argv[2], 0))
    act, arg = sys.argv[3], sys.argv[4] if len(sys.argv) > 4 else None
    if act == "find":
        print(vol.find(arg))
    elif act == "record-magic":
        n = vol.find(arg)
        vol.pwrite(vol.rec_offset(n), b"XXXX")
    elif act == "record-fixup":
        n = vol.find(arg)
        end = vol.rec_offset(n) + 2 * SECTOR - 2
        word = vol.pread(end, 2)
        vol.pwrite(end, bytes([word[0] ^ 0x5A, word[1]]))
    elif act == "bitmap-short":
        rec = vol.read_record(6)
        pos = vol.attr(rec, 0x80)
        struct.pack_into("<qqq", rec, pos + 0x28, 8, 8, 8)
        vol.write_record(6, rec)
    elif act == "sizes":
        n = vol.find(arg)
        rec = vol.read_record(n)
        pos = vol.attr(rec, 0x80)
        struct.pack_into("<qqq", rec, pos + 0x28, *[int(x, 0) for x in sys.argv[5].split(",")])
        vol.write_record(n, rec)
    elif act == "record-unused":
        n = vol.find(arg)
        rec = vol.read_record(n)
        struct.pack_into("<H", rec, 0x16, struct.unpack_from("<H", rec, 0x16)[0] & ~1)
        vol.write_record(n, rec)
    elif act == "no-data":
        n = vol.find(arg)
        rec = vol.read_record(n)
        struct.pack_into("<I", rec, vol.attr(rec, 0x80), 0x100)
        vol.write_record(n, rec)
    elif act == "runs-past-end":
        set_first_lcn(vol, arg, vol.total_clusters - 2)
    elif act == "runs-beyond":
        set_first_lcn(vol, arg, vol.total_clusters + 100000)
    elif act == "logfile-unclean":
        logfile_unclean(vol)
    elif act in ("volume-dirty", "volume-dirty-nomirror"):
        rec = vol.read_record(3)
        pos = vol.attr(rec, 0x70)
        v = pos + struct.unpack_from("<H", rec, pos + 0x14)[0]
        flags = struct.unpack_from("<H", rec, v + 0x0A)[0]
        struct.pack_into("<H", rec, v + 0x0A, flags | 1)
        vol.write_record(3, rec, mirror=act == "volume-dirty")
    else:
        sys.exit("unknown action %s" % act)
    vol.f.close()


if __name__ == "__main__":
    main()
