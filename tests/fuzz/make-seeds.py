#!/usr/bin/env python3
"""Write tiny seed inputs for the disk fuzzers: make-seeds.py OUTDIR.

OUTDIR/vmdk/: monolithicSparse, streamOptimized with the GD at the front
(qemu-img's layout) and with GD_AT_END and a footer (VMware's), each a
few KiB (8-sector grains, 128-entry grain tables), with one grain table
or three; a text descriptor.
OUTDIR/vhd/: a fixed and a dynamic VHD with 4 KiB blocks.
Layouts follow VMware "Virtual Disk Format 5.0" and the VHD spec; the
readers' unit tests build the same shapes in C.
OUTDIR/ntfs/: whole NTFS volumes of 1.5-2 MiB made by mkntfs (ntfs-3g),
holding the paths inspect looks up (Windows/System32/config/SYSTEM,
Boot/BCD, bootmgr) in a letter case other than the one the harness asks
for, resident and non-resident files, a DOS 8.3 alias and a deep tree.
They are populated through ntfs-3g's FUSE driver, so they need root (or
user FUSE mounts); without it only the empty volumes are written, and
without mkntfs none: the harness then starts from nothing.  fuzz_ntfs
and fuzz_ntfsread share them.
OUTDIR/mbr/: MBR sectors (+ an LE64 disk size, as fuzz_mbr reads it):
one NTFS partition at 1 MiB, System Reserved + Windows, four entries.
OUTDIR/bcd/: BCD device element data (FORMATS.md "BCD"): MBR and GPT
partition devices, the boot device, a RAM disk with a nested partition.
OUTDIR/hive/: hive base blocks (clean, dirty by sequence, by checksum).
OUTDIR/reg/: .reg files, version 5 (UTF-8 and UTF-16LE) and REGEDIT4.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import struct
import zlib

SEC = 512


def vmdk(kind, grain=8, gtes=128, cap=24 * 8):
    """kind: mono, stream, footer.  cap sectors; data in grains 0, 2 and the last."""
    compressed = kind != 'mono'
    ngrains = (cap + grain - 1) // grain
    ngts = (ngrains + gtes - 1) // gtes
    data = bytearray(cap * SEC)
    data[0:SEC] = bytes(range(256)) * 2
    data[2 * grain * SEC + 100:2 * grain * SEC + 120] = b'seed grain number 2!'
    data[-1] = 0xAB
    img = bytearray()

    def put(off, b):
        if len(img) < off + len(b):
            img.extend(bytes(off + len(b) - len(img)))
        img[off:off + len(b)] = b

    def marker(sector, val, typ):
        put(sector * SEC, struct.pack('<QII', val, 0, typ).ljust(SEC, b'\0'))

    ctype = 'streamOptimized' if compressed else 'monolithicSparse'
    desc = ('# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n'
            'createType="%s"\n\n# Extent description\nRW %d SPARSE "seed.vmdk"\n\n'
            '# The Disk Data Base\n#DDB\n\nddb.adapterType = "ide"\n' % (ctype, cap)).encode()
    desc_sectors = 1
    assert len(desc) <= SEC
    put(SEC, desc.ljust(SEC, b'\0'))
    nxt = 1 + desc_sectors
    gt_sectors = (gtes * 4 + SEC - 1) // SEC
    gd_sectors = (ngts * 4 + SEC - 1) // SEC
    gd = [0] * ngts
    gte = [0] * (ngts * gtes)
    gd_at = 0
    if kind != 'footer':
        gd_at = nxt
        nxt += gd_sectors
        for i in range(ngts):
            gd[i] = nxt
            nxt += gt_sectors
    overhead = nxt
    for g in range(ngrains):
        chunk = bytes(data[g * grain * SEC:(g + 1) * grain * SEC])
        if not any(chunk):
            continue
        gte[g] = nxt
        if compressed:
            z = zlib.compress(chunk)
            rec = struct.pack('<QI', g * grain, len(z)) + z
            put(nxt * SEC, rec)
            nxt += (len(rec) + SEC - 1) // SEC
        else:
            put(nxt * SEC, chunk.ljust(grain * SEC, b'\0'))
            nxt += grain
    if kind == 'footer':
        for i in range(ngts):
            marker(nxt, gt_sectors, 1)
            nxt += 1
            gd[i] = nxt
            nxt += gt_sectors
        marker(nxt, gd_sectors, 2)
        nxt += 1
        gd_at = nxt
        nxt += gd_sectors
    for i in range(ngts):
        put(gd[i] * SEC, struct.pack('<%dI' % gtes, *gte[i * gtes:(i + 1) * gtes]))
    put(gd_at * SEC, struct.pack('<%dI' % ngts, *gd).ljust(gd_sectors * SEC, b'\0'))

    def header(gd_offset):
        flags = 1 | (0x30000 if compressed else 2)
        h = struct.pack('<IIIQQQQIQQQ', 0x564d444b, 3 if compressed else 1, flags,
                        cap, grain, 1, desc_sectors, gtes,
                        0 if compressed else gd_at, gd_offset, overhead)
        h += b'\0\n \r\n' + struct.pack('<H', 1 if compressed else 0)
        return h.ljust(SEC, b'\0')

    if kind == 'footer':
        marker(nxt, 0, 3)
        nxt += 1
        put(nxt * SEC, header(gd_at))
        nxt += 1
        marker(nxt, 0, 0)
        nxt += 1
        put(0, header(0xFFFFFFFFFFFFFFFF))
    else:
        put(0, header(gd_at))
    if len(img) < nxt * SEC:
        put(nxt * SEC - 1, b'\0')
    return bytes(img)


def vhd_checksum(b):
    return (~sum(b)) & 0xFFFFFFFF


def vhd_footer(typ, size, data_off):
    f = bytearray(512)
    f[0:8] = b'conectix'
    struct.pack_into('>IIQI', f, 8, 2, 0x00010000, data_off, 0)
    f[28:32] = b'seed'
    struct.pack_into('>IIQQHBBI', f, 32, 0x000a0000, 0x5769326b, size, size, 16, 4, 17, typ)
    struct.pack_into('>I', f, 64, vhd_checksum(f))
    return bytes(f)


def vhd_fixed(size=8192):
    data = bytearray(size)
    data[0:16] = b'fixed vhd seed!!'
    return bytes(data) + vhd_footer(2, size, 0xFFFFFFFFFFFFFFFF)


def vhd_dynamic(bs=4096, nblocks=3):
    size = bs * nblocks
    f = vhd_footer(3, size, 512)
    h = bytearray(1024)
    h[0:8] = b'cxsparse'
    struct.pack_into('>QQIII', h, 8, 0xFFFFFFFFFFFFFFFF, 1536, 0x00010000, nblocks, bs)
    struct.pack_into('>I', h, 36, vhd_checksum(h))
    bat = [0xFFFFFFFF] * nblocks
    body = bytearray()
    nxt = 1536 + 512
    for b in (0, 2):
        bat[b] = nxt // 512
        body += b'\xff' * 512 + (b'block %d ' % b).ljust(bs, b'\0')
        nxt += 512 + bs
    bat_bytes = struct.pack('>%dI' % nblocks, *bat).ljust(512, b'\xff')
    return f + bytes(h) + bat_bytes + bytes(body) + f


def ntfs_populate(mnt, variant):
    """Fill the mounted volume MNT; VARIANT picks the letter case and sizes."""
    def put(rel, data):
        path = os.path.join(mnt, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)

    if variant == 'upper':
        win, sysdir, cfg = 'WINDOWS', 'SYSTEM32', 'CONFIG'
    else:
        win, sysdir, cfg = 'Windows', 'System32', 'config'
    # A hive header, then enough bytes that SYSTEM is non-resident (one
    # run) in one variant and resident (inside its MFT record) in the other.
    hive = b'regf' + bytes(range(256)) * (40 if variant == 'upper' else 1)
    put(os.path.join(win, sysdir, cfg, 'SYSTEM'), hive)
    put(os.path.join(win, sysdir, cfg, 'SOFTWARE'), b'regf' + b'\x5a' * 300)
    put(os.path.join('Boot', 'BCD'), b'regf' + b'\x00\x01' * 2000)
    put('bootmgr', b'BOOTMGR!' * 3000)
    put(os.path.join(win, 'Panther', 'unattend.xml'), b'<unattend/>\n')
    for i in range(40):        # a directory index that needs an $INDEX_ALLOCATION
        put(os.path.join(win, sysdir, 'drivers', 'drv%02d.sys' % i), b'MZ' + bytes([i]) * i)
    # Program Files with its 8.3 alias, as Windows writes one.
    pf = os.path.join(mnt, 'Program Files')
    os.makedirs(pf)
    try:
        os.setxattr(pf, 'system.ntfs_dos_name', b'PROGRA~1')
    except OSError:
        pass
    # Two files whose names differ in case only (POSIX namespace).
    put('case', b'lower')
    put('CASE', b'upper')


def ntfs_volume(path, size, cluster, variant):
    """mkntfs a SIZE-byte volume at PATH and, when FUSE works, populate it."""
    with open(path, 'wb') as f:
        f.truncate(size)
    subprocess.run(['mkntfs', '-F', '-f', '-q', '-s', '512', '-c', str(cluster),
                    '-L', 'seed', '-p', '2048', '-H', '255', '-S', '63', path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if variant is None or not shutil.which('ntfs-3g'):
        return True
    mnt = tempfile.mkdtemp(prefix='bw-seed-')
    try:
        if subprocess.run(['ntfs-3g', path, mnt], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode != 0:
            return False
        try:
            ntfs_populate(mnt, variant)
        finally:
            subprocess.run(['fusermount', '-u', mnt], check=True)
    finally:
        os.rmdir(mnt)
    return True


def ntfs_seeds(out):
    """OUTDIR/ntfs: an empty volume and two populated ones (see above)."""
    if not shutil.which('mkntfs'):
        sys.stderr.write('make-seeds: mkntfs not found, no NTFS seeds\n')
        return
    d = os.path.join(out, 'ntfs')
    os.makedirs(d, exist_ok=True)
    ntfs_volume(os.path.join(d, 'empty.img'), 1536 * 1024, 512, None)
    for name, size, cluster, variant in (('mixed.img', 2 << 20, 4096, 'mixed'),
                                         ('upper.img', 1536 * 1024, 512, 'upper')):
        if not ntfs_volume(os.path.join(d, name), size, cluster, variant):
            os.unlink(os.path.join(d, name))
            sys.stderr.write('make-seeds: cannot mount %s with ntfs-3g (FUSE), '
                             'only the empty NTFS seed\n' % name)


def mbr(parts, disk_size=64 << 20, signature=0x12345678):
    """PARTS: (status, type, lba, sectors); then the disk size, LE64."""
    s = bytearray(512)
    s[0:3] = b'\xeb\x52\x90'
    struct.pack_into('<I', s, 0x1B8, signature)
    for i, (status, typ, lba, n) in enumerate(parts):
        e = 0x1BE + 16 * i
        s[e] = status
        s[e + 1:e + 4] = b'\xfe\xff\xff'
        s[e + 4] = typ
        s[e + 5:e + 8] = b'\xfe\xff\xff'
        struct.pack_into('<II', s, e + 8, lba, n)
    s[510:512] = b'\x55\xaa'
    return bytes(s) + struct.pack('<Q', disk_size)


def bcd_partition(style, part_id, disk_id, typ=6):
    """A partition device: style 1 MBR (offset, signature), 0 GPT (GUIDs)."""
    d = bytearray(0x58)
    struct.pack_into('<III', d, 0x10, typ, 0, 0x48)
    d[0x20:0x30] = part_id.ljust(16, b'\0')
    struct.pack_into('<II', d, 0x30, 0, style)
    d[0x38:0x48] = disk_id.ljust(16, b'\0')
    return bytes(d)


def bcd_ramdisk(nested, path='\\sources\\boot.wim'):
    """A RAM disk (type 0, local type 3) with a file path naming NESTED."""
    p = path.encode('utf-16-le') + b'\0\0'
    path_len = 0x0C + len(nested) - 0x10 + len(p)
    d = bytearray(0x38)
    struct.pack_into('<III', d, 0x10, 0, 0, 0x28 + path_len)
    struct.pack_into('<I', d, 0x20, 3)
    d += struct.pack('<III', 1, path_len, 5)
    d += nested[0x10:] + p
    return bytes(d)


def hive_base(seq1=7, seq2=7, bad_sum=False):
    b = bytearray(4096)
    b[0:4] = b'regf'
    struct.pack_into('<IIQIIII', b, 4, seq1, seq2, 0, 1, 5, 0, 1)
    struct.pack_into('<II', b, 0x24, 0x20, 0x1000)
    x = 0
    for off in range(0, 0x1FC, 4):
        x ^= struct.unpack_from('<I', b, off)[0]
    x = 0xFFFFFFFE if x == 0xFFFFFFFF else (1 if x == 0 else x)
    struct.pack_into('<I', b, 0x1FC, x ^ (1 if bad_sum else 0))
    return bytes(b)


REG_V5 = r'''Windows Registry Editor Version 5.00

; a comment
[HKEY_LOCAL_MACHINE\SOFTWARE\Seed\Key]
@="default"
"String"="with \"quotes\" and \\ backslash"
"Dword"=dword:0000002a
"Binary"=hex:01,02,ab,\
  cd,ef
"Expand"=hex(2):25,00,50,00,41,00,54,00,48,00,25,00,00,00
"Multi"=hex(7):61,00,00,00,62,00,00,00,00,00
"Qword"=hex(b):01,00,00,00,00,00,00,00
"Gone"=-

[-HKEY_LOCAL_MACHINE\SOFTWARE\Seed\Old]

[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\Seed]
"Start"=dword:00000002 ; automatic
'''

REG_V4 = ('REGEDIT4\n\n[HKLM\\SYSTEM\\ControlSet001\\Control]\n'
          '"Text"="\u00e9t\u00e9"\n"Bytes"=hex(1):41,42\n')


def main():
    out = sys.argv[1]
    os.makedirs(os.path.join(out, 'vmdk'), exist_ok=True)
    os.makedirs(os.path.join(out, 'vhd'), exist_ok=True)
    seeds = {
        'vmdk/mono.vmdk': vmdk('mono'),
        'vmdk/stream.vmdk': vmdk('stream'),
        'vmdk/footer.vmdk': vmdk('footer'),
        'vmdk/odd-stream.vmdk': vmdk('stream', cap=24 * 8 + 3),
        'vmdk/multi-gt-mono.vmdk': vmdk('mono', cap=2500),
        'vmdk/multi-gt-footer.vmdk': vmdk('footer', cap=2500),
        'vmdk/descriptor.vmdk': (b'# Disk DescriptorFile\nversion=1\ncreateType="monolithicFlat"\n'
                                 b'RW 16 FLAT "seed-flat.vmdk" 0\n').ljust(SEC, b'\n'),
        'vhd/fixed.vhd': vhd_fixed(),
        'vhd/dynamic.vhd': vhd_dynamic(),
    }
    for d in ('mbr', 'bcd', 'hive', 'reg'):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    mib = 2048
    seeds.update({
        'mbr/one-ntfs.bin': mbr([(0x80, 7, mib, 60 * mib)]),
        'mbr/sysreserved.bin': mbr([(0x80, 7, mib, 100 * mib), (0, 7, 101 * mib, 900 * mib)],
                                   disk_size=1 << 30),
        'mbr/four.bin': mbr([(0x80, 7, 63, 1000), (0, 0x0c, 1063, 1000),
                             (0, 0x27, 3000, 5), (0, 0x0f, 4000, 9000)]),
        'bcd/mbr-partition.bin': bcd_partition(1, struct.pack('<Q', 1 << 20),
                                               struct.pack('<I', 0x12345678)),
        'bcd/gpt-partition.bin': bcd_partition(0, bytes(range(16)), bytes(range(16, 32))),
        'bcd/legacy-partition.bin': bcd_partition(1, struct.pack('<Q', 1), b'\x78\x56\x34\x12', typ=2),
        'bcd/boot.bin': bytes(16) + struct.pack('<IIII', 5, 1, 0x48, 0) + bytes(0x38),
        'bcd/ramdisk.bin': bcd_ramdisk(bcd_partition(1, struct.pack('<Q', 1 << 20),
                                                     struct.pack('<I', 0x12345678))),
        'hive/clean.bin': hive_base(),
        'hive/dirty-seq.bin': hive_base(8, 7),
        'hive/dirty-sum.bin': hive_base(bad_sum=True),
        'reg/v5.reg': REG_V5.encode(),
        'reg/v5-utf16.reg': b'\xff\xfe' + REG_V5.replace('\n', '\r\n').encode('utf-16-le'),
        'reg/v4.reg': REG_V4.encode(),
    })
    for name, b in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(b)
    ntfs_seeds(out)


if __name__ == '__main__':
    main()
