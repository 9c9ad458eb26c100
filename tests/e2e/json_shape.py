#!/usr/bin/python3
"""The shape of boxwright's JSON output, one "LABEL PATH TYPE [= VALUE]"
line per value, in document order (so key order is part of the shape).

    json_shape.py LABEL FILE [SUBST=NAME...]

FILE holds one JSON document, or JSON Lines (batch): each line is then its
own document, labelled LABEL[i].  TYPE is object, array, string, bool, null,
int or real (a number with a fraction); a real also gives its number of
decimals ("real/3"), which pins how the writer prints it (0.357, not
0.35699999999999998).  VALUE is printed for values that are the same on
every run for a given fixture (format names, offsets, signatures,
diagnosis codes); not for those that are not: timings, sizes of compressed
output, digests, and the keys listed in UNPINNED.  A string containing
SUBST (a scratch or fixtures directory) has it replaced by NAME, so that
paths are pinned relative to those directories.  Exit 1 if FILE is not
valid JSON, or a document is not an object.
"""
import json
import re
import sys

# Keys whose values differ from run to run or build to build.
UNPINNED = {
    "seconds",            # wall clock
    "box_size",           # deflate output: depends on zlib/libdeflate
    "output_size",        # likewise, for boxes; and the batch's box sizes
    "sha256",             # of that output
    "bytes_read",         # depends on the copy's chunking, not the fixture
    "error",              # messages are for humans; the test pins their presence
}


class Real(str):
    """A number with a fraction, kept as its source text."""


def walk(path, v, out, substs):
    if isinstance(v, dict):
        out.append("%s object" % path)
        for k, x in v.items():
            walk("%s.%s" % (path, k), x, out, substs)
    elif isinstance(v, list):
        out.append("%s array" % path)
        for i, x in enumerate(v):
            walk("%s[%d]" % (path, i), x, out, substs)
    else:
        key = re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1]
        if isinstance(v, Real):
            frac = v.split(".", 1)[1] if "." in v else ""
            frac = re.split(r"[eE]", frac)[0]
            t, shown = "real/%d" % len(frac), str(v)
        elif v is None:
            t, shown = "null", None
        elif isinstance(v, bool):
            t, shown = "bool", "true" if v else "false"
        elif isinstance(v, int):
            t, shown = "int", str(v)
        else:
            t = "string"
            for s, name in substs:
                v = v.replace(s, name)
            shown = json.dumps(v, ensure_ascii=False)
        if shown is None or key in UNPINNED:
            out.append("%s %s" % (path, t))
        else:
            out.append("%s %s = %s" % (path, t, shown))


def main():
    label, name = sys.argv[1], sys.argv[2]
    substs = [tuple(a.split("=", 1)) for a in sys.argv[3:]]
    # longest first: a fixtures dir inside the scratch dir is replaced whole
    substs.sort(key=lambda p: -len(p[0]))
    text = open(name, encoding="utf-8").read()
    lines = [l for l in text.split("\n") if l.strip()]
    if not lines:
        print("%s: no output" % label, file=sys.stderr)
        return 1
    docs = lines if len(lines) > 1 else [text]
    out = []
    for i, d in enumerate(docs):
        try:
            v = json.loads(d, parse_float=Real)
        except ValueError as e:
            print("%s: not JSON: %s: %r" % (label, e, d[:200]), file=sys.stderr)
            return 1
        if not isinstance(v, dict):
            print("%s: not an object" % label, file=sys.stderr)
            return 1
        walk(label if len(docs) == 1 else "%s[%d]" % (label, i), v, out, substs)
    # one document per line, newline at the end, as the writer prints
    if not text.endswith("\n") or len(text.rstrip("\n").split("\n")) != len(docs):
        out.append("%s LAYOUT: not one line per document ending in a newline" % label)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
