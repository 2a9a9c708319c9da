#!/usr/bin/env bash
# Finding 1 of AceReason-Nemotron 1.1: at an equal number of SFT samples, more prompts beats more
# responses per prompt. Writes the two-digit task (`acerl data synth --digits 2`: P prompts with
# four differently worked, sometimes slipped, solutions each), trains the tiny model from scratch
# on every cell of the grid prompts in {P/8, P/4, P/2, P} x responses in {1, 2, 4}
# (sft.max_prompts x sft.responses_per_prompt), each for the same number of optimizer steps with
# the same settings, evaluates each on the same held-out problems (avg@k), and fits
# z = a*log2(prompts) + b*log2(responses) + c (tools/findings.py). Settings: common.sh.
#
#   jobs/experiments/sft_scaling.sh      -> $ACERL_RUN_DIR (build/runs/sft_scaling)
#                                           finding1.md, finding1.png
# ACERL_PROMPT_DIVISORS (default "8 4 2 1") and ACERL_RESPONSES (default "1 2 4") set the grid.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
RUN="${ACERL_RUN_DIR:-$BUILD_DIR/runs/sft_scaling}"
DIVISORS="${ACERL_PROMPT_DIVISORS:-8 4 2 1}" RESPONSES="${ACERL_RESPONSES:-1 2 4}"
start_job "$RUN" "$COMMON_SETTINGS divisors=$DIVISORS responses=$RESPONSES"
exp_log "task: ${ACERL_DATA:-the synthetic one, $PROMPTS SFT prompts x 4 solutions} -> $RUN/data"
make_task "$RUN/data"
for divisor in $DIVISORS; do
  for responses in $RESPONSES; do
    prompts=$((PROMPTS / divisor)) dir="$RUN/sft/p$((PROMPTS / divisor))_r$responses"
    if is_done "$dir"; then exp_log "SFT on $prompts prompts x $responses responses: done"; continue; fi
    exp_log "SFT on $prompts prompts x $responses responses ($SFT_STEPS steps), then eval"
    sft_cell "$RUN/data" "$dir" "$prompts" "$responses"
  done
done
finish_job sft-scaling 1
