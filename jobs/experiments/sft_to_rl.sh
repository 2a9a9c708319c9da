#!/usr/bin/env bash
# Finding 2 of AceReason-Nemotron 1.1: a stronger SFT model gives a stronger RL model, and RL
# narrows the gap between SFT starts. Takes SFT starts of different strength (cells of the
# sft_scaling.sh grid: trained here, or taken from ACERL_SFT_FROM), evaluates each, runs the same
# GRPO from each (temperature auto, target entropy 0.3) with several seeds, evaluates again, and
# compares the gap between starts before and after RL (tools/findings.py). Settings: common.sh.
#
#   jobs/experiments/sft_to_rl.sh        -> $ACERL_RUN_DIR (build/runs/sft_to_rl)
#                                           finding2.md, finding2.png
# ACERL_STARTS (default "P/4:2 P/2:2 P:4", as prompts:responses) names the starts.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${ACERL_RUN_DIR:-$BUILD_DIR/runs/sft_to_rl}"
STARTS="${ACERL_STARTS:-$((PROMPTS / 4)):2 $((PROMPTS / 2)):2 $PROMPTS:4}"
start_job "$RUN" "$COMMON_SETTINGS $RL_SETTINGS starts=$STARTS"
for cell in $STARTS; do
  prompts="${cell%%:*}" responses="${cell##*:}"
  exp_log "SFT start: $prompts prompts x $responses responses"
  sft_start "$RUN" "$prompts" "$responses"
  for seed in $SEEDS; do
    dir="$RUN/rl/p${prompts}_r${responses}_s$seed"
    if is_done "$dir"; then exp_log "GRPO from p${prompts}_r${responses}, seed $seed: done"; continue; fi
    exp_log "GRPO from p${prompts}_r${responses}, seed $seed ($RL_STEPS steps), then eval"
    rl_run "$DATA" "$dir" "$START" "$seed"
  done
done
finish_job sft-to-rl 2
