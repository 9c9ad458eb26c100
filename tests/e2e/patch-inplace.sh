#!/usr/bin/env bash
# patch --in-place is atomic: killed with SIGKILL before, during and after
# the rename, the image is byte-identical to the old one or is the whole
# new one; SIGTERM while writing leaves the old image and no temporary
# file; a complete run replaces it.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-cs2.vhd
img=$SCRATCH/work.vhd
edits=(--quiet --winrm --hostname inplace1)

# is_new: the image is a complete patched one (read whole by our reader,
# and its SOFTWARE hive carries the WinRM edit)
is_new() {
  "$BUILDDIR/tests/tools/disk_cat" "$img" "$SCRATCH/check.raw" >/dev/null 2>&1 || return 1
  dd if="$SCRATCH/check.raw" of="$SCRATCH/check.part" bs=4M iflag=skip_bytes skip=$((2048 * 512)) conv=sparse status=none
  rm -f "$SCRATCH/check.raw"
  ntfscat "$SCRATCH/check.part" /Windows/System32/config/SOFTWARE > "$SCRATCH/check.sw" 2>/dev/null || return 1
  rm -f "$SCRATCH/check.part"
  [ "$(hivexget "$SCRATCH/check.sw" 'Microsoft\Windows\CurrentVersion\WSMAN\Service' allow_unencrypted 2>/dev/null)" = 1 ]
}
tmpfiles() { ls -a "$SCRATCH" | grep -c '\.work\.vhd\.boxwright-'; }

run_and_kill() {   # WHEN SIGNAL
  local when=$1 sig=$2 pid
  cp --sparse=always "$FIXTURES/nano-cs2.vhd" "$img"
  "$BOXWRIGHT" patch "$img" --in-place "${edits[@]}" 2>/dev/null &
  pid=$!
  case $when in
    early) sleep 1 ;;
    writing) for _ in $(seq 1 2400); do [ "$(tmpfiles)" -gt 0 ] && break; sleep 0.025; done ;;
    renamed) for _ in $(seq 1 2400); do [ "$(tmpfiles)" -gt 0 ] && break; sleep 0.025; done
             for _ in $(seq 1 2400); do [ "$(tmpfiles)" -eq 0 ] && break; sleep 0.005; done ;;
  esac
  # caught: the signal reached the patch while its temporary file was
  # there (on a loaded machine the whole write can fall between two polls)
  caught=0
  [ "$when" = writing ] && [ "$(tmpfiles)" -gt 0 ] && kill -0 "$pid" 2>/dev/null && caught=1
  kill -"$sig" "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null; rc=$?
  # a SIGKILLed libguestfs child may linger a moment
  sleep 0.5
}

old=$(sha256sum < "$FIXTURES/nano-cs2.vhd")
for when in early writing renamed; do
  run_and_kill "$when" KILL
  now=$(sha256sum < "$img")
  if [ "$now" = "$old" ]; then ok "SIGKILL $when: the old image, byte for byte"
  elif is_new; then ok "SIGKILL $when: the whole new image"
  else bad "SIGKILL $when: the image is neither old nor a complete new one"; fi
  rm -f "$SCRATCH"/.work.vhd.boxwright-*     # SIGKILL cannot clean up
done

for try in 1 2 3 4 5; do
  run_and_kill writing TERM
  [ "$caught" = 1 ] && break
  echo "# try $try: the patch finished before SIGTERM could reach it; again"
done
if [ "$caught" = 1 ] && [ "$rc" = 0 ]; then
  # the signal came after the last point where the patch could stop: it
  # completed, so the whole new image (never a mix) is the right answer
  is_new && ok "SIGTERM too late to stop the patch (exit 0): the whole new image" || bad "SIGTERM after the last stop: exit 0 but not the new image"
elif [ "$caught" = 1 ]; then
  [ "$(sha256sum < "$img")" = "$old" ] && ok "SIGTERM while writing: the old image (exit $rc)" || bad "SIGTERM while writing: exit $rc and the image changed"
else
  skip_part "SIGTERM while writing: the patch outran the 25 ms poll 5 times (loaded machine)"
fi
[ "$(tmpfiles)" -eq 0 ] && ok "SIGTERM: no temporary file left" || bad "SIGTERM: temporary file left"

cp --sparse=always "$FIXTURES/nano-cs2.vhd" "$img"
expect_exit 0 "complete patch --in-place" "$BOXWRIGHT" patch "$img" --in-place "${edits[@]}"
[ "$(sha256sum < "$img")" != "$old" ] && is_new && ok "complete run: the new image" || bad "complete run: not the new image"
[ "$(tmpfiles)" -eq 0 ] && ok "complete run: no temporary file left" || bad "complete run: temporary file left"
ls /var/tmp | grep -q "^boxwright\.$$" && bad "temporary work directory left" || ok "work directory removed"

# through a symlink: the target is patched, the link stays a link; the
# target's mode (a private image stays private) and owner are kept
d=$SCRATCH/links && mkdir -p "$d/real"
cp --sparse=always "$FIXTURES/nano-cs2.vhd" "$d/real/ip.vhd"
chmod 600 "$d/real/ip.vhd"; chown 12345:54321 "$d/real/ip.vhd" 2>/dev/null || true
owner=$(stat -c %u:%g "$d/real/ip.vhd")
ln -s real/ip.vhd "$d/ip-sym.vhd"
expect_exit 0 "patch --in-place through a symlink" "$BOXWRIGHT" patch "$d/ip-sym.vhd" --in-place --quiet --hostname symlink1
[ -L "$d/ip-sym.vhd" ] && ok "the symlink is still a symlink" || bad "the symlink was replaced by a file"
[ "$(sha256sum < "$d/real/ip.vhd")" != "$old" ] && ok "its target was patched" || bad "the target is unpatched"
[ "$(stat -c %a "$d/real/ip.vhd")" = 600 ] && ok "the target keeps mode 600" || bad "mode now $(stat -c %a "$d/real/ip.vhd")"
[ "$(stat -c %u:%g "$d/real/ip.vhd")" = "$owner" ] && ok "the target keeps its owner ($owner)" || bad "owner now $(stat -c %u:%g "$d/real/ip.vhd")"
ls -a "$d/real" "$d" | grep -q boxwright- && bad "temporary files left beside the target" || ok "no temporary file beside the target"
# a hard-linked image is refused before anything is read: the other names
# would keep the unpatched image
ln "$d/real/ip.vhd" "$d/hard.vhd"
before=$(sha256sum < "$d/hard.vhd")
expect_exit 2 "patch --in-place of a hard-linked image refused" "$BOXWRIGHT" patch "$d/hard.vhd" --in-place --quiet --hostname hard1
grep -q "hard link" "$SCRATCH/err" && ok "the message says why (hard links)" || bad "message: $(cat "$SCRATCH/err")"
[ "$(sha256sum < "$d/hard.vhd")" = "$before" ] && ok "the hard-linked image is unchanged" || bad "the hard-linked image changed"
finish
