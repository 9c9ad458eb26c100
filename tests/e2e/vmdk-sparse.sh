#!/usr/bin/env bash
# The monolithicSparse VMDK writer against independent readers: nano-base
# converted with -O vmdk-sparse passes qemu-img check (no errors, no
# leaks), is identical to the VHD (qemu-img compare), is monolithicSparse
# to qemu-img info and vmdkinfo (same size), reads back through libvmdk
# (python3-libvmdk: content sha256 = qemu-img's raw) and our inspect; its
# redundant grain directory and tables agree with the primary ones (no
# other reader here looks at them).  The same for a random disk whose size
# is not a grain multiple, with data in its last sector.  Then patch keeps
# a monolithicSparse VMDK made by qemu-img monolithicSparse, with -o and
# --in-place (keeping its ddb.adapterType), and the edit (--hostname) is
# in the SYSTEM hive read out of the result with qemu-img, ntfscat and
# hivexget.  Times and sizes of our convert and qemu-img's are printed.
. "$SRCDIR/tests/e2e/lib.sh"
f=nano-base.vhd
need_fixture "$f"
img=$FIXTURES/$f
cs=$(printf 'ControlSet%03d' "$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["controlset"])' "$FIXTURES/nano-base.facts.json")")
if $PY -c 'import pyvmdk' 2>/dev/null; then have_pyvmdk=1; else have_pyvmdk=0; fi

now() { date +%s.%N; }
secs() { $PY -c 'import sys; print("%.2f" % (float(sys.argv[2]) - float(sys.argv[1])))' "$1" "$2"; }
sha_raw() { $PY -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb"); [h.update(b) for b in iter(lambda: f.read(1<<22), b"")]; print(h.hexdigest())' "$1"; }

# sparse_checks NAME VMDK FMT REF: REF (format FMT) is what VMDK must hold
sparse_checks() {
  local name=$1 out=$2 fmt=$3 ref=$4 size
  size=$(qemu-img info --output=json -f "$fmt" "$ref" | $PY -c 'import json,sys; print(json.load(sys.stdin)["virtual-size"])')
  if qemu-img check --output=json -f vmdk "$out" >"$SCRATCH/check" 2>&1 &&
     $PY -c 'import json,sys; c=json.load(open(sys.argv[1])); sys.exit(0 if c.get("check-errors",0)==0 and c.get("corruptions",0)==0 and c.get("leaks",0)==0 else 1)' "$SCRATCH/check"; then
    ok "$name: qemu-img check: no errors, no leaks"
  else
    bad "$name: qemu-img check"; sed 's/^/  /' "$SCRATCH/check"
  fi
  qemu-img info --output=json -f vmdk "$out" > "$SCRATCH/info.json"
  read -r q ct < <($PY -c 'import json,sys; i=json.load(open(sys.argv[1])); print(i["virtual-size"], i["format-specific"]["data"]["create-type"])' "$SCRATCH/info.json")
  [ "$ct" = monolithicSparse ] && ok "$name: qemu-img info: create type monolithicSparse" || bad "$name: qemu-img create type '$ct'"
  [ "$q" = "$size" ] && ok "$name: qemu-img virtual size $q" || bad "$name: qemu-img virtual size $q, expected $size"
  qemu-img compare -f "$fmt" "$ref" -F vmdk "$out" >/dev/null && ok "$name: qemu-img compare: identical" || bad "$name: qemu-img compare: differs"
  vmdkinfo_check "$name" "$out" "Monolithic sparse" "$size"
  if [ $have_pyvmdk = 1 ]; then
    qemu-img convert -f "$fmt" -O raw "$ref" "$SCRATCH/ref.raw"
    want=$(sha_raw "$SCRATCH/ref.raw"); rm -f "$SCRATCH/ref.raw"
    got=$(libvmdk_sha256 "$out")
    [ "$got" = "$want" ] && ok "$name: libvmdk content sha256 = qemu-img raw's" || bad "$name: libvmdk content sha256 '$got', expected $want"
  else
    skip_part "$name: python3 module pyvmdk missing (python3-libvmdk): content not read through libvmdk"
  fi
  if "$BOXWRIGHT" inspect "$out" > "$SCRATCH/inspect" 2>&1; then
    grep -q "^Format:   vmdk-monolithicSparse, virtual size $size bytes" "$SCRATCH/inspect" \
      && ok "$name: boxwright inspect reads it (vmdk-monolithicSparse, $size bytes)" \
      || bad "$name: inspect says: $(head -n 2 "$SCRATCH/inspect")"
  elif [ "$fmt" = raw ]; then
    # no partition table in random data: inspect refuses it, so read it whole
    "$BUILDDIR/tests/tools/disk_cat" "$out" "$SCRATCH/ours.raw" >/dev/null 2>&1 &&
      cmp -s "$SCRATCH/ours.raw" "$ref" && ok "$name: our reader gives the bytes back" || bad "$name: our reader differs"
    rm -f "$SCRATCH/ours.raw"
  else
    bad "$name: boxwright inspect: $(head -c 300 "$SCRATCH/inspect")"
  fi
  # The redundant directory and tables: same entries as the primary ones
  # (tables at their own places), as VMware's spec asks.
  if r=$($PY - "$out" <<'EOF'
import struct, sys
f = open(sys.argv[1], "rb").read()
S = 512
magic, ver, flags, cap, grain, doff, dsize, ngte, rgd, gd, over = struct.unpack_from("<4sIIQQQQIQQQ", f, 0)
if magic != b"KDMV" or not flags & 2 or rgd == 0 or rgd == gd:
    sys.exit("header: no redundant grain directory (flags %#x, rgd %d, gd %d)" % (flags, rgd, gd))
ngts = -(-cap // (grain * ngte))
a = struct.unpack_from("<%dI" % ngts, f, gd * S)
b = struct.unpack_from("<%dI" % ngts, f, rgd * S)
if len(set(a) | set(b)) != 2 * ngts or 0 in a or 0 in b:
    sys.exit("directories do not name 2 x %d distinct tables" % ngts)
used = 0
for i in range(ngts):
    t = f[a[i] * S : a[i] * S + 4 * ngte]
    if t != f[b[i] * S : b[i] * S + 4 * ngte]:
        sys.exit("grain table %d differs from its redundant copy" % i)
    used += sum(1 for e in struct.unpack("<%dI" % ngte, t) if e)
print("%d tables, %d grains allocated" % (ngts, used))
EOF
); then ok "$name: redundant GD/GTs equal the primary ones: $r"; else bad "$name: redundant tables: $r"; fi
}

# ---- nano-base: ours vs qemu-img, same run ----
t0=$(now)
if "$BOXWRIGHT" convert -O vmdk-sparse "$img" "$SCRATCH/base.vmdk" --quiet 2>"$SCRATCH/err"; then
  t1=$(now); ok "$f: convert -O vmdk-sparse: $(secs "$t0" "$t1") s, $(stat -c %s "$SCRATCH/base.vmdk") bytes"
  sparse_checks "$f" "$SCRATCH/base.vmdk" vpc "$img"
else
  bad "$f: convert -O vmdk-sparse: $(cat "$SCRATCH/err")"
fi
t0=$(now)
if qemu-img convert -f vpc -O vmdk "$img" "$SCRATCH/qemu.vmdk"; then
  t1=$(now); ok "$f: qemu-img convert -O vmdk (for comparison): $(secs "$t0" "$t1") s, $(stat -c %s "$SCRATCH/qemu.vmdk") bytes"
else
  bad "$f: qemu-img convert -O vmdk"
fi

# ---- a disk that is not a grain multiple, data in its last sector ----
$PY - "$SCRATCH/odd.raw" <<'EOF'
import random, sys
r = random.Random(7)
size = 33 * 1024 * 1024 + 3 * 512          # 33 MiB + 1.5 KiB: spans 0 and 1
b = bytearray(size)
b[0:200000] = r.randbytes(200000)
for off in range(1 << 20, 30 << 20, 5 * 65536 + 4096):
    b[off:off + 9] = b"boxwright"
b[size - 512:] = r.randbytes(512)
open(sys.argv[1], "wb").write(b)
EOF
if "$BOXWRIGHT" convert -O vmdk-sparse "$SCRATCH/odd.raw" "$SCRATCH/odd.vmdk" --quiet 2>"$SCRATCH/err"; then
  ok "odd size: converted"
  sparse_checks "odd size" "$SCRATCH/odd.vmdk" raw "$SCRATCH/odd.raw"
else
  bad "odd size: convert: $(cat "$SCRATCH/err")"
fi

# ---- patch keeps a monolithicSparse VMDK monolithicSparse ----
# hostname_of VMDK: "ComputerName Hostname" of the live control set in its
# SYSTEM hive (the NetBIOS name is upper case, the TCP/IP one as given)
hostname_of() {
  qemu-img convert -O raw "$1" "$SCRATCH/p.raw" || return 1
  local start
  start=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(struct.unpack_from('<I',d,0x1BE+8)[0])" "$SCRATCH/p.raw")
  dd if="$SCRATCH/p.raw" of="$SCRATCH/p.part" bs=4M iflag=skip_bytes skip=$((start * 512)) conv=sparse status=none
  rm -f "$SCRATCH/p.raw"
  ntfscat "$SCRATCH/p.part" /Windows/System32/config/SYSTEM > "$SCRATCH/p.system" 2>/dev/null || return 1
  rm -f "$SCRATCH/p.part"
  echo "$(hivexget "$SCRATCH/p.system" "$cs\\Control\\ComputerName\\ComputerName" ComputerName)" \
       "$(hivexget "$SCRATCH/p.system" "$cs\\Services\\Tcpip\\Parameters" Hostname)"
}
create_type() { qemu-img info --output=json -f vmdk "$1" | $PY -c 'import json,sys; print(json.load(sys.stdin)["format-specific"]["data"]["create-type"])'; }
patched_checks() {   # NAME VMDK HOSTNAME
  local ct h
  ct=$(create_type "$2")
  [ "$ct" = monolithicSparse ] && ok "$1: still monolithicSparse (qemu-img info)" || bad "$1: create type '$ct'"
  qemu-img check -f vmdk "$2" >"$SCRATCH/check" 2>&1 && ok "$1: qemu-img check" || { bad "$1: qemu-img check"; sed 's/^/  /' "$SCRATCH/check"; }
  h=$(hostname_of "$2")
  [ "$h" = "${3^^} $3" ] && ok "$1: SYSTEM hive: ComputerName ${3^^}, Tcpip Hostname $3" || bad "$1: ComputerName and Hostname '$h', expected '${3^^} $3'"
}
if [ -f "$SCRATCH/qemu.vmdk" ]; then
  [ "$(create_type "$SCRATCH/qemu.vmdk")" = monolithicSparse ] && ok "qemu-img's VMDK is monolithicSparse" || bad "qemu-img's VMDK is not monolithicSparse"
  before=$(hostname_of "$SCRATCH/qemu.vmdk")
  case $before in
    *sparse*|" "*|*" ") bad "input ComputerName and Hostname '$before'" ;;
    *) ok "input ComputerName and Hostname: '$before'" ;;
  esac
  sum0=$(sha256sum < "$SCRATCH/qemu.vmdk")
  if "$BOXWRIGHT" patch "$SCRATCH/qemu.vmdk" -o "$SCRATCH/patched.vmdk" --quiet --hostname sparse1 2>"$SCRATCH/err"; then
    ok "patch -o of a monolithicSparse VMDK"
    patched_checks "patch -o" "$SCRATCH/patched.vmdk" sparse1
    [ "$(sha256sum < "$SCRATCH/qemu.vmdk")" = "$sum0" ] && ok "patch -o: input unchanged" || bad "patch -o: input modified"
  else
    bad "patch -o: $(cat "$SCRATCH/err")"
  fi
  # in place, on one that says lsilogic: the controller type is kept
  qemu-img convert -f vpc -O vmdk -o adapter_type=lsilogic "$img" "$SCRATCH/inplace.vmdk"
  if "$BOXWRIGHT" patch "$SCRATCH/inplace.vmdk" --in-place --quiet --hostname sparse2 2>"$SCRATCH/err"; then
    ok "patch --in-place of a monolithicSparse VMDK"
    patched_checks "patch --in-place" "$SCRATCH/inplace.vmdk" sparse2
    grep -a -q '^RW [0-9]* SPARSE "inplace.vmdk"' <(head -c 10752 "$SCRATCH/inplace.vmdk" | tr -d '\0') \
      && ok "patch --in-place: the extent line names the file, not its temporary name" \
      || bad "patch --in-place: extent line: $(head -c 10752 "$SCRATCH/inplace.vmdk" | tr -d '\0' | grep -a '^RW')"
    grep -a -q '^ddb.adapterType = "lsilogic"' <(head -c 10752 "$SCRATCH/inplace.vmdk" | tr -d '\0') \
      && ok "patch --in-place: ddb.adapterType lsilogic kept" \
      || bad "patch --in-place: $(head -c 10752 "$SCRATCH/inplace.vmdk" | tr -d '\0' | grep -a adapterType)"
  else
    bad "patch --in-place: $(cat "$SCRATCH/err")"
  fi
else
  bad "no qemu-img VMDK to patch"
fi
finish
