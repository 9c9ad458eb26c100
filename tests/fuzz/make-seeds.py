#!/usr/bin/env python3
"""Write tiny seed inputs for the disk fuzzers: make-seeds.py OUTDIR.

OUTDIR/vmdk/: monolithicSparse, streamOptimized with the GD at the front
(qemu-img's layout) and with GD_AT_END and a footer (VMware's), each a
few KiB (8-sector grains, 128-entry grain tables), with one grain table
or three; a text descriptor.
OUTDIR/vhd/: a fixed and a dynamic VHD with 4 KiB blocks.
OUTDIR/vhdx/: a dynamic, a fixed and a differencing VHDX of 4 MiB with
1 MiB blocks, in fuzz_vhdx.c's compact form (only the 4 KiB windows the
harness spreads back out to their offsets).
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


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def vhdx_guid(text):
    h = text.split('-')
    return (struct.pack('<IHH', int(h[0], 16), int(h[1], 16), int(h[2], 16))
            + bytes.fromhex(h[3] + h[4]))


VHDX_WINDOW = 4096


def vhdx_window_offset(k):
    """Where fuzz_vhdx.c puts window K (keep the two in step)."""
    fixed = (0, 64 << 10, 128 << 10, 192 << 10, 256 << 10)
    if k < len(fixed):
        return fixed[k]
    j = k - len(fixed)
    return (1 + j // 3) * MIB + (j % 3) * (32 << 10)


def vhdx_compact(img):
    out = bytearray()
    k = 0
    while vhdx_window_offset(k) < len(img):
        off = vhdx_window_offset(k)
        out += img[off:off + VHDX_WINDOW].ljust(VHDX_WINDOW, b'\0') \
            if off + VHDX_WINDOW <= len(img) else img[off:]
        k += 1
    return bytes(out)


MIB = 1 << 20


def vhdx(kind):
    """A 4 MiB VHDX, 1 MiB blocks: log at 1 MiB, metadata at 2, BAT at 3,
    sector bitmap (differencing) at 4, blocks after."""
    def seal(b):
        b[4:8] = bytes(4)
        b[4:8] = struct.pack('<I', crc32c(bytes(b)))
    size, bs = 4 * MIB, MIB
    img = bytearray(9 * MIB)
    img[0:8] = b'vhdxfile'
    h = bytearray(4096)
    h[0:4] = b'head'
    h[32:48] = bytes(range(16))
    struct.pack_into('<HHIQ', h, 64, 0, 1, MIB, MIB)
    for seq, off in ((1, 64 << 10), (2, 128 << 10)):
        struct.pack_into('<Q', h, 8, seq)
        seal(h)
        img[off:off + 4096] = h
    rt = bytearray(64 << 10)
    rt[0:4] = b'regi'
    struct.pack_into('<I', rt, 8, 2)
    rt[16:48] = vhdx_guid('2DC27766-F623-4200-9D64-115E9BFD4A08') + struct.pack('<QII', 3 * MIB, MIB, 1)
    rt[48:80] = vhdx_guid('8B7CA206-4790-4B9A-B8FE-575F050F886E') + struct.pack('<QII', 2 * MIB, MIB, 1)
    seal(rt)
    img[192 << 10:256 << 10] = rt
    img[256 << 10:320 << 10] = rt
    diff = kind == 'diff'
    flags = {'dynamic': 0, 'fixed': 1, 'diff': 2}[kind]
    pl = b''
    if diff:
        kv = [('parent_linkage', '{03020100-0504-0706-0809-0a0b0c0d0e0f}'),
              ('relative_path', '.\\parent.vhdx')]
        pl = bytearray(vhdx_guid('B04AEFB7-D19E-4A81-B789-25B8E9445913') + struct.pack('<HH', 0, len(kv)))
        text = b''
        for k, v in kv:
            ke, ve = k.encode('utf-16-le'), v.encode('utf-16-le')
            base = 20 + 12 * len(kv) + len(text)
            pl += struct.pack('<IIHH', base, base + len(ke), len(ke), len(ve))
            text += ke + ve
        pl = bytes(pl + text)
    items = [('CAA16737-FA36-4D43-B3B6-33F0AA44E76B', struct.pack('<II', bs, flags), 4),
             ('2FA54224-CD1B-4876-B211-5DBED83BF4B8', struct.pack('<Q', size), 6),
             ('8141BF1D-A96F-4709-BA47-F233A8FAAB5F', struct.pack('<I', 512), 6),
             ('CDA348C7-445D-4471-9CC9-E9885251C556', struct.pack('<I', 4096), 6),
             ('BECA12AB-B2E6-4523-93EF-C309E000C746', bytes(16), 6)]
    if diff:
        items.append(('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C', pl, 6))
    m = 2 * MIB
    img[m:m + 8] = b'metadata'
    struct.pack_into('<H', img, m + 10, len(items))
    # Items packed into the window at +64 KiB, 256 bytes apart.
    for i, (g, data, fl) in enumerate(items):
        off = (64 << 10) + 256 * i
        img[m + 32 + 32 * i:m + 64 + 32 * i] = vhdx_guid(g) + struct.pack('<IIII', off, len(data), fl, 0)
        img[m + off:m + off + len(data)] = data
    cr = (1 << 23) * 512 // bs
    states = {'dynamic': (6, 0, 6, 2), 'fixed': (6, 6, 6, 6), 'diff': (6, 7, 0, 2)}[kind]
    pos = 5 * MIB
    for b, st in enumerate(states):
        e = st
        if st in (6, 7):
            e |= (pos // MIB) << 20
            img[pos:pos + 16] = b'block %d data!!!' % b
            img[pos + (64 << 10):pos + (64 << 10) + 4] = b'more'
            pos += bs
        struct.pack_into('<Q', img, 3 * MIB + 8 * b, e)
    if diff:
        struct.pack_into('<Q', img, 3 * MIB + 8 * cr, 6 | (4 << 20))
        img[4 * MIB + 256:4 * MIB + 260] = b'\x0f\xf0\xaa\x55'   # block 1's first sectors
    return vhdx_compact(bytes(img[:pos]))


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


def bcd_file(nested, path='\\vhds\\nano.vhdx'):
    """A file device (type 0, local type 5): path descriptor at 0x24,
    NESTED (a whole element, its 16-byte options part dropped) at 0x30."""
    p = path.encode('utf-16-le') + b'\0\0'
    path_len = 0x0C + len(nested) - 0x10 + len(p)
    d = bytearray(0x24)
    struct.pack_into('<III', d, 0x10, 0, 0, 0x14 + path_len)
    struct.pack_into('<I', d, 0x20, 5)
    d += struct.pack('<III', 1, path_len, 5)
    d += nested[0x10:] + p
    return bytes(d)


def bcd_vhd(file_dev):
    """vhd=[...]: a locate (type 8) holding, at 0x2E, a virtual disk
    (type 0, local 6) holding FILE_DEV at its 0x28."""
    f = file_dev[0x10:]
    disk = bytearray(0x28)
    struct.pack_into('<IIII', disk, 0, 0, 0, 0x28 + len(f), 0)
    struct.pack_into('<I', disk, 0x10, 6)
    disk += f
    d = bytearray(0x2E)
    struct.pack_into('<III', d, 0x10, 8, 0, 0x1E + len(disk))
    struct.pack_into('<III', d, 0x20, 0, 0x12000002, 0x1E)
    return bytes(d + disk)


def bcd_local(local, body):
    """A type-0 device of local type LOCAL followed by BODY."""
    d = bytearray(0x24)
    struct.pack_into('<III', d, 0x10, 0, 0, 0x14 + len(body))
    struct.pack_into('<I', d, 0x20, local)
    return bytes(d + body)


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
    os.makedirs(os.path.join(out, 'vhdx'), exist_ok=True)
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
        'vhdx/dynamic.vhdx': vhdx('dynamic'),
        'vhdx/fixed.vhdx': vhdx('fixed'),
        'vhdx/diff.vhdx': vhdx('diff'),
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
        'bcd/file.bin': bcd_file(bcd_partition(1, struct.pack('<Q', 1 << 20),
                                               struct.pack('<I', 0x12345678))),
        'bcd/vhd.bin': bcd_vhd(bcd_file(bcd_partition(0, bytes(range(16)),
                                                      bytes(range(16, 32))))),
        'bcd/harddisk-mbr.bin': bcd_local(0, struct.pack('<II', 1, 0x12345678) + bytes(12)),
        'bcd/harddisk-gpt.bin': bcd_local(0, struct.pack('<I', 0) + bytes(range(16))),
        'bcd/cdrom.bin': bcd_local(2, struct.pack('<I', 0)),
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
