#!/usr/bin/env bash
# Containers boxwright does not read, made by their own tools (qemu-img,
# gzip): inspect, convert, patch and build each refuse them with exit 3
# and one line naming the file, the format and what to do instead, and
# leave no output behind -- never a byte copy of the container read as a
# raw disk.  `convert -f raw` still reads such a file as raw when asked.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-nowin.vhd
src=$FIXTURES/nano-nowin.vhd
out=$SCRATCH/outputs; mkdir "$out"

qemu-img create -q -f qcow2 "$SCRATCH/x.qcow2" 64M
qemu-img create -q -f qed "$SCRATCH/x.qed" 64M
qemu-img create -q -f vdi "$SCRATCH/x.vdi" 64M
qemu-img create -q -f parallels "$SCRATCH/x.hdd" 64M
qemu-img convert -f vpc -O vmdk -o subformat=twoGbMaxExtentSparse "$src" "$SCRATCH/split.vmdk"
qemu-img convert -f vpc -O vmdk -o subformat=monolithicFlat "$src" "$SCRATCH/flat.vmdk"
qemu-img convert -f vpc -O raw "$src" "$SCRATCH/nowin.raw"
gzip -c "$SCRATCH/nowin.raw" > "$SCRATCH/nowin.raw.gz"

# refused NAME FILE NEEDLE...: every command exits 3 with one line that
# names FILE and holds each NEEDLE (grep -F), and writes nothing.
refused() {
  local name=$1 f=$2; shift 2
  local cmd args
  for cmd in inspect convert patch build; do
    case $cmd in
      inspect) args=(inspect "$f");;
      convert) args=(convert "$f" "$out/o.vhd");;
      patch)   args=(patch "$f" -o "$out/o.vhd" --winrm);;
      build)   args=(build "$f" -o "$out/o.box");;
    esac
    timeout 120 "$BOXWRIGHT" "${args[@]}" >"$SCRATCH/stdout" 2>"$SCRATCH/err"; local rc=$?
    local what="$name: $cmd"
    if [ $rc -ne 3 ]; then bad "$what: exit $rc, expected 3 ($(head -c 300 "$SCRATCH/err"))"; continue; fi
    if [ "$(wc -l < "$SCRATCH/err")" -ne 1 ]; then bad "$what: error is not one line: $(cat "$SCRATCH/err")"; continue; fi
    if ! grep -qF "boxwright: $f: " "$SCRATCH/err"; then bad "$what: error does not name the file: $(cat "$SCRATCH/err")"; continue; fi
    local n missing=
    for n in "$@"; do grep -qF -- "$n" "$SCRATCH/err" || missing="$missing '$n'"; done
    if [ -n "$missing" ]; then bad "$what: error lacks$missing: $(cat "$SCRATCH/err")"; continue; fi
    [ -s "$SCRATCH/stdout" ] && { bad "$what: printed a report"; continue; }
    if [ -n "$(ls -A "$out")" ]; then bad "$what: left $(ls -A "$out")"; rm -f "$out"/* "$out"/.[!.]*; continue; fi
    ok "$what"
  done
  echo "# $(cat "$SCRATCH/err")"
}

refused qcow2 "$SCRATCH/x.qcow2" "a qcow2 image (QFI\\xfb at offset 0): boxwright does not read qcow2" \
  "convert it first: qemu-img convert -O vpc $SCRATCH/x.qcow2 $SCRATCH/x.vhd"
refused qed "$SCRATCH/x.qed" "a QED image" "qemu-img convert -O vpc $SCRATCH/x.qed $SCRATCH/x.vhd"
refused vdi "$SCRATCH/x.vdi" "a VirtualBox VDI image (signature 0xbeda107f at offset 64)" \
  "qemu-img convert -O vpc $SCRATCH/x.vdi $SCRATCH/x.vhd"
refused parallels "$SCRATCH/x.hdd" "a Parallels image" "qemu-img convert -O vpc $SCRATCH/x.hdd $SCRATCH/x.vhd"
refused twoGbMaxExtentSparse "$SCRATCH/split.vmdk" \
  'a VMDK descriptor file (createType "twoGbMaxExtentSparse")' \
  "qemu-img convert -O vpc $SCRATCH/split.vmdk $SCRATCH/split.vhd"
refused "twoGbMaxExtentSparse extent" "$SCRATCH/split-s001.vmdk" "one extent of a multi-file disk" \
  "qemu-img convert -O vpc"
refused monolithicFlat "$SCRATCH/flat.vmdk" 'a VMDK descriptor file (createType "monolithicFlat")' \
  "qemu-img convert -O vpc $SCRATCH/flat.vmdk $SCRATCH/flat.vhd"
refused gzip "$SCRATCH/nowin.raw.gz" "a gzip-compressed file (1f 8b at offset 0)" \
  "decompress it first: gzip -dc $SCRATCH/nowin.raw.gz > $SCRATCH/nowin.raw"

# The hints work: what they tell the user to run gives an image boxwright reads.
qemu-img convert -O vpc "$SCRATCH/split.vmdk" "$SCRATCH/split.vhd"
expect_exit 0 "the hint's qemu-img convert of twoGbMaxExtentSparse gives a readable VHD" \
  "$BOXWRIGHT" inspect --disk-only "$SCRATCH/split.vhd"
# A monolithicFlat extent is the raw disk itself: it is read, as raw.
expect_exit 0 "monolithicFlat's flat extent is read as raw" "$BOXWRIGHT" inspect --disk-only "$SCRATCH/flat-flat.vmdk"
grep -q "^Format: *raw," "$SCRATCH/out" && ok "flat extent: format raw" || bad "flat extent: $(head -c 300 "$SCRATCH/out")"

# -f raw: the user says it is raw, so it is read as raw, byte for byte
# (the raw writer pads the virtual size to a whole 512-byte sector).
expect_exit 0 "convert -f raw x.qcow2" "$BOXWRIGHT" convert -f raw "$SCRATCH/x.qcow2" "$out/copy.raw"
size=$(stat -c %s "$SCRATCH/x.qcow2")
osize=$(stat -c %s "$out/copy.raw" 2>/dev/null || echo 0)
if [ "$osize" -eq $(( (size + 511) / 512 * 512 )) ] && cmp -s -n "$size" "$SCRATCH/x.qcow2" "$out/copy.raw" &&
   [ "$(tail -c +$((size + 1)) "$out/copy.raw" | tr -d '\0' | wc -c)" -eq 0 ]; then
  ok "convert -f raw gives a byte copy ($size bytes, zero-padded to $osize)"
else
  bad "convert -f raw: $osize bytes, not a copy of the $size-byte input"
fi
expect_exit 0 "convert --input-format raw of a gzip file" \
  "$BOXWRIGHT" convert --input-format raw "$SCRATCH/nowin.raw.gz" "$out/gz.raw"
cmp -s -n "$(stat -c %s "$SCRATCH/nowin.raw.gz")" "$SCRATCH/nowin.raw.gz" "$out/gz.raw" \
  && ok "--input-format raw: a byte copy" || bad "--input-format raw: not a copy"
rm -f "$out"/*
expect_exit 2 "convert -f qcow2 is a usage error" "$BOXWRIGHT" convert -f qcow2 "$SCRATCH/x.qcow2" "$out/o.raw"
grep -q "\-f takes raw" "$SCRATCH/err" && ok "-f's usage error says what it takes" || bad "-f usage error: $(cat "$SCRATCH/err")"
expect_exit 2 "convert -f raw --sparsify is a usage error" \
  "$BOXWRIGHT" convert -f raw --sparsify "$SCRATCH/x.qcow2" "$out/o.raw"
[ -z "$(ls -A "$out")" ] && ok "no output after the usage errors" || bad "left $(ls -A "$out")"

# What boxwright reads is still read: the VHD fixture and a raw copy of it.
expect_exit 0 "the VHD fixture still opens" "$BOXWRIGHT" inspect --disk-only "$src"
expect_exit 0 "a raw disk still opens" "$BOXWRIGHT" inspect --disk-only "$SCRATCH/nowin.raw"
finish
