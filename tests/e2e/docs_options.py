#!/usr/bin/env python3
"""Every option the parser accepts is documented, and nothing else is.

Usage: docs_options.py SRCDIR BOXWRIGHT MANTEXT

The options come from the C sources themselves, not from a list kept
here: the commands from main.c's table, each command's `struct option`
table (the EDITS_OPTIONS and BACKEND_OPTIONS macros of cli.h expanded)
and its getopt_long short-option string, and main.c's own -h/-V.  MANTEXT
is docs/boxwright.1 rendered to plain text on one very long line per
paragraph (no hyphenation at line ends).  Each option, long and short,
must appear in `boxwright CMD --help` and in the man page's part for CMD:
its entry under COMMANDS, the EDITS section for an edit option, the
OPTIONS section for -h/--help.  The other way round, every --word in a
--help text must be an option of that command, so that a removed or
renamed option cannot linger there.  Prints one line per check (ok / not
ok), exits 1 if any failed.
"""
import os
import re
import subprocess
import sys

srcdir, boxwright, mantext = sys.argv[1:4]
cli = os.path.join(srcdir, "src", "cli")


def read(*p):
    with open(os.path.join(*p), encoding="utf-8") as f:
        return f.read()


ENTRY = re.compile(r'\{\s*"([a-z0-9-]+)"\s*,\s*(no_argument|required_argument|optional_argument)')


def macro(text, name):
    """The body of #define NAME, joined over its continuation lines."""
    m = re.search(r"#define %s\b((?:.*\\\n)*.*)" % name, text)
    if not m:
        sys.exit("cli.h: no #define %s" % name)
    return m.group(1)


cli_h = read(cli, "cli.h")
edit_opts = ENTRY.findall(macro(cli_h, "EDITS_OPTIONS"))
backend_opts = ENTRY.findall(macro(cli_h, "BACKEND_OPTIONS"))
EDITS = {n for n, _ in edit_opts}
if not EDITS or not backend_opts:
    sys.exit("cli.h: no options found in EDITS_OPTIONS or BACKEND_OPTIONS")

main_c = read(cli, "main.c")
table = re.search(r"commands\[\]\s*=\s*\{(.*?)\};", main_c, re.S)
commands = re.findall(r'\{\s*"([a-z]+)"\s*,\s*(cmd_\w+)\s*\}', table.group(1)) if table else []
if not commands:
    sys.exit("main.c: no command table found")

sources = {f: read(cli, f) for f in os.listdir(cli) if f.endswith(".c")}


def command_options(fn):
    """(long names, short letters) of the command whose entry point is FN."""
    for text in sources.values():
        m = re.search(r"^int %s\(.*?^\}" % fn, text, re.S | re.M)
        if not m:
            continue
        body = m.group(0)
        t = re.search(r"struct option \w+\[\]\s*=\s*\{(.*?)\n\s*\};", body, re.S)
        g = re.search(r'getopt_long\([^,]+,[^,]+,\s*"([^"]*)"', body)
        if not t or not g:
            sys.exit("%s: no option table or getopt_long call" % fn)
        longs = [n for n, _ in ENTRY.findall(t.group(1))]
        if "EDITS_OPTIONS" in t.group(1):
            longs += [n for n, _ in edit_opts]
        if "BACKEND_OPTIONS" in t.group(1):
            longs += [n for n, _ in backend_opts]
        shorts = [c for c in g.group(1) if c != ":"]
        return longs, shorts
    sys.exit("no definition of %s in src/cli" % fn)


def token(opt):
    """OPT as a word of its own: not part of --opt-more or of -opt."""
    return re.compile(r"(?<![\w-])%s(?![\w-])" % re.escape(opt))


# The man page as text, cut into .SH sections (a line at column 0) and
# COMMANDS into one part per command (a line that starts, indented, with
# the command's name).
man = {}
cur = None
for line in open(mantext, encoding="utf-8", errors="replace"):
    line = line.rstrip("\n")
    if line and not line[0].isspace():
        cur = line.strip()
        man.setdefault(cur, "")
    elif cur:
        man[cur] += line + "\n"
names = [c for c, _ in commands]
parts = {}
cur = None
for line in man.get("COMMANDS", "").splitlines():
    m = re.match(r"^ {1,8}(%s)\b" % "|".join(names), line)
    if m:
        cur = m.group(1)
    if cur:
        parts[cur] = parts.get(cur, "") + line + "\n"

fails = 0


def check(cond, what):
    global fails
    print(("ok - " if cond else "not ok - ") + what)
    fails += not cond


for sec in ("SYNOPSIS", "COMMANDS", "EDITS", "OPTIONS", "EXIT STATUS", "ENVIRONMENT"):
    check(sec in man, "man page has a %s section" % sec)

# boxwright itself: -h/--help and -V/--version as main.c compares them.
top = subprocess.run([boxwright, "--help"], capture_output=True, text=True).stdout
for opt in sorted(set(re.findall(r'strcmp\(c, "(-[^"]+)"\)', main_c))):
    check(token(opt).search(top), "boxwright --help mentions %s" % opt)
    check(token(opt).search(man.get("OPTIONS", "")), "man OPTIONS mentions %s" % opt)
for name in names:
    check(re.search(r"^\s+%s\b" % name, top, re.M), "boxwright --help lists the %s command" % name)
    check(name in parts, "man COMMANDS has an entry for %s" % name)

for name, fn in commands:
    longs, shorts = command_options(fn)
    help_text = subprocess.run([boxwright, name, "--help"], capture_output=True, text=True).stdout
    for opts, dash in ((longs, "--"), (shorts, "-")):
        for o in opts:
            opt = dash + o
            check(token(opt).search(help_text), "%s --help mentions %s" % (name, opt))
            where = parts.get(name, "")
            if o in EDITS and dash == "--":
                where = man.get("EDITS", "")
            elif o in ("help", "h"):
                where = man.get("OPTIONS", "")
            check(token(opt).search(where), "man page documents %s %s" % (name, opt))
    accepted = {"--" + o for o in longs}
    # (not one quoted in an example, such as batch's manifest line)
    for opt in sorted(set(re.findall(r'(?<![\w"-])--[a-z][a-z0-9-]*', help_text))):
        check(opt in accepted, "%s --help names %s, which %s accepts" % (name, opt, name))

sys.exit(1 if fails else 0)
