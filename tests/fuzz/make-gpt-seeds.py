#!/usr/bin/env python3
"""Write seed disks for tests/fuzz/fuzz_gpt.c: make-gpt-seeds.py OUTDIR.

Small GPT disks built from UEFI 2.10 tables 5-4..5-6 (the layout of
tests/unit/test_gpt.c, shrunk to a few dozen sectors): ESP, MSR, Windows,
Recovery with names and attributes; 4 or 128 entries; 512- and
4096-byte sectors; a copy with a bad primary header.  Byte 0 (boot code,
ignored by the parser) is 1 in some seeds: the harness then fixes the
CRC32s before parsing, so that mutations reach the later checks.
"""
import os
import struct
import sys
import uuid
import zlib

ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'
MSR = 'E3C9E316-0B5C-4DB8-817D-F92DF00215AE'
BDP = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7'
REC = 'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC'


def guid(text):
    return uuid.UUID(text).bytes_le          # mixed-endian, as on disk


def disk(ss, sectors, count, steer, parts_at):
    asect = (count * 128 + ss - 1) // ss
    backup = sectors - 1
    fu, lu = 2 + asect, backup - asect - 1
    d = bytearray(ss * sectors)
    d[0] = steer
    d[0x1B8:0x1BC] = struct.pack('<I', 0x12345678)
    d[0x1BE:0x1CE] = struct.pack('<B3sB3sII', 0, b'\0\2\0', 0xEE, b'\xfe\xff\xff', 1, sectors - 1)
    d[510:512] = b'\x55\xaa'
    names = ['EFI system partition', 'Microsoft reserved partition', 'Basic data partition', 'Récupération']
    types = [ESP, MSR, BDP, REC]
    arr = bytearray(count * 128)
    for i, (first, last) in enumerate(parts_at(fu, lu)):
        if i >= count:
            break
        arr[i * 128:(i + 1) * 128] = (guid(types[i]) + uuid.UUID(int=i + 1).bytes_le +
                                      struct.pack('<QQQ', first, last, (1 << 63) | (i & 1)) +
                                      names[i].encode('utf-16-le').ljust(72, b'\0'))
    crc = zlib.crc32(arr)
    for my, alt, elba in ((1, backup, 2), (backup, 1, backup - asect)):
        d[elba * ss:elba * ss + len(arr)] = arr
        h = bytearray(struct.pack('<8sIIIIQQQQ16sQIII', b'EFI PART', 0x10000, 92, 0, 0,
                                  my, alt, fu, lu, guid('6A1B2C3D-4E5F-4A6B-8C7D-8E9FA0B1C2D3'),
                                  elba, count, 128, crc))
        h[16:20] = struct.pack('<I', zlib.crc32(h))
        d[my * ss:my * ss + 92] = h
    return d


def four(fu, lu):
    n = lu - fu + 1
    q = n // 4
    return [(fu, fu + q - 1), (fu + q, fu + 2 * q - 1), (fu + 2 * q, fu + 3 * q - 1), (fu + 3 * q, lu)]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        'small-512': disk(512, 40, 4, 0, four),
        'small-512-fixcrc': disk(512, 40, 4, 1, four),
        'full-512': disk(512, 100, 128, 0, four),
        'small-4096': disk(4096, 12, 4, 0, four),
        'empty-512-fixcrc': disk(512, 16, 4, 1, lambda fu, lu: []),
    }
    bad = bytearray(seeds['small-512'])
    bad[512] ^= 0xFF                          # primary signature
    seeds['bad-primary-512'] = bad
    for name, d in seeds.items():
        with open(os.path.join(out, name), 'wb') as f:
            f.write(d)


if __name__ == '__main__':
    main()
