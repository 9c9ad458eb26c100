#!/usr/bin/python3
"""Seeds for fuzz_sam: make-sam-seeds.py OUTDIR.

Writes OUTDIR/rc4-*, OUTDIR/aes-*: the harness's input format (16 bytes
of boot key, LE16 length of the domain F, F, the Administrator's V) for
valid pairs built by tests/e2e/mksam.py (an NT hash, a never-set header,
no entry), so that fuzzing starts past the checksum and padding checks.
mksam.py needs python3-hivex, pycryptodome and impacket; without them
no seeds are written and the harness starts from nothing.
"""
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "e2e"))
os.makedirs(sys.argv[1], exist_ok=True)
try:
    import mksam
except ImportError as e:
    print("make-sam-seeds: no seeds (%s)" % e, file=sys.stderr)
    sys.exit(0)

for key in ("rc4", "aes"):
    for admin in ("hash", "header", "none"):
        rng = random.Random(7)
        bootkey, hbk = rng.randbytes(16), rng.randbytes(16)
        f = mksam.domain_f(key, bootkey, hbk, rng)
        if admin == "hash":
            nt = mksam.hash_entry(key, hbk, 500, mksam.nt_hash("seed"),
                                  b"NTPASSWORD\0", rng)
            lm = mksam.hash_entry(key, hbk, 500, rng.randbytes(16),
                                  b"LMPASSWORD\0", rng)
        elif admin == "header":
            nt = lm = mksam.empty_entry(key, rng)
        else:
            nt = lm = b""
        v = mksam.user_v("Administrator", "seed", lm, nt, rng)
        with open(os.path.join(sys.argv[1], "%s-%s" % (key, admin)), "wb") as o:
            o.write(bootkey + struct.pack("<H", len(f)) + f + v)
