# Shared body of the batch scripts in jobs/slurm and jobs/pbs (sourced, not run): finds acerl,
# launches it on every rank the way the batch system expects, and turns its exit code into what a
# job chain needs. The exit-code contract of acerl: 0 finished, 1 failure, 2 bad input, 75 stopped
# with a checkpoint written (a stop signal or run.deadline); on 75 the job is requeued (Slurm) or
# resubmitted (PBS) with --resume, at most ACERL_MAX_RESTARTS times.
#
# Environment (all optional):
#   ACERL_BIN               the acerl executable (default: `acerl` on PATH, after
#                           `module load $ACERL_MODULE` when it is not there and `module` exists)
#   ACERL_MODULE            module to load (default acerl)
#   ACERL_MAX_RESTARTS      requeues/resubmissions after exit 75 (default 5)
#   ACERL_LAUNCHER          replaces the MPI launcher (default: Slurm `srun --mpi=$ACERL_SRUN_MPI`,
#                           PBS `mpiexec -n <ranks> --hostfile <node file>`)
#   ACERL_SRUN_MPI          srun's --mpi plugin (default pmix; Open MPI 4/5 need pmix, not pmi2)
#   ACERL_MODEL_FROM        a run directory: --model.path becomes its latest checkpoint, read
#                           when the job starts (for chains: the previous stage's output)
#   ACERL_TEMPERATURE_FROM  a tune_temperature.json: --rl.temperature becomes its temperature
#   ACERL_DONE_FILE         written when acerl exits 0 (chains skip stages that have one)
#   OMP_NUM_THREADS         default: the CPUs per task the batch system gave (else 1)
#   ACERL_PBS_QSUB_ARGS     qsub options a PBS resubmission repeats (-A, -q, -l ...): PBS does not
#                           tell a job how it was submitted (jobs/pbs/recipe.sh sets it)
# Needs bash 4.4 or newer (empty arrays under set -u).

acerl_log() { echo "acerl-job: $*" >&2; }

# Sets ACERL_FOUND_BIN to the acerl executable, loading the module when acerl is not on PATH
# (in this shell, so the module's PATH and libraries reach the launcher too).
acerl_find_bin() {
  if [ -n "${ACERL_BIN:-}" ]; then
    [ -x "$ACERL_BIN" ] || { acerl_log "ACERL_BIN=$ACERL_BIN is not an executable"; return 1; }
    ACERL_FOUND_BIN="$ACERL_BIN"
    return
  fi
  if ! command -v acerl >/dev/null 2>&1; then
    # Batch shells are not login shells: make `module` available first where it is installed.
    if ! type module >/dev/null 2>&1; then
      local init
      for init in "${MODULESHOME:-/nonexistent}/init/bash" /etc/profile.d/modules.sh \
                  /usr/share/modules/init/bash /usr/share/lmod/lmod/init/bash; do
        [ -f "$init" ] && { . "$init" >/dev/null 2>&1 || true; break; }
      done
    fi
    if type module >/dev/null 2>&1; then module load "${ACERL_MODULE:-acerl}" >&2 || true; fi
  fi
  command -v acerl >/dev/null 2>&1 || {
    acerl_log "acerl not found: load its module (module load acerl), put it on PATH, or set ACERL_BIN"
    return 1
  }
  ACERL_FOUND_BIN="$(command -v acerl)"
}

# The checkpoint that DIR's `latest` pointer names (DIR = a run directory or its checkpoints/).
acerl_latest_checkpoint() {
  local dir="$1" name
  [ -f "$dir/checkpoints/latest" ] && dir="$dir/checkpoints"
  name="$(head -n1 "$dir/latest" 2>/dev/null)" || {
    acerl_log "no checkpoint in $1 (no latest pointer): did the stage before this one finish?"
    return 1
  }
  [ -f "$dir/$name" ] || { acerl_log "$dir/latest names $name, which does not exist"; return 1; }
  echo "$dir/$name"
}

# The "temperature" number of a tune_temperature.json.
acerl_tuned_temperature() {
  local t
  t="$(grep -o '"temperature": *[-+0-9.eE]*' "$1" 2>/dev/null | head -n1 | sed 's/.*: *//')"
  [ -n "$t" ] || { acerl_log "no temperature in $1 (did tune-temperature finish?)"; return 1; }
  echo "$t"
}

# Node file for mpiexec under PBS: PBS_NODEFILE, or (PBS commands on top of Slurm, where it is
# empty) one line per task built from the Slurm allocation.
acerl_pbs_nodefile() {
  if [ -n "${PBS_NODEFILE:-}" ] && [ -s "$PBS_NODEFILE" ]; then
    echo "$PBS_NODEFILE"
    return
  fi
  [ -n "${SLURM_JOB_NODELIST:-}" ] || { acerl_log "neither PBS_NODEFILE nor a Slurm allocation"; return 1; }
  local file="${TMPDIR:-/tmp}/acerl-nodes-${SLURM_JOB_ID:-$$}" per="${SLURM_NTASKS_PER_NODE:-}"
  [ -n "$per" ] || per=$(( ${SLURM_NTASKS:-1} / ${SLURM_JOB_NUM_NODES:-1} ))
  : > "$file"
  local host i
  for host in $(scontrol show hostnames "$SLURM_JOB_NODELIST"); do
    for ((i = 0; i < per; i++)); do echo "$host" >> "$file"; done
  done
  echo "$file"
}

# acerl_job SCHEDULER COMMAND [ARGS...]: SCHEDULER is slurm or pbs; COMMAND an acerl subcommand.
acerl_job() {
  local sched="$1" cmd="$2"
  shift 2
  local bin args=("$@")
  acerl_find_bin || return 1
  bin="$ACERL_FOUND_BIN"
  [ -n "${ACERL_MODEL_FROM:-}" ] && {
    local from
    from="$(acerl_latest_checkpoint "$ACERL_MODEL_FROM")" || return 1
    args+=("--model.path=$from")
  }
  [ -n "${ACERL_TEMPERATURE_FROM:-}" ] && {
    local t
    t="$(acerl_tuned_temperature "$ACERL_TEMPERATURE_FROM")" || return 1
    args+=("--rl.temperature=$t")
  }
  case "$cmd" in sft | rl) args+=(--resume) ;; esac  # a first run starts at step 0

  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-${NCPUS:-1}}}"
  export NCCL_DEBUG="${NCCL_DEBUG:-WARN}"
  # Open MPI refuses root without these; only set for root.
  if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

  local launcher=() job_id restarts
  if [ -n "${ACERL_LAUNCHER:-}" ]; then
    read -r -a launcher <<< "$ACERL_LAUNCHER"
  elif [ "$sched" = slurm ]; then
    # No --kill-on-bad-exit: the first rank to exit 75 would count as bad and get the others
    # killed while they finish; a failing rank ends the job through MPI_Abort, a hung one through
    # acerl's watchdog. --cpus-per-task: srun of Slurm 22.05 no longer inherits it from sbatch.
    launcher=(srun --mpi="${ACERL_SRUN_MPI:-pmix}" --cpus-per-task="${SLURM_CPUS_PER_TASK:-1}")
  else
    local nodefile ranks
    nodefile="$(acerl_pbs_nodefile)" || return 1
    ranks="${ACERL_RANKS:-$(wc -l < "$nodefile")}"
    launcher=(mpiexec -n "$ranks" --hostfile "$nodefile")
    # Open MPI's mpiexec passes no environment to other nodes unless told.
    if mpiexec --version 2>/dev/null | grep -Eq "Open MPI|OpenRTE"; then
      local v
      for v in PATH LD_LIBRARY_PATH OMP_NUM_THREADS NCCL_DEBUG OMPI_ALLOW_RUN_AS_ROOT \
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM; do
        [ -z "${!v:-}" ] || launcher+=(-x "$v")
      done
    fi
  fi
  if [ "$sched" = slurm ]; then
    job_id="${SLURM_JOB_ID:-none}"
    restarts="${SLURM_RESTART_COUNT:-0}"
  else
    job_id="${PBS_JOBID:-${SLURM_JOB_ID:-none}}"
    restarts="${ACERL_RESTART:-0}"
  fi
  acerl_log "job $job_id (restart $restarts): ${launcher[*]} $bin $cmd ${args[*]}"
  # A stop signal for the batch shell (PBS's qsig, scancel --batch or --full, a preemption's
  # SIGTERM) is passed to the launcher as SIGUSR1, which srun and mpiexec forward to every rank:
  # acerl then writes a checkpoint and exits 75. Without this the shell would die at once.
  local rc=0 pid="" stop_pending=0
  # The trap is set before the launch: a signal in between is remembered and passed on.
  trap 'acerl_log "stop signal: forwarding SIGUSR1 to the ranks";
        if [ -n "$pid" ]; then kill -USR1 "$pid" 2>/dev/null || true; else stop_pending=1; fi' USR1 TERM
  "${launcher[@]}" "$bin" "$cmd" "${args[@]}" &
  pid=$!
  [ "$stop_pending" -eq 0 ] || { sleep 2; kill -USR1 "$pid" 2>/dev/null || true; }
  while true; do
    rc=0
    wait "$pid" || rc=$?
    # wait returns > 128 when a trapped signal interrupted it; the launcher may still run.
    if [ "$rc" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then continue; fi
    break
  done
  trap - USR1 TERM
  acerl_log "acerl $cmd exited $rc"
  case "$rc" in
    0)
      [ -z "${ACERL_DONE_FILE:-}" ] || { mkdir -p "$(dirname "$ACERL_DONE_FILE")";
                                         echo "$job_id $(date -u +%FT%TZ)" > "$ACERL_DONE_FILE"; }
      # A PBS chain: the job that finishes submits the next stage (jobs/pbs/recipe.sh).
      [ -z "${ACERL_PBS_CHAIN_NEXT:-}" ] || acerl_pbs_submit_stage "$ACERL_PBS_CHAIN_NEXT" || return 1
      ;;
    75)
      if [ "$restarts" -ge "${ACERL_MAX_RESTARTS:-5}" ]; then
        acerl_log "stopped with a checkpoint, but $restarts restarts reached ACERL_MAX_RESTARTS=${ACERL_MAX_RESTARTS:-5}: resubmit by hand to continue"
      elif [ "$sched" = slurm ]; then
        # Requeued, the job keeps its id, so afterok dependents keep waiting for its real end.
        acerl_log "stopped with a checkpoint: requeueing job $job_id (restart $((restarts + 1)))"
        scontrol requeue "$job_id" && return 0
        acerl_log "scontrol requeue $job_id failed (was the job submitted with --requeue?)"
      else
        acerl_pbs_resubmit "$restarts" && return 0
      fi
      ;;
  esac
  return "$rc"
}

# PBS cannot requeue a user's own running job: submit the same script again with the same
# environment (qsub -V) and one more restart. In a chain the new job carries ACERL_PBS_CHAIN_NEXT,
# so the chain goes on from it.
acerl_pbs_resubmit() {
  local restarts="$1" script="${ACERL_PBS_SCRIPT:-}" id
  [ -n "$script" ] || { acerl_log "ACERL_PBS_SCRIPT unset: cannot resubmit"; return 1; }
  local extra=()
  [ -z "${ACERL_PBS_QSUB_ARGS:-}" ] || eval "extra=($ACERL_PBS_QSUB_ARGS)"
  # Each restart logs to its own file (qsub cannot append).
  [ -z "${ACERL_PBS_OUT:-}" ] || extra+=(-j oe -o "$ACERL_PBS_OUT.restart$((restarts + 1))")
  id="$(ACERL_RESTART=$((restarts + 1)) qsub -V "${extra[@]}" "$script")" || { acerl_log "qsub failed"; return 1; }
  acerl_log "stopped with a checkpoint: resubmitted as job $id (restart $((restarts + 1)))"
  [ -z "${ACERL_JOBID_FILE:-}" ] || echo "$id" > "$ACERL_JOBID_FILE"
}

# acerl_pbs_submit_stage STAGE_FILE: submits the chain stage that STAGE_FILE (written by
# jobs/pbs/recipe.sh) describes, or the first stage after it that is not done yet.
acerl_pbs_submit_stage() {
  local file="$1"
  while [ -n "$file" ]; do
    [ -f "$file" ] || { acerl_log "chain stage file $file is missing"; return 1; }
    (
      unset ACERL_PBS_CHAIN_NEXT ACERL_MODEL_FROM ACERL_TEMPERATURE_FROM ACERL_RESTART
      # shellcheck disable=SC1090
      . "$file"
      if [ -f "$ACERL_DONE_FILE" ]; then exit 3; fi
      local extra=() id
      [ -z "${ACERL_PBS_QSUB_ARGS:-}" ] || eval "extra=($ACERL_PBS_QSUB_ARGS)"
      id="$(qsub -V "${extra[@]}" -j oe -o "$ACERL_PBS_OUT" "$ACERL_PBS_SCRIPT")" || exit 1
      echo "$id" > "$ACERL_JOBID_FILE"
      echo "$ACERL_STAGE: job $id"
    )
    case $? in
      0) return 0 ;;
      3) file="$(. "$file"; echo "${ACERL_PBS_CHAIN_NEXT:-}")" ;;  # done: the one after it
      *) acerl_log "could not submit the chain stage of $file"; return 1 ;;
    esac
  done
}
