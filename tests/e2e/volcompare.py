#!/usr/bin/python3
"""volcompare.py - compare every file of every volume of two disks.

  volcompare.py [options] IN OUT

IN and OUT are disk images (raw, or anything qemu-img reads: they are
converted to raw first; --in-format/--out-format name the format where
qemu would probe it wrongly, as a fixed VHD).  Partitions are paired by
their number in the partition table (sfdisk --json: MBR or GPT), which
boxwright keeps.  For each pair:

- NTFS (both boot sectors say "NTFS    "): each is put on a read-only loop
  device (losetup -r -o OFFSET --sizelimit SIZE) and mounted read-only with
  ntfs-3g twice: streams_interface=xattr lists the named streams (user.*),
  streams_interface=windows reads them ("file:name"; an xattr cannot carry
  more than 64 KiB).  Compared: every path and its kind, a symlink's target,
  each file's size, sha256, allocated blocks, link count and modification
  time, each named stream's sha256, the NTFS attributes
  (system.ntfs_attrib_be: compressed, sparse, hidden, ...), and hard-link
  groups (paths sharing an inode number).
  Then every cluster both volumes' $Bitmap mark used, byte for byte, on
  two more read-only loop devices (clustercmp.py): a differing cluster
  must belong, by ntfscluster, to NTFS metadata, a directory index or an
  allowed path.
- anything else (the FAT ESP, the MSR): byte for byte, when both are the
  same size.

Paths matching an --allow pattern (fnmatch, case-insensitive, volume-
relative with "/", e.g. "Windows/System32/config/*") may differ, appear or
vanish: the files the edits change.  --special N requires input partition N
to hold what the fixtures put on the Windows volume to test the copy (a
file with 3 hard links, a file with 2 named streams, an NTFS-compressed
file, a sparse file, a path 8 levels deep), so that a PASS means they were
compared.

Prints one line per difference and a summary per partition; exit 0 when
equal, 1 on differences, 77 when it cannot run (not root, no loop device
or FUSE), 99 on other errors.
"""
import argparse
import fnmatch
import hashlib
import json
import os
import stat
import subprocess
import sys
import tempfile

from clustercmp import compare_clusters

ATTRIB = "system.ntfs_attrib_be"
COMPRESSED, SPARSE = 0x800, 0x200
MiB = 1 << 20


class Skip(Exception):
    pass


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, **kw).stdout


def raw(path, fmt, tmp, tag):
    """A raw copy of PATH (PATH itself when it is already raw)."""
    if fmt == "raw" or (fmt is None and path.endswith((".raw", ".img"))):
        return path
    out = os.path.join(tmp, tag + ".raw")
    cmd = ["qemu-img", "convert", "-O", "raw"]
    if fmt:
        cmd += ["-f", fmt]
    run(*cmd, path, out)
    return out


def partitions(disk):
    t = json.loads(run("sfdisk", "--json", disk))["partitiontable"]
    ss = t.get("sectorsize", 512)
    out = {}
    for p in t["partitions"]:
        n = int(p["node"][len(disk):].lstrip("p"))
        out[n] = (p["start"] * ss, p["size"] * ss)
    return out


def fstype(disk, off):
    with open(disk, "rb") as f:
        f.seek(off)
        b = f.read(512)
    if b[3:11] == b"NTFS    ":
        return "ntfs"
    if b[0x52:0x5A] == b"FAT32   " or b[0x36:0x3E] in (b"FAT16   ", b"FAT12   "):
        return "fat"
    return None


def same_bytes(a, aoff, b, boff, size):
    with open(a, "rb") as fa, open(b, "rb") as fb:
        fa.seek(aoff)
        fb.seek(boff)
        left = size
        while left:
            n = min(left, 4 * MiB)
            if fa.read(n) != fb.read(n):
                return False
            left -= n
    return True


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


class Volume:
    """An NTFS partition mounted read-only (xattr and windows streams)."""

    def __init__(self, disk, off, size, tmp, tag):
        self.loops = []
        self.mnts = []
        self.tmp, self.tag = tmp, tag
        # one loop device per mount: a second ntfs-3g mount of the same
        # device lists files but cannot open named streams
        try:
            self.x = self.mount(disk, off, size, "streams_interface=xattr")
            self.w = self.mount(disk, off, size, "streams_interface=windows")
        except Skip:
            self.close()        # the loop devices made so far
            raise

    def mount(self, disk, off, size, opt):
        try:
            loop = run("losetup", "-r", "-f", "--show", "-o", str(off),
                       "--sizelimit", str(size), disk).strip()
        except subprocess.CalledProcessError as e:
            raise Skip("losetup: %s" % e.stderr.strip())
        self.loops.append(loop)
        m = os.path.join(self.tmp, "%s-%d" % (self.tag, len(self.mnts)))
        os.mkdir(m)
        try:
            run("ntfs-3g", "-o", "ro," + opt, loop, m)
        except subprocess.CalledProcessError as e:
            raise Skip("ntfs-3g %s: %s" % (loop, e.stderr.strip()))
        self.mnts.append(m)
        return m

    def close(self):
        for m in self.mnts:
            subprocess.run(["fusermount", "-u", m], stderr=subprocess.DEVNULL)
        for loop in self.loops:
            subprocess.run(["losetup", "-d", loop])
        self.mnts, self.loops = [], []

    def scan(self):
        """{path: facts} for every entry below the root, and stats."""
        ents = {}
        inodes = {}
        for root, dirs, files in os.walk(self.x):
            dirs.sort()
            for name in sorted(dirs + files):
                full = os.path.join(root, name)
                rel = os.path.relpath(full, self.x)
                st = os.lstat(full)
                e = {"attrib": self.attrib(full)}
                if stat.S_ISLNK(st.st_mode):
                    e.update(kind="symlink", target=os.readlink(full))
                elif stat.S_ISDIR(st.st_mode):
                    e["kind"] = "dir"
                else:
                    e.update(kind="file", size=st.st_size, sha256=sha(full),
                             blocks=st.st_blocks, nlink=st.st_nlink,
                             mtime=st.st_mtime_ns, streams=self.streams(full, rel))
                    inodes.setdefault(st.st_ino, []).append(rel)
                    e["ino"] = st.st_ino
                ents[rel] = e
        for e in ents.values():
            if "ino" in e:
                e["links"] = tuple(sorted(inodes[e.pop("ino")]))
        return ents

    @staticmethod
    def attrib(path):
        try:
            return int.from_bytes(os.getxattr(path, ATTRIB,
                                              follow_symlinks=False), "big")
        except OSError:
            return None

    def streams(self, full, rel):
        out = {}
        for x in os.listxattr(full, follow_symlinks=False):
            if x.startswith("user."):
                name = x[5:]
                out[name] = sha(os.path.join(self.w, rel) + ":" + name)
        return out


def clusters(din, ia, isz, dout, oa, osz, pats):
    """clustercmp on fresh read-only loop devices (ntfsprogs will not
    open a device that ntfs-3g has mounted)."""
    loops = []
    try:
        for disk, off, size in ((din, ia, isz), (dout, oa, osz)):
            loops.append(run("losetup", "-r", "-f", "--show", "-o", str(off),
                             "--sizelimit", str(size), disk).strip())
        return compare_clusters(loops[0], loops[1], pats)
    finally:
        for loop in loops:
            subprocess.run(["losetup", "-d", loop])


def allowed(rel, pats):
    r = rel.lower()
    return any(fnmatch.fnmatchcase(r, p.lower()) for p in pats)


def compare_ntfs(n, a, b, pats, special):
    diffs, allow_hits = [], set()
    for rel in sorted(set(a) | set(b)):
        ea, eb = a.get(rel), b.get(rel)
        if ea == eb:
            continue
        if allowed(rel, pats):
            allow_hits.add(rel)
            continue
        if ea is None:
            diffs.append("%s: only in the output" % rel)
        elif eb is None:
            diffs.append("%s: missing from the output" % rel)
        else:
            for k in sorted(set(ea) | set(eb)):
                va, vb = ea.get(k), eb.get(k)
                if va == vb:
                    continue
                if k == "links":      # a group may hold allowed paths
                    va = tuple(p for p in va or () if not allowed(p, pats))
                    vb = tuple(p for p in vb or () if not allowed(p, pats))
                    if va == vb:
                        continue
                if k == "attrib":
                    va, vb = ("0x%08x" % v if v is not None else v
                              for v in (va, vb))
                diffs.append("%s: %s %s -> %s" % (rel, k, va, vb))
    files = [e for e in a.values() if e["kind"] == "file"]
    groups = {e["links"] for e in files if len(e["links"]) > 1}
    stats = {
        "files": len(files),
        "dirs": sum(e["kind"] == "dir" for e in a.values()),
        "link_groups": len(groups),
        "max_links": max((len(g) for g in groups), default=1),
        "named_streams": sum(len(e["streams"]) for e in files),
        "max_streams": max((len(e["streams"]) for e in files), default=0),
        "compressed": sum(bool((e["attrib"] or 0) & COMPRESSED) for e in files),
        "sparse": sum(bool((e["attrib"] or 0) & SPARSE) for e in files),
        "max_depth": max((r.count(os.sep) + 1 for r in a), default=0),
        "bytes": sum(e["size"] for e in files),
    }
    if special:
        for k, want in (("max_links", 3), ("max_streams", 2), ("compressed", 1),
                        ("sparse", 1), ("max_depth", 8)):
            if stats[k] < want:
                diffs.append("input lacks the special files: %s = %d, want "
                             ">= %d (fixtures too old?)" % (k, stats[k], want))
    return diffs, sorted(allow_hits), stats


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inp")
    ap.add_argument("out")
    ap.add_argument("--in-format")
    ap.add_argument("--out-format")
    ap.add_argument("--allow", action="append", default=[])
    ap.add_argument("--special", type=int, action="append", default=[])
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("volcompare: SKIP: needs root (loop devices, FUSE)")
        return 77
    tmp = tempfile.mkdtemp(prefix="volcmp.", dir=os.environ.get("TMPDIR", "/var/tmp"))
    vols = []
    bad = 0
    try:
        din = raw(a.inp, a.in_format, tmp, "in")
        dout = raw(a.out, a.out_format, tmp, "out")
        pin, pout = partitions(din), partitions(dout)
        if sorted(pin) != sorted(pout):
            print("volcompare: partitions %s -> %s" % (sorted(pin), sorted(pout)))
            bad += 1
        for n in sorted(set(pin) & set(pout)):
            (ia, isz), (oa, osz) = pin[n], pout[n]
            fs = fstype(din, ia)
            if fs != "ntfs":
                if isz != osz:
                    print("volcompare: p%d (%s): size %d -> %d, not compared"
                          % (n, fs or "no filesystem", isz, osz))
                elif same_bytes(din, ia, dout, oa, isz):
                    print("volcompare: p%d (%s): %d bytes identical"
                          % (n, fs or "no filesystem", isz))
                else:
                    print("volcompare: p%d (%s): bytes differ" % (n, fs or "no filesystem"))
                    bad += 1
                continue
            if fstype(dout, oa) != "ntfs":
                print("volcompare: p%d: no NTFS in the output" % n)
                bad += 1
                continue
            va = Volume(din, ia, isz, tmp, "p%d-in" % n)
            vols.append(va)
            try:
                vb = Volume(dout, oa, osz, tmp, "p%d-out" % n)
            except Skip as e:
                # the input mounted: an output ntfs-3g refuses is broken
                print("volcompare: p%d: the output volume does not mount: %s" % (n, e))
                bad += 1
                va.close()
                vols = []
                continue
            vols.append(vb)
            diffs, hits, st = compare_ntfs(n, va.scan(), vb.scan(), a.allow,
                                           n in a.special)
            for d in diffs:
                print("volcompare: p%d: %s" % (n, d))
            bad += len(diffs)
            print("volcompare: p%d (ntfs): %d files (%d bytes), %d dirs, "
                  "%d hard-link groups (max %d links), %d named streams, "
                  "%d compressed, %d sparse, depth %d: %s; allowed to "
                  "differ: %s" % (n, st["files"], st["bytes"], st["dirs"],
                                  st["link_groups"], st["max_links"],
                                  st["named_streams"], st["compressed"],
                                  st["sparse"], st["max_depth"],
                                  "%d differences" % len(diffs) if diffs else "identical",
                                  ", ".join(hits) or "none"))
            for v in (va, vb):
                v.close()
            vols = []
            cdiffs, csum = clusters(din, ia, isz, dout, oa, osz, a.allow)
            for d in cdiffs:
                print("volcompare: p%d: %s" % (n, d))
            bad += len(cdiffs)
            print("volcompare: p%d (ntfs): %s" % (n, csum))
    except Skip as e:
        print("volcompare: SKIP: %s" % e)
        return 77
    except (subprocess.CalledProcessError, OSError, ValueError) as e:
        err = getattr(e, "stderr", "") or ""
        print("volcompare: error: %s %s" % (e, err.strip()))
        return 99
    finally:
        for v in vols:
            v.close()
        subprocess.run(["rm", "-rf", tmp])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
