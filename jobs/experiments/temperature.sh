#!/usr/bin/env bash
# Finding 3 of AceReason-Nemotron 1.1: the RL temperature that keeps the temperature-adjusted
# entropy near 0.3 beats lower and higher ones. From one SFT start (the full P x 4 cell of
# sft_scaling.sh: trained here, or taken from ACERL_SFT_FROM), `acerl tune-temperature` finds
# the temperatures of start entropies 0.1, 0.3 and 0.5; GRPO runs at each fixed temperature and
# under temperature = auto for a sweep of target entropies, several seeds each, and every RL
# model is evaluated at T = 0.6 (tools/findings.py). Settings: common.sh.
#
#   jobs/experiments/temperature.sh      -> $ACERL_RUN_DIR (build/runs/temperature)
#                                           finding3.md, finding3.png
# ACERL_START (default "P:4", as prompts:responses), ACERL_ENTROPIES (fixed-temperature start
# entropies, default "0.1 0.3 0.5") and ACERL_TARGETS (auto targets, default "0.1 0.2 0.3 0.4 0.5").
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${ACERL_RUN_DIR:-$BUILD_DIR/runs/temperature}"
cell="${ACERL_START:-$PROMPTS:4}"
ENTROPIES="${ACERL_ENTROPIES:-0.1 0.3 0.5}" TARGETS="${ACERL_TARGETS:-0.1 0.2 0.3 0.4 0.5}"
start_job "$RUN" "$COMMON_SETTINGS $RL_SETTINGS start=$cell entropies=$ENTROPIES targets=$TARGETS"
prompts="${cell%%:*}" responses="${cell##*:}"
exp_log "SFT start: $prompts prompts x $responses responses"
sft_start "$RUN" "$prompts" "$responses"
declare -A seen=()
for entropy in $ENTROPIES; do
  tune="$RUN/tune/h$entropy"
  [ -f "$tune/tune_temperature.json" ] ||
    acerl_step "$tune.log" tune-temperature "$INI" --run.dir="$tune" --model.path="$START" \
      --data.path="$DATA/rl.jsonl" --rl.target_entropy="$entropy"
  t=$("$PYTHON" -c 'import json, sys; print("%.4f" % json.load(open(sys.argv[1]))["temperature"])' \
      "$tune/tune_temperature.json")
  if [ -n "${seen[$t]:-}" ]; then  # the curve gave an earlier entropy's temperature (a bound)
    exp_log "start entropy $entropy needs T = $t, as entropy ${seen[$t]} did: no new runs"
    continue
  fi
  seen[$t]="$entropy"
  for seed in $SEEDS; do
    dir="$RUN/rl/fixed_h${entropy}_s$seed"
    if is_done "$dir"; then exp_log "GRPO at fixed T = $t, seed $seed: done"; continue; fi
    exp_log "GRPO at fixed T = $t (start entropy $entropy), seed $seed, then eval"
    rl_run "$DATA" "$dir" "$START" "$seed" --rl.temperature="$t"
  done
done
for target in $TARGETS; do
  for seed in $SEEDS; do
    dir="$RUN/rl/auto_h${target}_s$seed"
    if is_done "$dir"; then exp_log "GRPO at T = auto, target $target, seed $seed: done"; continue; fi
    exp_log "GRPO at T = auto, target entropy $target, seed $seed, then eval"
    rl_run "$DATA" "$dir" "$START" "$seed" --rl.temperature=auto --rl.target_entropy="$target"
  done
done
finish_job temperature 3
