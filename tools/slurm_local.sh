#!/usr/bin/env bash
# A one-node Slurm on this machine, for the job-script tests (and for trying the scripts by hand):
# munged, slurmctld and slurmd from Debian's packages (munge slurmctld slurmd slurm-client;
# slurm-wlm-torque adds qsub/qstat), no systemd, no accounting.
#
#   tools/slurm_local.sh start    write the config, start the daemons, wait until the node is idle
#   tools/slurm_local.sh stop     stop the daemons this script started (by their PID files)
#   tools/slurm_local.sh status   print whether it is up (exit 0) or not (exit 1)
#
# Idempotent: start on a running cluster only checks it, stop on a stopped one does nothing.
# Needs root (it writes /etc/slurm/slurm.conf and runs the daemons). State, logs and PID files go
# to $ACERL_SLURM_STATE (default /var/lib/acerl-slurm). An /etc/slurm/slurm.conf that this script
# did not write is left alone: start then refuses, so a real site's Slurm is never touched.
set -euo pipefail

STATE="${ACERL_SLURM_STATE:-/var/lib/acerl-slurm}"
CONF=/etc/slurm/slurm.conf
MARK="# written by acerl tools/slurm_local.sh"
HOST="$(hostname -s)"

die() { echo "slurm_local: $*" >&2; exit 1; }

running() {  # running NAME: the daemon whose PID file is ours is alive
  local pid
  pid="$(cat "$STATE/$1.pid" 2>/dev/null)" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

node_idle() { sinfo -h -n "$HOST" -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)$'; }  # not idle* etc.

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    die "$CONF exists and was not written by this script; not touching a site's Slurm"
  fi
  mkdir -p /etc/slurm "$STATE/spool" "$STATE/ctld"
  local cpus mem
  cpus="$(nproc)"
  mem="$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))"
  cat > "$CONF" <<EOF
$MARK
ClusterName=acerl-local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
# A requeued job may start again after cred_expire + 1 s (default 120): short for the tests.
AuthInfo=cred_expire=10
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ReturnToService=2
KillWait=10
MinJobAge=600
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
}

start_munge() {
  if pgrep -x munged >/dev/null; then return; fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  [ -s /etc/munge/munge.key ] || { dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null;
                                   chown munge:munge /etc/munge/munge.key; chmod 0400 /etc/munge/munge.key; }
  if command -v runuser >/dev/null; then runuser -u munge -- /usr/sbin/munged
  else su -s /bin/sh munge -c /usr/sbin/munged; fi
  # munged daemonizes and writes its own PID file: take the daemon's PID from there.
  for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
  cp /run/munge/munged.pid "$STATE/munged.pid"
}

start() {
  [ "$(id -u)" -eq 0 ] || die "start needs root (daemons and /etc/slurm/slurm.conf)"
  for cmd in slurmctld slurmd sinfo munged; do
    command -v "$cmd" >/dev/null || [ -x "/usr/sbin/$cmd" ] \
      || die "$cmd not found: apt-get install --no-install-recommends munge slurmctld slurmd slurm-client"
  done
  mkdir -p "$STATE"
  if running slurmctld && running slurmd && node_idle; then echo "slurm_local: up ($HOST)"; return; fi
  write_conf
  start_munge
  running slurmctld || /usr/sbin/slurmctld
  for _ in $(seq 50); do scontrol ping >/dev/null 2>&1 && break; sleep 0.2; done
  running slurmd || /usr/sbin/slurmd
  for i in $(seq 100); do
    node_idle && break
    # A node left down by an earlier run: ask once to bring it back.
    [ "$i" -ne 20 ] || scontrol update nodename="$HOST" state=resume >/dev/null 2>&1 || true
    sleep 0.3
  done
  node_idle || { tail -20 "$STATE/slurmctld.log" "$STATE/slurmd.log" >&2; die "the node did not come up"; }
  echo "slurm_local: up ($HOST, $(nproc) CPUs, state in $STATE)"
}

stop() {
  local name pid
  for name in slurmd slurmctld munged; do
    pid="$(cat "$STATE/$name.pid" 2>/dev/null)" || continue
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$STATE/$name.pid"
  done
  echo "slurm_local: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if running slurmctld && running slurmd && node_idle; then echo up; else echo down; exit 1; fi ;;
  *) echo "usage: tools/slurm_local.sh start|stop|status" >&2; exit 2 ;;
esac
