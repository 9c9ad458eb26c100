"""clustercmp.py - every cluster an NTFS volume uses, input against output.

Used by volcompare.py, beside its file-level comparison.  A cluster that
both volumes' $Bitmap mark used must hold the same bytes in both, unless
the output's owner of that cluster (ntfscluster, from ntfsprogs: not our
code) is one the edits or NTFS itself rewrite:

- NTFS metadata: the system files (MFT records 0-23: $MFT, $MFTMirr,
  $LogFile, $Bitmap, $Boot, $Secure, ...) and everything under $Extend;
- a directory's index ($INDEX_ALLOCATION, $BITMAP of a directory): the
  listings themselves are compared file by file by volcompare;
- a path that matches an --allow pattern (the files the edits change).

What it proves that the file comparison cannot: that no used cluster was
lost or moved under a file nobody reads back (slack of a run, the tail of
a sparse run, a stream), and it names the owner of any that was.  Clusters
used in only one of the two volumes are not compared: the input's freed
ones and the output's new ones belong to files compared by content.
"""
import fnmatch
import re
import subprocess

CHUNK_CLUSTERS = 1024
MAX_MAPPED_RUNS = 200          # ntfscluster calls at the most
SYSTEM_RECORDS = 24            # MFT records reserved for NTFS metadata
OWNER = re.compile(r"^Inode (\d+) (.*)$")


def run(*cmd):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE).stdout


def geometry(dev):
    """(cluster size, total clusters) from the boot sector of DEV."""
    with open(dev, "rb") as f:
        b = f.read(512)
    bps = int.from_bytes(b[0x0B:0x0D], "little")
    spc = b[0x0D]
    spc = 1 << (256 - spc) if spc > 0x80 else spc     # 2^n encoding
    total = int.from_bytes(b[0x28:0x30], "little")
    cs = bps * spc
    return cs, total * bps // cs


def bit(bm, lcn):
    return (bm[lcn // 8] >> (lcn % 8)) & 1 if lcn // 8 < len(bm) else 0


def differing_runs(da, ba, db, bb, cs, n):
    """[(first, last)] clusters used in both bitmaps whose bytes differ,
    and how many clusters were compared."""
    runs, compared = [], 0
    with open(da, "rb") as fa, open(db, "rb") as fb:
        for base in range(0, n, CHUNK_CLUSTERS):
            k = min(CHUNK_CLUSTERS, n - base)
            lo, hi = base // 8, (base + k + 7) // 8
            if not any(x & y for x, y in zip(ba[lo:hi], bb[lo:hi])):
                continue
            fa.seek(base * cs)
            fb.seek(base * cs)
            xa, xb = fa.read(k * cs), fb.read(k * cs)
            if xa == xb:
                compared += sum(bin(x & y).count("1")
                                for x, y in zip(ba[lo:hi], bb[lo:hi]))
                continue
            for i in range(k):
                lcn = base + i
                if not (bit(ba, lcn) and bit(bb, lcn)):
                    continue
                compared += 1
                if xa[i * cs:(i + 1) * cs] == xb[i * cs:(i + 1) * cs]:
                    continue
                if runs and runs[-1][1] == lcn - 1:
                    runs[-1][1] = lcn
                else:
                    runs.append([lcn, lcn])
    return runs, compared


def owners(dev, first, last):
    """[(inode, path, attribute)] that ntfscluster finds in the range."""
    out = run("ntfscluster", "-c", "%d-%d" % (first, last), dev).decode(
        "utf-8", "replace")
    found = []
    for line in out.splitlines():
        m = OWNER.match(line)
        if m:
            path, _, attr = m.group(2).rpartition("/")
            found.append((int(m.group(1)), path, attr))
    return found


def owner_allowed(inode, path, attr, pats):
    if inode < SYSTEM_RECORDS or path.lower().startswith("/$extend"):
        return "NTFS metadata"
    if attr.startswith("$INDEX_ALLOCATION") or attr.startswith("$BITMAP"):
        return "directory index"
    rel = path.lstrip("/").lower()
    if any(fnmatch.fnmatchcase(rel, p.lower()) for p in pats):
        return "allowed"
    return None


def compare_clusters(loop_in, loop_out, pats):
    """Compare the volumes on the two (read-only) loop devices.  Returns
    (differences, summary line)."""
    cs_a, n_a = geometry(loop_in)
    cs_b, n_b = geometry(loop_out)
    if cs_a != cs_b:
        return ["cluster size %d -> %d: clusters not compared" % (cs_a, cs_b)], ""
    ba, bb = run("ntfscat", loop_in, "$Bitmap"), run("ntfscat", loop_out, "$Bitmap")
    runs, compared = differing_runs(loop_in, ba, loop_out, bb, cs_a, min(n_a, n_b))
    diffs, kinds = [], {}
    for k, (first, last) in enumerate(runs):
        if k == MAX_MAPPED_RUNS:
            diffs.append("%d more runs of used clusters differ (not mapped)"
                         % (len(runs) - k))
            break
        found = owners(loop_out, first, last)
        if not found:
            diffs.append("used clusters %d..%d differ and have no owner in the output"
                         % (first, last))
        for inode, path, attr in sorted(set(found)):
            why = owner_allowed(inode, path, attr, pats)
            if why:
                kinds[why] = kinds.get(why, 0) + 1
            else:
                diffs.append("used clusters %d..%d differ, in %s (%s, inode %d)"
                             % (first, last, path, attr, inode))
    summary = "%d clusters used in both compared: %s" % (
        compared, "%d differing runs, all in %s" % (len(runs), ", ".join(
            "%s (%d)" % kv for kv in sorted(kinds.items())))
        if runs and not diffs else "%d differences" % len(diffs) if diffs
        else "identical")
    return diffs, summary
