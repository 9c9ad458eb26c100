#!/usr/bin/python3
"""mksam.py - a SAM and a SYSTEM hive for the SAM tests, with Windows' own
encryption, made independently of boxwright's C code.

  mksam.py OUTDIR --key rc4|aes --admin hash|header|none [--seed N]

writes OUTDIR/SAM and OUTDIR/SYSTEM:

SYSTEM: Select\\Current = 1 and ControlSet001\\Control\\Lsa\\{JD,Skew1,GBG,
Data} whose CLASS NAMES spell the boot key (8 hex digits each, the bytes
permuted as secretsdump's getBootKey undoes).  hivex cannot write class
names, so after hivex has built the keys this script appends one hbin
holding the four class cells and points the keys' nk records at them
(msuhanov/regf "Key node": class offset at 0x30, length at 0x4A of the
record; base block "hive bins data size" at 0x28 and its checksum).

SAM: SAM\\Domains\\Account\\F with the hashed boot key as revision 1 (RC4,
with its MD5 checksum) or revision 2 (AES-128-CBC, PKCS#7-padded to 32
bytes), and Users\\000001F4 (Administrator), 000001F5 (Guest, disabled,
no hash) and 000003E9 ("vagrant", password USER_PASSWORD) with V tables
(impacket's USER_ACCOUNT_V) and F values (RID at 0x30, flags at 0x38,
bad-password count at 0x40), and Users\\Names.  Administrator is disabled,
locked out (ACB_AUTOLOCK, 3 bad passwords) and its NT entry is:
  hash    OLD_ADMIN_PASSWORD's hash, and (rc4 only) an LM hash;
  header  the entry's header only (a password never set): 4 bytes for
          rc4, 24 for aes; LM the same;
  none    no NT or LM entry at all (length 0).
Its V carries data after the hash entries (the password histories), so a
rewrite that changes the entry's size must move them.

The empty hives come from fixtures/mkhive.py; keys and values are written
with hivex's Python bindings (python3-hivex); the crypto is pycryptodome's
(Cryptodome, which python3-impacket depends on) and impacket's own DES key
derivation, none of it boxwright's.
"""
import argparse
import hashlib
import os
import random
import struct
import sys

import hivex
from Cryptodome.Cipher import AES, ARC4, DES
from Cryptodome.Hash import MD4
from impacket.examples.secretsdump import CryptoCommon

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "fixtures"))
import mkhive  # noqa: E402

OLD_ADMIN_PASSWORD = "OldAdmin-1"
USER_PASSWORD = "vagrant-Us3r"
QWERTY = b"!@#$%^&*()qwertyUIOPAzxcvbnmQQQQQQQQQQQQ)(*@&%\0"
DIGITS = b"0123456789012345678901234567890123456789\0"
PERM = [8, 5, 4, 2, 11, 9, 13, 3, 0, 6, 1, 12, 14, 10, 15, 7]
REG_BINARY, REG_DWORD = 3, 4


def nt_hash(pw):
    return MD4.new(pw.encode("utf-16-le")).digest()


def md5(*parts):
    return hashlib.md5(b"".join(parts)).digest()


def rid_des(rid, h):
    k1, k2 = CryptoCommon().deriveKey(rid)
    return DES.new(k1, DES.MODE_ECB).encrypt(h[:8]) + \
        DES.new(k2, DES.MODE_ECB).encrypt(h[8:])


def hash_entry(key, hbk, rid, h, const, rng):
    obf = rid_des(rid, h)
    if key == "rc4":
        k = md5(hbk[:16], struct.pack("<I", rid), const)
        return struct.pack("<HH", 0, 1) + ARC4.new(k).encrypt(obf)
    salt = rng.randbytes(16)
    return struct.pack("<HHI", 0, 2, 16) + salt + \
        AES.new(hbk[:16], AES.MODE_CBC, salt).encrypt(obf + bytes([16]) * 16)


def empty_entry(key, rng):
    if key == "rc4":
        return struct.pack("<HH", 0, 1)
    return struct.pack("<HHI", 0, 2, 16) + rng.randbytes(16)


def domain_f(key, bootkey, hbk, rng):
    f = bytearray(0x68)
    struct.pack_into("<HH", f, 0, 3, 1)           # revision 3
    struct.pack_into("<I", f, 0x48, 1001 + 1)     # NextRid
    salt = rng.randbytes(16)
    if key == "rc4":
        rc4 = ARC4.new(md5(salt, QWERTY, bootkey, DIGITS))
        check = md5(hbk, DIGITS, hbk, QWERTY)
        f += struct.pack("<II", 1, 0x30) + salt + rc4.encrypt(hbk + check) + \
            bytes(8)
    else:
        data = AES.new(bootkey, AES.MODE_CBC, salt).encrypt(
            hbk + bytes([16]) * 16)
        # The check bytes after the data: neither impacket nor boxwright
        # reads them; random here.
        f += struct.pack("<IIII", 2, 0x58, 0x20, 0x20) + salt + data + \
            rng.randbytes(32)
    return bytes(f + bytes(16))


def build_v(entries):
    table, data = bytearray(0xCC), bytearray()
    for i, d in enumerate(entries):
        struct.pack_into("<III", table, 12 * i, len(data), len(d), 0)
        data += d + bytes(-len(d) % 4)
    return bytes(table + data)


def user_v(name, comment, lm, nt, rng):
    u = lambda s: s.encode("utf-16-le")  # noqa: E731
    e = [b""] * 17
    e[1], e[2], e[3] = u(name), u(""), u(comment)
    e[11] = bytes([0xFF]) * 21                      # logon hours
    e[12] = b""
    e[13], e[14] = lm, nt
    e[15] = rng.randbytes(24)                       # NT history
    e[16] = rng.randbytes(4)                        # LM history
    return build_v(e)


def user_f(rid, acb, bad):
    f = bytearray(0x50)
    struct.pack_into("<HH", f, 0, 3, 1)
    struct.pack_into("<I", f, 0x30, rid)
    struct.pack_into("<I", f, 0x34, 513)
    struct.pack_into("<H", f, 0x38, acb)
    struct.pack_into("<H", f, 0x40, bad)
    return bytes(f)


def key(h, parent, path):
    node = parent
    for c in path.split("\\"):
        child = h.node_get_child(node, c)
        node = child if child else h.node_add_child(node, c)
    return node


def setv(h, node, name, t, value):
    h.node_set_value(node, {"key": name, "t": t, "value": value})


def add_classes(path, classes):
    """Point the nk records named in CLASSES at new class cells."""
    b = bytearray(open(path, "rb").read())
    bins = struct.unpack_from("<I", b, 0x28)[0]
    nks = {}
    pos = 0x1000
    while pos < 0x1000 + bins:
        assert b[pos:pos + 4] == b"hbin"
        size = struct.unpack_from("<I", b, pos + 8)[0]
        c = pos + 0x20
        while c < pos + size:
            cs = struct.unpack_from("<i", b, c)[0]
            if cs < 0 and b[c + 4:c + 6] == b"nk":
                flags = struct.unpack_from("<H", b, c + 6)[0]
                n = struct.unpack_from("<H", b, c + 0x4C)[0]
                raw = bytes(b[c + 0x50:c + 0x50 + n])
                nm = raw.decode("latin-1" if flags & 0x20 else "utf-16-le")
                nks[nm] = c
            c += abs(cs)
        pos += size
    hb = bytearray(4096)
    hb[0:4] = b"hbin"
    struct.pack_into("<II", hb, 4, bins, 4096)
    cur = 0x20
    for nm, data in classes.items():
        c = nks[nm]
        size = (4 + len(data) + 7) & ~7
        struct.pack_into("<i", hb, cur, -size)
        hb[cur + 4:cur + 4 + len(data)] = data
        struct.pack_into("<I", b, c + 0x34, bins + cur)
        struct.pack_into("<H", b, c + 0x4E, len(data))
        parent = 0x1000 + struct.unpack_from("<I", b, c + 0x14)[0]
        struct.pack_into("<I", b, parent + 0x3C, len(data))  # max class len
        cur += size
    struct.pack_into("<i", hb, cur, 4096 - cur)
    b += hb
    struct.pack_into("<I", b, 0x28, bins + 4096)
    b[0:4096] = mkhive.set_checksum(bytes(b[0:4096]))
    open(path, "wb").write(b)


def make_system(path, bootkey):
    open(path, "wb").write(mkhive.new_hive("SYSTEM", "SYSTEM", 7))
    h = hivex.Hivex(path, write=True)
    root = h.root()
    setv(h, key(h, root, "Select"), "Current", REG_DWORD, struct.pack("<I", 1))
    lsa = key(h, root, "ControlSet001\\Control\\Lsa")
    setv(h, lsa, "LimitBlankPasswordUse", REG_DWORD, struct.pack("<I", 1))
    for k in ("JD", "Skew1", "GBG", "Data"):
        key(h, lsa, k)
    h.commit(None)
    del h
    raw = bytearray(16)
    for i, p in enumerate(PERM):
        raw[p] = bootkey[i]
    add_classes(path, {k: raw[4 * i:4 * i + 4].hex().encode("utf-16-le")
                       for i, k in enumerate(("JD", "Skew1", "GBG", "Data"))})


def make_sam(path, keyrev, admin, bootkey, rng):
    hbk = rng.randbytes(16)
    open(path, "wb").write(mkhive.new_hive("SAM", "SAM", 11))
    h = hivex.Hivex(path, write=True)
    root = h.root()
    acct = key(h, root, "SAM\\Domains\\Account")
    setv(h, acct, "F", REG_BINARY, domain_f(keyrev, bootkey, hbk, rng))
    names = key(h, acct, "Users\\Names")
    accounts = [
        (500, "Administrator", 0x0611, 3, admin),
        (501, "Guest", 0x0215, 0, "header"),
        (1001, "vagrant", 0x0210, 0, "user"),
    ]
    for rid, name, acb, bad, kind in accounts:
        if kind == "hash":
            nt = hash_entry(keyrev, hbk, rid, nt_hash(OLD_ADMIN_PASSWORD),
                            b"NTPASSWORD\0", rng)
            # Windows 10 1607 and later store no LM hash: an AES SAM
            # holds only the 24-byte empty entry (impacket reads no
            # other); an RC4 one may still carry an LM hash.
            lm = hash_entry(keyrev, hbk, rid, rng.randbytes(16),
                            b"LMPASSWORD\0", rng) if keyrev == "rc4" \
                else empty_entry(keyrev, rng)
        elif kind == "user":
            nt = hash_entry(keyrev, hbk, rid, nt_hash(USER_PASSWORD),
                            b"NTPASSWORD\0", rng)
            lm = empty_entry(keyrev, rng)
        elif kind == "header":
            nt, lm = empty_entry(keyrev, rng), empty_entry(keyrev, rng)
        else:
            nt, lm = b"", b""
        u = key(h, acct, "Users\\%08X" % rid)
        setv(h, u, "F", REG_BINARY, user_f(rid, acb, bad))
        setv(h, u, "V", REG_BINARY,
             user_v(name, "Built-in account " + name, lm, nt, rng))
        # Names\<user>: the default value's TYPE is the RID (Windows').
        setv(h, key(h, names, name), "", rid, b"")
    h.commit(None)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--key", choices=("rc4", "aes"), required=True)
    ap.add_argument("--admin", choices=("hash", "header", "none"),
                    required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    bootkey = rng.randbytes(16)
    os.makedirs(a.outdir, exist_ok=True)
    make_system(os.path.join(a.outdir, "SYSTEM"), bootkey)
    make_sam(os.path.join(a.outdir, "SAM"), a.key, a.admin, bootkey, rng)


if __name__ == "__main__":
    main()
