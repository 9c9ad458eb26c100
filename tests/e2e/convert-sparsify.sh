#!/usr/bin/env bash
# convert --sparsify: used clusters kept byte for byte, free clusters zero
# (checked against ntfscat's $Bitmap, not ours), the deleted-file garbage
# marker gone, the input untouched; and plain convert equal to qemu-img's.
. "$SRCDIR/tests/e2e/lib.sh"
for name in nano-base nano-sector63; do
  need_fixture "$name.vhd"
  img=$FIXTURES/$name.vhd
  sum0=$(sha256sum < "$img")
  marker=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["garbage_marker"])' "$FIXTURES/$name.facts.json")
  qemu-img convert -f vpc -O raw "$img" "$SCRATCH/ref.raw"
  expect_exit 0 "$name: convert to raw" "$BOXWRIGHT" convert --quiet "$img" "$SCRATCH/plain.raw"
  cmp -s "$SCRATCH/ref.raw" "$SCRATCH/plain.raw" && ok "$name: plain convert = qemu-img's raw" || bad "$name: plain convert differs from qemu-img's raw"
  expect_exit 0 "$name: convert --sparsify to raw" "$BOXWRIGHT" convert --quiet --json --sparsify "$img" "$SCRATCH/sparse.raw"
  skipped=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["bytes_skipped_free"])' "$SCRATCH/out")
  [ "$skipped" -gt $((100 * 1024 * 1024)) ] && ok "$name: $skipped free bytes not read" || bad "$name: only $skipped free bytes skipped"
  start=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(struct.unpack_from('<I',d,0x1BE+8)[0])" "$SCRATCH/ref.raw")
  sectors=$($PY -c "import sys,struct; d=open(sys.argv[1],'rb').read(512); print(struct.unpack_from('<I',d,0x1BE+12)[0])" "$SCRATCH/ref.raw")
  dd if="$SCRATCH/ref.raw" of="$SCRATCH/part.img" bs=4M iflag=skip_bytes,count_bytes skip=$((start * 512)) count=$((sectors * 512)) conv=sparse status=none
  ntfscat "$SCRATCH/part.img" '$Bitmap' > "$SCRATCH/bitmap" 2>/dev/null || bad "$name: ntfscat \$Bitmap"
  rm -f "$SCRATCH/part.img"
  if $PY "$SRCDIR/tests/e2e/masked_cmp.py" "$SCRATCH/ref.raw" "$SCRATCH/sparse.raw" $((start * 512)) "$SCRATCH/bitmap" 4096 > "$SCRATCH/mc" 2>&1; then
    ok "$name: $(tail -1 "$SCRATCH/mc")"
  else
    bad "$name: masked compare: $(tail -3 "$SCRATCH/mc")"
  fi
  grep -q "$marker" "$SCRATCH/ref.raw" && ok "$name: the original holds the garbage marker" || bad "$name: no garbage in the original: the test proves nothing"
  grep -q "$marker" "$SCRATCH/sparse.raw" && bad "$name: garbage marker survived --sparsify" || ok "$name: no garbage marker after --sparsify"
  [ "$(sha256sum < "$img")" = "$sum0" ] && ok "$name: input unchanged" || bad "$name: input modified"
  ls -a "$SCRATCH" | grep -q boxwright- && bad "$name: temporary file left behind" || ok "$name: no temporary file left"
  rm -f "$SCRATCH"/*.raw
done
# refusals: an existing input as output, a volume with an unclean \$LogFile
expect_exit 2 "convert without OUT" "$BOXWRIGHT" convert "$FIXTURES/nano-nowin.vhd"
expect_exit 2 "convert with an unknown format" "$BOXWRIGHT" convert -O qcow9 "$FIXTURES/nano-nowin.vhd" "$SCRATCH/x"
cp "$FIXTURES/nano-nowin.vhd" "$SCRATCH/self.vhd"
expect_exit 2 "convert onto its own input" "$BOXWRIGHT" convert "$SCRATCH/self.vhd" "$SCRATCH/self.vhd"
# A hibernated Windows (hiberfil.sys starting "hibr" in the root): its
# $Bitmap is stale, so --sparsify refuses it; inspect --disk-only says so.
need_fixture nano-nowin.vhd
qemu-img convert -f vpc -O raw "$FIXTURES/nano-nowin.vhd" "$SCRATCH/h.raw"
dd if="$SCRATCH/h.raw" of="$SCRATCH/h.part" bs=1M skip=1 status=none
mkdir -p "$SCRATCH/mnt"
if ntfs-3g "$SCRATCH/h.part" "$SCRATCH/mnt" 2>/dev/null; then
  { printf 'hibr'; head -c 65536 /dev/zero; } > "$SCRATCH/mnt/hiberfil.sys"
  for i in $(seq 1 40); do touch "$SCRATCH/mnt/file$i.txt"; done
  fusermount -u "$SCRATCH/mnt" 2>/dev/null || umount "$SCRATCH/mnt"
  for _ in $(seq 1 50); do pgrep -f "ntfs-3g $SCRATCH/h.part" >/dev/null || break; sleep 0.1; done
  dd if="$SCRATCH/h.part" of="$SCRATCH/h.raw" bs=1M seek=1 conv=notrunc status=none
  expect_exit 3 "convert --sparsify of a hibernated volume refused" "$BOXWRIGHT" convert --sparsify "$SCRATCH/h.raw" "$SCRATCH/h.vmdk"
  grep -q "hibernated" "$SCRATCH/err" && ok "the error says hibernated" || bad "error: $(cat "$SCRATCH/err")"
  [ -e "$SCRATCH/h.vmdk" ] && bad "an output was left" || ok "no output left"
  "$BOXWRIGHT" inspect --disk-only --json "$SCRATCH/h.raw" > "$SCRATCH/h.json"
  $PY -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["volumes"][0]["ntfs"]["hibernated"] is True and "volume-hibernated" in [d["code"] for d in j["diagnoses"]] else 1)' "$SCRATCH/h.json" \
    && ok "inspect --disk-only: hibernated, diagnosed" || bad "inspect --disk-only: $(cat "$SCRATCH/h.json")"
else
  bad "cannot mount the test volume with ntfs-3g (FUSE)"
fi
finish
