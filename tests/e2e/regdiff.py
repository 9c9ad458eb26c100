#!/usr/bin/python3
"""regdiff.py BEFORE.reg AFTER.reg

Parse two `hivexregedit --export` files and print every value that was
added, removed or changed, one per line: "+ KEY\\NAME = VALUE",
"- KEY\\NAME", "~ KEY\\NAME = VALUE" (keys added or removed: "+K KEY",
"-K KEY").  Lines are sorted so that tests can compare them exactly.
"""
import sys


def parse(path):
    keys = {}
    cur = None
    lines = open(path, encoding="utf-8", errors="replace").read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i].rstrip("\r")
        i += 1
        while line.endswith("\\") and i < len(lines):   # continuation
            line = line[:-1] + lines[i].strip()
            i += 1
        if line.startswith("[") and line.endswith("]"):
            cur = line[1:-1]
            keys.setdefault(cur, {})
        elif cur is not None and "=" in line and (line.startswith('"') or line.startswith("@")):
            if line.startswith("@"):
                name, val = "@", line[2:]
            else:
                j = 1
                while j < len(line):
                    if line[j] == "\\":
                        j += 2
                        continue
                    if line[j] == '"':
                        break
                    j += 1
                name, val = line[1:j], line[j + 2:]
            keys[cur][name] = val
    return keys


def show(val):
    """hex(1)/hex(2) strings get their text appended, for readable diffs."""
    if val.startswith("hex(1):") or val.startswith("hex(2):"):
        try:
            raw = bytes(int(x, 16) for x in val[7:].split(",") if x)
            return '%s "%s"' % (val, raw.decode("utf-16-le").rstrip("\0"))
        except ValueError:
            pass
    return val


a, b = parse(sys.argv[1]), parse(sys.argv[2])
out = []
for k in sorted(set(a) | set(b)):
    if k not in a:
        out.append("+K " + k)
    if k not in b:
        out.append("-K " + k)
        continue
    va, vb = a.get(k, {}), b[k]
    for n in sorted(set(va) | set(vb)):
        if n not in va:
            out.append("+ %s\\%s = %s" % (k, n, show(vb[n])))
        elif n not in vb:
            out.append("- %s\\%s" % (k, n))
        elif va[n] != vb[n]:
            out.append("~ %s\\%s = %s" % (k, n, show(vb[n])))
print("\n".join(out))
