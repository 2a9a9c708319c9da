#!/usr/bin/env bash
# The whole recipe as a chain of Slurm jobs: SFT -> tune-temperature -> one job per RL stage of
# the RL config -> eval, each job starting only after the one before it ended with exit 0
# (afterok; a failed stage cancels everything after it). Prints one line per stage with its job id.
#
#   jobs/slurm/recipe.sh RECIPE.env [sbatch options for every job, e.g. -A ACCOUNT -p gpu]
#
# RECIPE.env (shell syntax; jobs/recipe.example.env documents every key) names the run directory,
# the configs and the data. Outputs: RUN_DIR/{sft,tune,rl,eval}/ (acerl run directories) and
# RUN_DIR/chain/ (job ids, job logs, a .done file per finished stage).
#
# Re-running the script is safe: finished stages (a .done file) are skipped, a stage whose job is
# still pending or running is not submitted twice (later stages wait for that job), and the rest
# is submitted again; training stages resume from their checkpoints.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/recipe_common.sh
. "$HERE/../lib/recipe_common.sh"
[ $# -ge 1 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
recipe_load "$1"
shift
SBATCH_EXTRA=("$@")
JOBS_DIR="$(cd "$HERE/.." && pwd)"  # the jobs run copies of the scripts: tell them where lib/ is

# The job id of STAGE's last submission while it is still pending or running, else nothing.
live_job() {
  local id
  id="$(cat "$CHAIN/$1.jobid" 2>/dev/null)" || return 0
  squeue -h -j "$id" -o %i 2>/dev/null | grep -qx "$id" && echo "$id" || true
}

prev=""  # job id the next stage must wait for ("" = none: everything before it is done)
submit() {  # submit STAGE SCRIPT [acerl args...] (ACERL_* exports come from recipe_stage_env)
  local stage="$1" script="$2"
  shift 2
  if [ -f "$CHAIN/$stage.done" ]; then
    echo "$stage: done ($(cat "$CHAIN/$stage.done"))"
    return
  fi
  local id
  id="$(live_job "$stage")"
  if [ -n "$id" ]; then
    echo "$stage: job $id (already queued)"
    prev="$id"
    return
  fi
  local dep=()
  [ -z "$prev" ] || dep=(--dependency="afterok:$prev" --kill-on-invalid-dep=yes)
  id="$(sbatch --parsable --job-name="acerl-$stage" --output="$CHAIN/$stage-%j.out" \
        --export="ALL,ACERL_JOBS=$JOBS_DIR,ACERL_DONE_FILE=$CHAIN/$stage.done$(recipe_stage_env "$stage")" \
        "${dep[@]}" "${SBATCH_EXTRA[@]}" "$HERE/$script" "$@")"
  id="${id%%;*}"
  echo "$id" > "$CHAIN/$stage.jobid"
  echo "$stage: job $id${prev:+ (after $prev)}"
  prev="$id"
}

submit sft sft.sbatch "$SFT_CONFIG" "--run.dir=$RUN_DIR/sft" ${SFT_DATA:+"--data.path=$SFT_DATA"} \
  "${SFT_ARGS_ARRAY[@]}"
submit tune tune-temperature.sbatch "$TUNE_CONFIG" "--run.dir=$RUN_DIR/tune" \
  ${TUNE_DATA:+"--data.path=$TUNE_DATA"} "${TUNE_ARGS_ARRAY[@]}"
for stage in "${RL_STAGES[@]}"; do
  stop=()
  [ "$stage" = main ] || stop=("--rl.stop_after_stage=$stage")
  submit "rl-$stage" rl.sbatch "$RL_CONFIG" "--run.dir=$RUN_DIR/rl" ${RL_DATA:+"--data.path=$RL_DATA"} \
    "${stop[@]}" "${RL_ARGS_ARRAY[@]}"
done
submit eval eval.sbatch "$EVAL_CONFIG" "--run.dir=$RUN_DIR/eval" \
  ${EVAL_FILES:+"--eval.files=$EVAL_FILES"} "${EVAL_ARGS_ARRAY[@]}"
