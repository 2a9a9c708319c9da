# Shared body of the experiment jobs in this folder (sourced, not run): where acerl and the
# project's Python are, how a step is launched, and the steps every experiment uses. A step whose
# output already exists is skipped, so a job that was stopped continues where it was when it is
# run again with the same ACERL_RUN_DIR (delete the folder to start over).
#
# Environment (all optional):
#   ACERL_RUN_DIR    where everything goes (default build/runs/<experiment>)
#   ACERL_RANKS      MPI ranks per step (default 2)
#   OMP_NUM_THREADS  intra-op threads per rank (default 1)
#   ACERL_BUILD_DIR  the build folder holding acerl (default build)
#   ACERL_LAUNCHER   replaces "mpirun -n $ACERL_RANKS ..." (e.g. "srun" inside an allocation)
#   ACERL_PROMPTS    SFT prompts of the task, P (default 1600)
#   ACERL_SFT_STEPS  optimizer steps of every SFT run (default 1600)
#   ACERL_RL_STEPS   GRPO steps of every RL run (default 60)
#   ACERL_EVAL_PROMPTS  held-out problems (default 300)
#   ACERL_SEEDS      run.seed of the repeated RL runs (default "1 2 3")
#   ACERL_SFT_FROM   the run directory of sft_scaling.sh: findings 2 and 3 take its task and the
#                    SFT checkpoints of the cells they need instead of training them again
#   ACERL_CONFIG     the INI every step reads (default inputs/experiments/findings.ini): your
#                    model (model.init or model.path), tokenizer and training settings
#   ACERL_DATA       a folder with your sft.jsonl (several responses per prompt), rl.jsonl and
#                    eval.jsonl, used instead of writing the synthetic task (set ACERL_PROMPTS
#                    to its number of SFT prompts)
#   ACERL_ARGS       extra --section.key=value settings given to every acerl step
set -euo pipefail
EXP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CALLER_DIR="$PWD"
# A path from the environment, relative to where the job was started (the steps run in EXP_ROOT).
from_caller() { case "$1" in /*|"") echo "$1" ;; *) echo "$CALLER_DIR/$1" ;; esac; }
BUILD_DIR="$(from_caller "${ACERL_BUILD_DIR:-$EXP_ROOT/build}")"
[ -z "${ACERL_RUN_DIR:-}" ] || ACERL_RUN_DIR="$(from_caller "$ACERL_RUN_DIR")"
[ -z "${ACERL_SFT_FROM:-}" ] || ACERL_SFT_FROM="$(from_caller "$ACERL_SFT_FROM")"
PYTHON="${ACERL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acerl}/venv/bin/python"
INI="$(from_caller "${ACERL_CONFIG:-$EXP_ROOT/inputs/experiments/findings.ini}")"
[ -z "${ACERL_DATA:-}" ] || ACERL_DATA="$(from_caller "$ACERL_DATA")"
PROMPTS="${ACERL_PROMPTS:-1600}"
SFT_STEPS="${ACERL_SFT_STEPS:-1600}"
RL_STEPS="${ACERL_RL_STEPS:-60}"
EVAL_PROMPTS="${ACERL_EVAL_PROMPTS:-300}"
SEEDS="${ACERL_SEEDS:-1 2 3}"
# What every job's results depend on (start_job keeps a run directory to one set of them).
COMMON_SETTINGS="config=$INI data=${ACERL_DATA:-synthetic} prompts=$PROMPTS sft_steps=$SFT_STEPS eval_prompts=$EVAL_PROMPTS args=${ACERL_ARGS:-}"
RL_SETTINGS="rl_steps=$RL_STEPS seeds=$SEEDS sft_from=${ACERL_SFT_FROM:-}"
read -r -a EXTRA <<< "${ACERL_ARGS:-}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
if [ -n "${ACERL_LAUNCHER:-}" ]; then
  read -r -a LAUNCH <<< "$ACERL_LAUNCHER"
else
  LAUNCH=(mpirun -n "${ACERL_RANKS:-2}" --bind-to none)
  mpirun --version 2>/dev/null | grep -q "Open MPI" && LAUNCH+=(--oversubscribe)
  [ "$(id -u)" -ne 0 ] || LAUNCH+=(--allow-run-as-root)
fi
[ -x "$BUILD_DIR/acerl" ] || { echo "no $BUILD_DIR/acerl: run jobs/local/quickstart.sh (or tools/setup.sh) first" >&2; exit 2; }
[ -x "$PYTHON" ] || { echo "no $PYTHON (the project venv): run tools/setup.sh first" >&2; exit 2; }
cd "$EXP_ROOT"

exp_log() { echo "[$(date +%H:%M:%S)] $*"; }
# One acerl step; its output goes to LOG (appended), the first line of any error to the terminal.
acerl_step() {
  local log="$1"; shift
  mkdir -p "$(dirname "$log")"
  local rc=0 before
  before=$(stat -c %s "$log" 2>/dev/null || echo 0)
  "${LAUNCH[@]}" "$BUILD_DIR/acerl" "$@" "${EXTRA[@]}" >> "$log" 2>&1 || rc=$?
  [ "$rc" -eq 0 ] && return
  if [ "$rc" -eq 75 ]; then  # stopped with a checkpoint: run the job again to continue
    echo "stopped with a checkpoint: acerl $1 (log: $log); run the job again to continue" >&2
    exit 75
  fi
  echo "failed (exit $rc): acerl $* (log: $log)" >&2
  # This attempt's output only (a log gathers every attempt at the step).
  tail -c +$((before + 1)) "$log" | grep -m3 -i "error" >&2 || tail -5 "$log" >&2
  exit "$([ "$rc" -eq 2 ] && echo 2 || echo 1)"
}
latest_checkpoint() { echo "$1/checkpoints/$(cat "$1/checkpoints/latest")"; }

# start_job RUN SETTINGS: makes RUN, refuses (exit 2) a RUN whose finished steps were made with
# other settings (they would be skipped and mixed in), and appends this invocation's wall time
# to RUN/wall_seconds when the job ends, however it ends (tools/findings.py sums the lines).
record_wall_time() { echo "$(( $(date +%s) - JOB_START ))" >> "$JOB_RUN/wall_seconds"; }
start_job() {
  local run="$1" settings="$2"
  mkdir -p "$run"
  if [ -f "$run/settings" ] && [ "$(cat "$run/settings")" != "$settings" ]; then
    echo "$run was made with other settings:" >&2
    echo "  then: $(cat "$run/settings")" >&2
    echo "  now:  $settings" >&2
    echo "use another ACERL_RUN_DIR, or delete $run to start over" >&2
    exit 2
  fi
  echo "$settings" > "$run/settings"
  JOB_RUN="$run" JOB_START=$(date +%s)
  trap record_wall_time EXIT
}

# finish_job FINDING N: records the wall time (so that the report counts this invocation too),
# then writes RUN/findingN.md and .png with tools/findings.py FINDING.
finish_job() {
  trap - EXIT
  record_wall_time
  "$PYTHON" tools/findings.py "$1" "$JOB_RUN"
  exp_log "done in $(( $(date +%s) - JOB_START )) s: $JOB_RUN/finding$2.md, $JOB_RUN/finding$2.png"
}

# is_done DIR: the step in DIR finished and was evaluated.
is_done() { [ -f "$1/done" ] && [ -f "$1/eval/eval.json" ]; }

# make_task DIR: the two-digit task (math only), P SFT prompts with four solutions each; or DIR
# becomes a link to ACERL_DATA.
make_task() {
  [ -f "$1/eval.jsonl" ] && return
  if [ -n "${ACERL_DATA:-}" ]; then
    local f
    for f in sft.jsonl rl.jsonl eval.jsonl; do
      [ -f "$ACERL_DATA/$f" ] || { echo "ACERL_DATA=$ACERL_DATA has no $f" >&2; exit 2; }
    done
    ln -sfn "$ACERL_DATA" "$1"
    return
  fi
  acerl_step "$1/synth.log" data synth --output "$1" --run.seed=1234 --digits 2 --solutions 4 \
    --code-fraction 0 --sft-prompts "$PROMPTS" --rl-prompts 2000 --eval-prompts "$EVAL_PROMPTS"
}

# sft_cell DATA DIR PROMPTS RESPONSES: SFT from scratch on PROMPTS prompts x RESPONSES responses
# (sft.max_prompts, sft.responses_per_prompt) for SFT_STEPS steps, then the held-out evaluation.
sft_cell() {
  local data="$1" dir="$2" prompts="$3" responses="$4"
  if [ ! -f "$dir/done" ]; then
    acerl_step "$dir/sft.log" sft "$INI" --run.dir="$dir" --checkpoint.resume=auto \
      --data.path="$data/sft.jsonl" \
      --sft.max_prompts="$prompts" --sft.responses_per_prompt="$responses" \
      --sft.epochs=100000 --sft.max_steps="$SFT_STEPS"
    touch "$dir/done"
  fi
  evaluate "$dir" "$(latest_checkpoint "$dir")" "$data"
}

# evaluate DIR CHECKPOINT DATA: avg@k on the held-out problems -> DIR/eval/eval.json.
evaluate() {
  [ -f "$1/eval/eval.json" ] && return
  acerl_step "$1/eval.log" eval "$INI" --run.dir="$1/eval" --model.path="$2" \
    --eval.files="$3/eval.jsonl"
}

# rl_run DATA DIR START SEED [settings...]: GRPO from the checkpoint START for RL_STEPS steps,
# then the held-out evaluation.
rl_run() {
  local data="$1" dir="$2" start="$3" seed="$4"; shift 4
  if [ ! -f "$dir/done" ]; then
    acerl_step "$dir/rl.log" rl "$INI" --run.dir="$dir" --checkpoint.resume=auto --model.path="$start" \
      --data.path="$data/rl.jsonl" --rl.steps="$RL_STEPS" --run.seed="$seed" "$@"
    touch "$dir/done"
  fi
  evaluate "$dir" "$(latest_checkpoint "$dir")" "$data"
}

# sft_start RUN PROMPTS RESPONSES: sets DATA (the task) and START (the checkpoint of the SFT cell
# PROMPTS x RESPONSES), taking both from ACERL_SFT_FROM when it has that cell and training the
# cell under RUN/starts/ otherwise; the start is evaluated under RUN/starts/pP_rR/eval either way.
sft_start() {
  local run="$1" prompts="$2" responses="$3" name="p$2_r$3"
  [[ "$prompts" =~ ^[0-9]+$ && "$responses" =~ ^[0-9]+$ ]] ||
    { echo "an SFT cell is PROMPTS:RESPONSES (two whole numbers), not '$prompts:$responses'" >&2; exit 2; }
  local from="${ACERL_SFT_FROM:-}"
  if [ -n "$from" ]; then
    [ -d "$from" ] || { echo "ACERL_SFT_FROM=$from is not a directory" >&2; exit 2; }
    DATA="$from/data"
    [ -f "$from/sft/$name/done" ] || { echo "ACERL_SFT_FROM=$from has no finished cell $name" >&2; exit 2; }
    START="$(latest_checkpoint "$from/sft/$name")"
    evaluate "$run/starts/$name" "$START" "$DATA"
  else
    DATA="$run/data"
    make_task "$DATA"
    sft_cell "$DATA" "$run/starts/$name" "$prompts" "$responses"
    START="$(latest_checkpoint "$run/starts/$name")"
  fi
}
