#!/usr/bin/env bash
# The man page and --help keep up with the parser: every option of every
# command's option table (src/cli, read by docs_options.py) appears in that
# command's --help and in its part of docs/boxwright.1, and every --option a
# --help names is one the command accepts.  The man page renders without
# groff warnings.
. "$SRCDIR/tests/e2e/lib.sh"
MAN=$SRCDIR/docs/boxwright.1
command -v groff >/dev/null || { echo "groff missing (scripts/deps.sh)"; exit 99; }
groff -man -Tutf8 -ww -z "$MAN" 2>"$SCRATCH/warn"
[ ! -s "$SCRATCH/warn" ] && ok "groff -ww renders the man page without warnings" \
  || bad "groff warnings: $(cat "$SCRATCH/warn")"
# One line per paragraph (a 2000-character line length): no word is split
# across lines, so an option is found as written.
groff -man -Tascii -rLL=2000n -P-cbou "$MAN" > "$SCRATCH/man.txt" 2>/dev/null
[ -s "$SCRATCH/man.txt" ] && ok "man page rendered to text" || bad "man page did not render"
"$PY" "$SRCDIR/tests/e2e/docs_options.py" "$SRCDIR" "$BOXWRIGHT" "$SCRATCH/man.txt" > "$SCRATCH/checks"
rc=$?
grep '^not ok' "$SCRATCH/checks"
[ "$rc" -eq 0 ] && ok "every option of every parser table is in --help and the man page ($(grep -c '^ok' "$SCRATCH/checks") checks)" \
  || bad "$(grep -c '^not ok' "$SCRATCH/checks") option checks failed"
finish
