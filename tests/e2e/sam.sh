#!/usr/bin/env bash
# The Administrator's password set offline (bw_sam_set_password through
# tests/tools/sam_tool), checked by an independent reader: impacket's
# secretsdump (-sam SAM -system SYSTEM LOCAL) must print RID 500's NT hash
# = MD4(UTF-16LE(password)) and an empty LM hash, and the other accounts
# unchanged.  For both key revisions (RC4: before Windows 10 1607; AES:
# from 1607 on) and three Administrator NT entries: a hash, the header of
# a password never set, and no entry at all.  The hives come from
# tests/e2e/mksam.py (hivex's Python bindings, pycryptodome, impacket's
# DES key derivation).  Then F (read with python3-hivex): enabled,
# unlocked, bad-password count 0, last-set time written; V's table inside
# V and the password histories after the hash entry moved intact; the
# hive clean.  Refusals leave the SAM byte-identical.
. "$SRCDIR/tests/e2e/lib.sh"
SAM_TOOL="$BUILDDIR/tests/tools/sam_tool"
SECRETSDUMP=/usr/share/doc/python3-impacket/examples/secretsdump.py
[ -x "$SAM_TOOL" ] || { echo "sam_tool not built"; exit 99; }
if ! $PY -c 'import hivex, Cryptodome, impacket' 2>/dev/null || [ ! -f "$SECRETSDUMP" ]; then
  echo "SKIP: needs python3-hivex and python3-impacket (Debian)"; exit 77
fi
PASSWORD='N3w-Pass!é'
WHEN=1700000000
nt_of() { $PY -c 'import sys; from Cryptodome.Hash import MD4; print(MD4.new(sys.argv[1].encode("utf-16-le")).hexdigest())' "$1"; }
WANT=$(nt_of "$PASSWORD")
USER_NT=$(nt_of vagrant-Us3r)
OLD_NT=$(nt_of OldAdmin-1)
EMPTY_LM=aad3b435b51404eeaad3b435b51404ee
EMPTY_NT=31d6cfe0d16ae931b73c59d7e0c089c0
dump() { $PY "$SECRETSDUMP" -sam "$1/SAM" -system "$1/SYSTEM" LOCAL 2>&1 | grep ':::$' | sort; }

# facts DIR RID: "acb=0x.. bad=N lastset=FT vok=1 hist=HEX" from the SAM
facts() {
  $PY - "$1/SAM" "$2" <<'EOF'
import struct, sys, hivex
h = hivex.Hivex(sys.argv[1])
n = h.root()
for c in ("SAM", "Domains", "Account", "Users", "%08X" % int(sys.argv[2])):
    n = h.node_get_child(n, c)
f = h.value_value(h.node_get_value(n, "F"))[1]
v = h.value_value(h.node_get_value(n, "V"))[1]
ok = 1
ents = [struct.unpack_from("<II", v, 12 * i) for i in range(17)]
for off, ln in ents:
    if 0xCC + off + ln > len(v):
        ok = 0
o, l = ents[15]
print("acb=0x%04x bad=%d lastset=%d vok=%d nt_len=%d lm_len=%d hist=%s" % (
    struct.unpack_from("<H", f, 0x38)[0], struct.unpack_from("<H", f, 0x40)[0],
    struct.unpack_from("<Q", f, 0x18)[0], ok, ents[14][1], ents[13][1],
    v[0xCC + o:0xCC + o + l].hex()))
EOF
}
field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }

for key in rc4 aes; do
  for admin in hash header none; do
    d="$SCRATCH/$key-$admin"
    $PY "$SRCDIR/tests/e2e/mksam.py" "$d" --key $key --admin $admin || { bad "$key/$admin: mksam.py failed"; continue; }
    before=$(dump "$d")
    # The generator and the oracle agree before we touch anything.
    if grep -q "^vagrant:1001:$EMPTY_LM:$USER_NT:::" <<<"$before"; then ok "$key/$admin: secretsdump reads the generated hives"; else bad "$key/$admin: generated hives: $before"; fi
    if [ $admin = hash ]; then
      grep -q "^Administrator:500:[0-9a-f]*:$OLD_NT:::" <<<"$before" && ok "$key/$admin: old Administrator hash readable" || bad "$key/$admin: old hash: $before"
    fi
    f0=$(facts "$d" 500)
    cp "$d/SAM" "$d/SAM.orig"

    expect_exit 0 "$key/$admin: set the Administrator's password" \
      "$SAM_TOOL" set "$d/SAM" "$d/SYSTEM" 500 "$PASSWORD" --enable --when $WHEN
    cat "$SCRATCH/out"
    after=$(dump "$d")
    if grep -qx "Administrator:500:$EMPTY_LM:$WANT:::" <<<"$after"; then
      ok "$key/$admin: secretsdump: RID 500 NT hash = MD4(password) $WANT, LM empty"
    else
      bad "$key/$admin: secretsdump after: $after"
    fi
    if [ "$(grep -v '^Administrator:' <<<"$before")" = "$(grep -v '^Administrator:' <<<"$after")" ]; then
      ok "$key/$admin: Guest and vagrant unchanged"
    else
      bad "$key/$admin: other accounts changed: $after"
    fi
    f1=$(facts "$d" 500)
    want_ft=$(( (WHEN + 11644473600) * 10000000 ))
    [ "$(field "$f1" acb)" = 0x0210 ] && ok "$key/$admin: F flags 0x0611 -> 0x0210 (enabled, unlocked)" || bad "$key/$admin: F: $f1"
    [ "$(field "$f1" bad)" = 0 ] && ok "$key/$admin: bad-password count reset" || bad "$key/$admin: F: $f1"
    [ "$(field "$f1" lastset)" = $want_ft ] && ok "$key/$admin: password last-set time written" || bad "$key/$admin: F: $f1"
    [ "$(field "$f1" vok)" = 1 ] && ok "$key/$admin: V's table lies inside V" || bad "$key/$admin: V: $f1"
    [ "$(field "$f1" hist)" = "$(field "$f0" hist)" ] && ok "$key/$admin: NT history after the entry intact (moved with its offset)" || bad "$key/$admin: history: $f0 / $f1"
    want_nt=$([ $key = rc4 ] && echo 20 || echo 56)
    [ "$(field "$f1" nt_len)" = $want_nt ] && ok "$key/$admin: NT entry of $want_nt bytes" || bad "$key/$admin: $f1"
    $PY "$SRCDIR/fixtures/mkhive.py" check "$d/SAM" --expect clean >/dev/null && ok "$key/$admin: SAM clean" || bad "$key/$admin: SAM not clean"
    "$SAM_TOOL" read "$d/SAM" | grep -qx "500 Administrator enabled=1 locked=0 hash=$([ $key = rc4 ] && echo 1 || echo 2) has_nt=1" \
      && ok "$key/$admin: bw_sam_read sees it" || bad "$key/$admin: bw_sam_read: $("$SAM_TOOL" read "$d/SAM")"
  done
done

# The LM hash of an RC4 SAM is emptied (its 4-byte header kept).
f=$(facts "$SCRATCH/rc4-hash" 500)
[ "$(field "$f" lm_len)" = 4 ] && ok "rc4/hash: LM entry cut to its header" || bad "rc4/hash: LM: $f"

# Reproducible: the same salt and time give the same SAM.
d="$SCRATCH/aes-hash"
for n in 1 2; do
  cp "$d/SAM.orig" "$d/SAM.r$n"
  "$SAM_TOOL" set "$d/SAM.r$n" "$d/SYSTEM" 500 "$PASSWORD" --salt 00112233445566778899aabbccddeeff --when $WHEN >/dev/null
done
cmp -s "$d/SAM.r1" "$d/SAM.r2" && ok "same salt and time: byte-identical SAM" || bad "same salt and time: SAMs differ"

# Refusals, each leaving the SAM as it was.
other="$SCRATCH/other"
$PY "$SRCDIR/tests/e2e/mksam.py" "$other" --key aes --admin hash --seed 2
for key in rc4 aes; do
  d="$SCRATCH/$key-hash"
  cp "$d/SAM.orig" "$d/SAM"
  expect_exit 3 "$key: a SYSTEM from another installation is refused" \
    "$SAM_TOOL" set "$d/SAM" "$other/SYSTEM" 500 "$PASSWORD" --enable
  grep -q "SAM\\\\Domains\\\\Account\\\\F" "$SCRATCH/err" && ok "$key: the message names the F value" || bad "$key: message: $(cat "$SCRATCH/err")"
  cmp -s "$d/SAM" "$d/SAM.orig" && ok "$key: SAM untouched" || bad "$key: SAM changed"
done
d="$SCRATCH/aes-hash"
expect_exit 1 "no account with RID 1234" "$SAM_TOOL" set "$d/SAM" "$d/SYSTEM" 1234 "$PASSWORD"
grep -q "000004D2 not found" "$SCRATCH/err" && ok "the message names the key" || bad "message: $(cat "$SCRATCH/err")"
expect_exit 2 "an empty password" "$SAM_TOOL" set "$d/SAM" "$d/SYSTEM" 500 ""
cmp -s "$d/SAM" "$d/SAM.orig" && ok "SAM untouched by the refusals" || bad "SAM changed by a refusal"
finish
