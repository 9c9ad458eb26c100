#!/usr/bin/env bash
# A job's temporary files: SIGTERM, SIGINT and SIGHUP at any moment of a
# patch leave no file in its work directory and none beside the output,
# and the input unchanged; a later run removes what a killed run left on
# this host (its process is gone: kill -0 says so) and nothing else (a
# live process's, another host's).
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-base.vhd
in=$FIXTURES/nano-base.vhd
sum=$(md5sum < "$in")
host=$($PY -c 'import socket; print(socket.gethostname().replace("/", "_").replace(".", "_")[:63])')
count() { find "$1" -mindepth 1 | wc -l; }

for sig in TERM INT HUP TERM INT; do
  for delay in 0.1 0.3 0.6; do
    t=$SCRATCH/t-$sig-$delay && mkdir -p "$t/tmp" "$t/out"
    TMPDIR=$t/tmp "$BOXWRIGHT" patch "$in" -o "$t/out/p.vhd" --quiet --winrm --hostname sig1 &
    pid=$!
    sleep $delay; kill -$sig $pid 2>/dev/null; wait $pid; rc=$?
    left=$(( $(count "$t/tmp") + $(find "$t/out" -name '.p.vhd.boxwright-*' | wc -l) ))
    if [ $rc -eq 0 ]; then
      [ $left -eq 0 ] && [ -s "$t/out/p.vhd" ] && ok "SIG$sig after ${delay}s: it had finished; nothing left over" || bad "SIG$sig after ${delay}s: finished with $left leftovers"
    else
      [ $left -eq 0 ] && [ ! -e "$t/out/p.vhd" ] && ok "SIG$sig after ${delay}s (exit $rc): no temporary file, no output" \
        || bad "SIG$sig after ${delay}s (exit $rc): $left leftovers: $(find "$t" -mindepth 2 | head -5)"
    fi
    rm -rf "$t"
  done
done
[ "$(md5sum < "$in")" = "$sum" ] && ok "the input is unchanged" || bad "the input changed"

# leftovers of a dead process on this host go; a live one's and another
# host's stay
sleep 0 & dead=$!; wait $dead
t=$SCRATCH/stale && mkdir -p "$t/tmp" "$t/out"
mkdir "$t/tmp/boxwright-$host-$dead.aaaaaa" "$t/tmp/boxwright-$host-$$.bbbbbb" "$t/tmp/boxwright-otherhost-$dead.cccccc"
echo x > "$t/tmp/boxwright-$host-$dead.aaaaaa/volume1.img"
touch "$t/out/.p.vhd.boxwright-$host-$dead-0" "$t/out/.p.vhd.boxwright-$host-$$-0" "$t/out/.p.vhd.boxwright-otherhost-$dead-0" \
      "$t/out/.q.vhd.boxwright-$host-$dead-0"
expect_exit 0 "a patch after a killed run" env TMPDIR="$t/tmp" "$BOXWRIGHT" patch "$in" -o "$t/out/p.vhd" --quiet --hostname sig2
[ ! -e "$t/tmp/boxwright-$host-$dead.aaaaaa" ] && [ ! -e "$t/out/.p.vhd.boxwright-$host-$dead-0" ] \
  && ok "the dead run's work directory and partial output are removed" || bad "stale leftovers remain: $(ls -a "$t/tmp" "$t/out")"
[ -d "$t/tmp/boxwright-$host-$$.bbbbbb" ] && [ -d "$t/tmp/boxwright-otherhost-$dead.cccccc" ] &&
  [ -e "$t/out/.p.vhd.boxwright-$host-$$-0" ] && [ -e "$t/out/.p.vhd.boxwright-otherhost-$dead-0" ] &&
  [ -e "$t/out/.q.vhd.boxwright-$host-$dead-0" ] \
  && ok "a live process's, another host's and another output's files stay" || bad "removed too much: $(ls -a "$t/tmp" "$t/out")"
finish
