#!/usr/bin/env bash
# The README's first command: set up (first run installs and builds), then the main job on the
# embedded defaults, on 2 MPI ranks: write the synthetic reasoning task, train a tiny Qwen2 model
# on it from scratch by SFT, evaluate it on held-out problems, tune the sampling temperature, train
# it with GRPO (entropy-guided temperature), evaluate again, and compare. Takes a few minutes on a
# 2-core machine. Outputs (traces, checkpoints, reports, a plot) go to $ACERL_RUN_DIR
# (default build/runs/quickstart).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${ACERL_BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
PYTHON="${ACERL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acerl}/venv/bin/python"
RUN="${ACERL_RUN_DIR:-$BUILD_DIR/runs/quickstart}"
RANKS="${ACERL_RANKS:-2}"
MPI_FLAGS=(-n "$RANKS" --bind-to none)
mpirun --version 2>/dev/null | grep -q "Open MPI" && MPI_FLAGS+=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || MPI_FLAGS+=(--allow-run-as-root)
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
cd "$ROOT"
rm -rf "$RUN"
mkdir -p "$RUN"
INI=inputs/quickstart/quickstart.ini
acerl() { mpirun "${MPI_FLAGS[@]}" "$BUILD_DIR/acerl" "$@"; }
latest() { echo "$1/checkpoints/$(cat "$1/checkpoints/latest")"; }
start=$(date +%s)

echo "== 1/6 synthetic task"
acerl data synth --output "$RUN/data"
echo "== 2/6 SFT from scratch"
acerl sft "$INI" --run.dir="$RUN/sft" --data.path="$RUN/data/sft.jsonl" | grep -v "^[a-z_0-9]* = \|^\[\|^#\|^$"
echo "== 3/6 held-out evaluation after SFT"
acerl eval "$INI" --run.dir="$RUN/eval_sft" --model.path="$(latest "$RUN/sft")" --eval.files="$RUN/data/eval.jsonl" \
  | grep -E "^eval .*avg@|^wrote"
echo "== 4/6 temperature for entropy 0.3"
acerl tune-temperature "$INI" --run.dir="$RUN/tune" --model.path="$(latest "$RUN/sft")" --data.path="$RUN/data/rl.jsonl" \
  | grep -v "^[a-z_0-9]* = \|^\[\|^#\|^$"
echo "== 5/6 GRPO"
acerl rl "$INI" --run.dir="$RUN/rl" --model.path="$(latest "$RUN/sft")" --data.path="$RUN/data/rl.jsonl" \
  | grep -v "^[a-z_0-9]* = \|^\[\|^#\|^$"
echo "== 6/6 held-out evaluation after RL"
acerl eval "$INI" --run.dir="$RUN/eval_rl" --model.path="$(latest "$RUN/rl")" --eval.files="$RUN/data/eval.jsonl" \
  | grep -E "^eval .*avg@|^wrote"

echo "== result ($(( $(date +%s) - start )) s)"
"$PYTHON" tools/compare_evals.py "$RUN/eval_sft/eval.json" "$RUN/eval_rl/eval.json" --labels SFT RL
"$PYTHON" tools/plot_trace.py "$RUN/rl/trace.h5" "$RUN/rl_entropy.png" --phase rl
echo "traces: $RUN/sft/trace.h5 $RUN/rl/trace.h5 (acerl trace FILE, or h5py)"
