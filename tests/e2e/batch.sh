#!/usr/bin/env bash
# batch: a JSON Lines manifest run N at a time (one failing job does not
# stop the others; exit 1), results as JSON Lines with sha256; a single job
# picked by --index or JOB_COMPLETION_INDEX; and a real Slurm array job
# over a 3-entry manifest (slurmctld + slurmd + munge on localhost), when
# Slurm is installed.
. "$SRCDIR/tests/e2e/lib.sh"
need_fixture nano-cs2.vhd
cp --sparse=always "$FIXTURES/nano-cs2.vhd" "$SCRATCH/in.vhd"
cat > "$SCRATCH/m.jsonl" <<'EOJ'
{"command":"patch","input":"in.vhd","output":"out0.vhd","options":["--hostname","batch0"]}
{"command":"patch","input":"missing.vhd","output":"out1.vhd","options":["--winrm"]}

{"command":"patch","input":"in.vhd","output":"out2.vhd","options":["--hostname","batch2","--winrm"]}
EOJ
check_results() {   # FILE EXPECTED-INDEXES
  $PY - "$1" "$2" "$SCRATCH" <<'PYEOF'
import hashlib, json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
want = [int(x) for x in sys.argv[2].split(",")]
ok = sorted(l["index"] for l in lines) == want
for l in lines:
    if l["index"] == 1:
        ok &= l["status"] == "error" and l["exit"] == 1 and "missing.vhd" in l["error"]
    else:
        out = os.path.join(sys.argv[3], "out%d.vhd" % l["index"])
        ok &= l["status"] == "ok" and l["exit"] == 0 and l["output_size"] == os.path.getsize(out)
        ok &= l["sha256"] == hashlib.sha256(open(out, "rb").read()).hexdigest()
print(lines)
sys.exit(0 if ok else 1)
PYEOF
}
expect_exit 1 "batch -j 2: one job fails, the others run" "$BOXWRIGHT" batch -j 2 "$SCRATCH/m.jsonl"
check_results "$SCRATCH/out" 0,1,2 && ok "three results: ok, error (naming the input), ok; sizes and sha256 right" || bad "results: $(cat "$SCRATCH/out")"
rm -f "$SCRATCH"/out*.vhd
expect_exit 1 "--index 1 runs job 1 only" "$BOXWRIGHT" batch --index 1 "$SCRATCH/m.jsonl"
[ "$(wc -l < "$SCRATCH/out")" = 1 ] && check_results "$SCRATCH/out" 1 && ok "one result, job 1" || bad "--index: $(cat "$SCRATCH/out")"
JOB_COMPLETION_INDEX=1 expect_exit 1 "JOB_COMPLETION_INDEX=1 runs job 1 only" "$BOXWRIGHT" batch "$SCRATCH/m.jsonl"
[ "$(wc -l < "$SCRATCH/out")" = 1 ] && ok "Kubernetes index honoured" || bad "JOB_COMPLETION_INDEX: $(cat "$SCRATCH/out")"
expect_exit 2 "an index past the manifest" "$BOXWRIGHT" batch --index 7 "$SCRATCH/m.jsonl"

# Slurm: a real array job, one manifest entry per task.
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  skip_part "Slurm not installed: array-job part skipped"
  finish; exit $?
fi
S=$SCRATCH/slurm
mkdir -p "$S"/{spool,state,log} /etc/munge /run/munge /var/log/munge /var/lib/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge 2>/dev/null
chmod 400 /etc/munge/munge.key
munged --force 2>/dev/null || true
host=$(hostname -s)
mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
cat > "$S/slurm.conf" <<EOC
ClusterName=bwtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOC
export SLURM_CONF=$S/slurm.conf
stop_slurm() {   # by their pid files, and wait: their state dirs go next
  local p pid
  for p in "$S/slurmd.pid" "$S/slurmctld.pid" /run/munge/munged.pid; do
    [ -f "$p" ] || continue
    pid=$(cat "$p")
    kill "$pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}
trap 'stop_slurm; rm -rf "$SCRATCH"' EXIT
# slurmd needs a cgroup filesystem even with proctrack/linuxproc (22.05):
# a chroot without /sys/fs/cgroup (fresh-debian.sh) cannot run it.
if [ ! -e /sys/fs/cgroup/cgroup.controllers ] && [ ! -d /sys/fs/cgroup/memory ]; then
  skip_part "no cgroup filesystem at /sys/fs/cgroup: slurmd cannot start here; Slurm part skipped"
  stop_slurm; finish; exit $?
fi
slurmctld && slurmd || { bad "Slurm daemons did not start: $(tail -n 3 "$S"/log/*.log)"; finish; exit 1; }
for _ in $(seq 1 60); do sinfo -h -o %t 2>/dev/null | grep -q idle && break; sleep 1; done
cat > "$S/job.sh" <<EOJ
#!/bin/bash
"$BOXWRIGHT" batch "$SCRATCH/m.jsonl" > "$S/result.\$SLURM_ARRAY_TASK_ID.json"
exit 0
EOJ
chmod +x "$S/job.sh"
if timeout 900 sbatch --array=0-2 --wait -o "$S/task-%a.log" "$S/job.sh" > "$S/sbatch.out" 2>&1; then
  ok "sbatch --array=0-2 --wait ($(cat "$S/sbatch.out"))"
else
  bad "sbatch: $(cat "$S/sbatch.out"; tail -n 5 "$S"/log/*.log)"
fi
cat "$S"/result.*.json > "$S/all.json" 2>/dev/null
check_results "$S/all.json" 0,1,2 && ok "Slurm: one task per manifest entry, results right" || bad "Slurm results: $(cat "$S/all.json")"
stop_slurm
finish
