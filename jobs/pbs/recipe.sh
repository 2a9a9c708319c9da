#!/usr/bin/env bash
# The whole recipe as a chain of PBS jobs: SFT -> tune-temperature -> one job per RL stage of the
# RL config -> eval. PBS cannot requeue a user's own job, and a job that resubmits itself after
# exit 75 would release its afterok dependents early, so the chain is carried by the jobs: each
# job, when acerl exits 0, submits the next stage; a stopped one (75) resubmits itself and the
# chain goes on from the new job; a failed one (1, 2) ends the chain there. Prints the first job
# id; every job's id goes to RUN_DIR/chain/STAGE.jobid and its log to RUN_DIR/chain/STAGE.out.
#
#   jobs/pbs/recipe.sh RECIPE.env [qsub options for every job, e.g. -A ACCOUNT -q QUEUE]
#
# RECIPE.env is the file jobs/slurm/recipe.sh reads (jobs/recipe.example.env). Re-running is safe:
# finished stages (RUN_DIR/chain/STAGE.done) are skipped, and nothing is submitted while a job of
# the chain is still queued or running. Compute nodes must be allowed to run qsub.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$HERE/../lib/recipe_common.sh"
. "$HERE/../lib/acerl_job.sh"
[ $# -ge 1 ] || { sed -n '2,14p' "$0" >&2; exit 2; }
recipe_load "$1"
shift
QSUB_EXTRA=""
[ $# -eq 0 ] || QSUB_EXTRA="$(printf "%q " "$@")"

for f in "$CHAIN"/*.jobid; do
  [ -f "$f" ] || continue
  id="$(cat "$f")"
  # Anything but completed/finished/expired counts as live (E: a finishing job may be submitting
  # the next stage right now).
  if qstat "$id" >/dev/null 2>&1 && qstat "$id" 2>/dev/null | tail -n +3 | grep -qv " [CFX] "; then
    echo "chain still running: $(basename "$f" .jobid) is job $id; nothing submitted"
    exit 0
  fi
done

# One stage file per stage, in chain order, each naming the next.
stages=(sft tune)
for s in "${RL_STAGES[@]}"; do stages+=("rl-$s"); done
stages+=(eval)
args_of() {  # the acerl arguments of a stage, as shell words
  case "$1" in
    sft) printf '%q ' "--run.dir=$RUN_DIR/sft" ${SFT_DATA:+"--data.path=$SFT_DATA"} "${SFT_ARGS_ARRAY[@]}" ;;
    tune) printf '%q ' "--run.dir=$RUN_DIR/tune" ${TUNE_DATA:+"--data.path=$TUNE_DATA"} "${TUNE_ARGS_ARRAY[@]}" ;;
    rl-main) printf '%q ' "--run.dir=$RUN_DIR/rl" ${RL_DATA:+"--data.path=$RL_DATA"} "${RL_ARGS_ARRAY[@]}" ;;
    rl-*) printf '%q ' "--run.dir=$RUN_DIR/rl" ${RL_DATA:+"--data.path=$RL_DATA"} \
            "--rl.stop_after_stage=${1#rl-}" "${RL_ARGS_ARRAY[@]}" ;;
    eval) printf '%q ' "--run.dir=$RUN_DIR/eval" ${EVAL_FILES:+"--eval.files=$EVAL_FILES"} "${EVAL_ARGS_ARRAY[@]}" ;;
  esac
}
for i in "${!stages[@]}"; do
  s="${stages[$i]}"
  case "$s" in sft) script=sft.pbs config="$SFT_CONFIG" ;; tune) script=tune-temperature.pbs config="$TUNE_CONFIG" ;;
               rl-*) script=rl.pbs config="$RL_CONFIG" ;; eval) script=eval.pbs config="$EVAL_CONFIG" ;; esac
  next=""
  [ $((i + 1)) -ge ${#stages[@]} ] || next="$CHAIN/$(printf %02d $((i + 1)))-${stages[$((i + 1))]}.stage"
  {
    echo "# chain stage $s (written by jobs/pbs/recipe.sh)"
    printf 'export ACERL_STAGE=%q\n' "$s"
    printf 'export ACERL_JOBS=%q\n' "$(cd "$HERE/.." && pwd)"
    printf 'export ACERL_PBS_SCRIPT=%q\n' "$HERE/$script"
    printf 'export ACERL_CONFIG=%q\n' "$config"
    printf 'export ACERL_ARGS=%q\n' "$(args_of "$s")"
    printf 'export ACERL_DONE_FILE=%q\n' "$CHAIN/$s.done"
    printf 'export ACERL_JOBID_FILE=%q\n' "$CHAIN/$s.jobid"
    printf 'export ACERL_PBS_OUT=%q\n' "$CHAIN/$s.out"
    printf 'export ACERL_PBS_QSUB_ARGS=%q\n' "$QSUB_EXTRA"
    printf 'export ACERL_PBS_CHAIN_NEXT=%q\n' "$next"
    recipe_stage_env "$s" | tr ',' '\n' | sed -n 's/^\(ACERL_[A-Z_]*\)=\(.*\)$/export \1="\2"/p'
  } > "$CHAIN/$(printf %02d "$i")-$s.stage"
done
for s in "${stages[@]}"; do [ ! -f "$CHAIN/$s.done" ] || echo "$s: done ($(cat "$CHAIN/$s.done"))"; done
first="$CHAIN/00-sft.stage"
if [ -f "$CHAIN/eval.done" ]; then echo "every stage is done"; exit 0; fi
acerl_pbs_submit_stage "$first" || { echo "recipe: could not submit the chain (see above)" >&2; exit 1; }
