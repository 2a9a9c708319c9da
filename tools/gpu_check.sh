#!/usr/bin/env bash
# The GPU device check: acerl built here (CUDA + NCCL, no GPU needed to build), carried to a lent
# GPU machine that has CUDA, PyTorch and transformers but no Open MPI, HDF5 or Boost, and run
# there. Two halves:
#
#   tools/gpu_check.sh pack    here, after tools/setup.sh built build/ with CUDA: builds the GPU
#                              tests and benchmark, writes build/gpu-pack/ (binaries, the MPI/HDF5/
#                              Boost shared libraries, Open MPI's plugins, the real Qwen2 tokenizer
#                              when found; under 60 MiB) for the device tool's `carry`
#   tools/gpu_check.sh run [SECTION...]
#                              there, from the checkout root, with build/gpu-pack carried. Sections
#                              (default all, in this order, each under its own time limit):
#                              tests  the `gpu` tests (kernels, sampler, logits and generation vs
#                                     transformers, gradients vs the CPU)
#                              e2e    30 SFT + 4 RL steps of the quickstart model (loss, trace)
#                              bench  acerl_bench_gpu: Qwen2.5-0.5B shape, matmul peak, SFT step
#                                     tokens/s + MFU, decode tokens/s at batch 1, 8, 64
#                              hf     transformers generate() with a static cache, same shape and batches
#                              rl     2 RL steps at the 0.5B shape: generate / score / learn seconds
#                              Figures as JSON (gpu_check.json) and a log under $OUT.
#
# ACERL_GPU_CHECK_DEVICE=cpu runs the `run` half on this machine's CPU (the plumbing: libraries,
# singleton MPI, paths; the small shape instead of 0.5B) where no GPU is lent; the gpu tests then
# report themselves skipped. The device tool call: command "tools/gpu_check.sh run", carry
# ["build/gpu-pack"].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$ROOT/build/gpu-pack"
mode="${1:-}"

pack() {
  local build="${ACERL_BUILD_DIR:-$ROOT/build}"
  grep -q "ACERL_WITH_CUDA:BOOL=ON" "$build/CMakeCache.txt" ||
    { echo "gpu_check: $build is not a CUDA build (tools/setup.sh builds one where nvcc is found)" >&2; exit 2; }
  cmake --build "$build" --target acerl acerl_gpu_tests acerl_bench_gpu
  rm -rf "$PACK" && mkdir -p "$PACK/bin" "$PACK/lib"
  local bins=("$build/acerl" "$build/tests/acerl_gpu_tests" "$build/tests/bench/acerl_bench_gpu")
  for f in "${bins[@]}"; do
    objcopy --strip-debug "$f" "$PACK/bin/$(basename "$f")"
  done
  objcopy --strip-debug "$build/src/libacerl_core.so" "$PACK/lib/libacerl_core.so"
  # Every shared library the binaries need that the GPU machine lacks: not glibc or the compiler
  # runtime, not LibTorch, CUDA or NCCL (the torch wheel there brings those).
  ldd "${bins[@]}" "$build/src/libacerl_core.so" |
    awk '/=> \// {print $3}' | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so' |
    grep -Ev 'torch/lib|/nvidia/|/cuda|libcudart|libnccl|libcuda\.|libacerl_core' |
    while read -r lib; do cp -L "$lib" "$PACK/lib/"; done
  # Open MPI finds its plugins and help texts relative to OPAL_PREFIX; keep Debian's layout.
  local ompi=/usr/lib/x86_64-linux-gnu/openmpi
  mkdir -p "$PACK/ompi/lib/x86_64-linux-gnu/openmpi/lib" "$PACK/ompi/share"
  cp -rL "$ompi/lib/openmpi3" "$PACK/ompi/lib/x86_64-linux-gnu/openmpi/lib/"
  cp -r /usr/share/openmpi "$PACK/ompi/share/" 2>/dev/null || true
  [ -d /usr/lib/x86_64-linux-gnu/pmix2 ] && cp -rL /usr/lib/x86_64-linux-gnu/pmix2 "$PACK/lib/pmix2"
  # The real Qwen2 tokenizer for the 0.5B RL steps (the tests' tokenizer data, see
  # tests/tokenizer/hf_reference.cpp); without it that section reports itself skipped.
  local data
  for data in "${ACERL_TOKENIZER_DATA:-}" "$ROOT/../shared/data" /work/shared/data; do
    if [ -n "$data" ] && [ -f "$data/qwen-tokenizer/tokenizer.json" ]; then
      gzip -9c "$data/qwen-tokenizer/tokenizer.json" > "$PACK/qwen-tokenizer.json.gz"; break
    fi
  done
  du -sh "$PACK"
  local kib; kib=$(du -sk "$PACK" | cut -f1)
  [ "$kib" -le $((60 * 1024)) ] || { echo "gpu_check: $PACK is ${kib} KiB, over what a call carries" >&2; exit 1; }
}

# section NAME LIMIT_S [ARGS...]: runs this script's `_NAME` mode (below) under a time limit,
# records its exit code and seconds (124 = ran past the limit) in $work/sections.
section() {
  local name="$1" limit="$2" t0=$SECONDS rc=0
  shift 2
  echo "== $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$0" "_$name" "$@" || rc=$?
  echo "$name: exit $rc in $((SECONDS - t0))s"
  echo "$name $rc $((SECONDS - t0))" >> "$work/sections"
}

e2e() {
  local ini="$ROOT/inputs/quickstart/quickstart.ini" run="$work/e2e"
  cd "$ROOT"
  "$acerl" data synth --output "$run/data" >/dev/null
  "$acerl" sft "$ini" --run.device="$device" --run.dir="$run/sft" --data.path="$run/data/sft.jsonl" \
    --sft.max_steps=30 --log.interval=10
  "$acerl" rl "$ini" --run.device="$device" --run.dir="$run/rl" \
    --model.path="$run/sft/checkpoints/$(cat "$run/sft/checkpoints/latest")" \
    --data.path="$run/data/rl.jsonl" --rl.steps=4 --log.interval=1
  "$acerl" trace "$run/sft/trace.h5" > "$out/sft_trace.txt"
  "$acerl" trace "$run/rl/trace.h5" > "$out/rl_trace.txt"
}

# Two RL steps of the Qwen2.5-0.5B shape (random weights, the real tokenizer; the vocabulary is the
# tokenizer's 151,669 ids rather than the padded 151,936, so that every sampled id decodes), 8
# prompts x 8 samples x up to 256 new tokens: where an RL step's time goes.
rl_big() {
  [ -f "$PACK/qwen-tokenizer.json.gz" ] || { echo "rl: skipped, no Qwen2 tokenizer in the pack"; return 77; }
  local run="$work/rl_big"
  mkdir -p "$run"
  gunzip -c "$PACK/qwen-tokenizer.json.gz" > "$run/tokenizer.json"
  cat > "$run/model.json" <<'JSON'
{"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
 "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151669,
 "max_position_embeddings": 4096, "rope_theta": 1000000.0, "rms_norm_eps": 1e-06,
 "tie_word_embeddings": true}
JSON
  cd "$ROOT"
  "$acerl" data synth --output "$run/data" >/dev/null
  "$acerl" rl inputs/quickstart/quickstart.ini --run.device="$device" --run.dir="$run/rl" \
    --model.init="$run/model.json" --model.precision=auto --tokenizer.path="$run/tokenizer.json" \
    --data.path="$run/data/rl.jsonl" --rl.steps=2 --rl.prompts_per_step=8 --rl.group_size=8 \
    --rl.micro_batch=8 --rl.temperature=1.0 --rollout.max_new_tokens=256 --log.interval=1
  "$acerl" trace "$run/rl/trace.h5" --csv rl > "$work/rl_big.csv"
}

run() {
  [ -x "$PACK/bin/acerl" ] || { echo "gpu_check: $PACK missing; run 'tools/gpu_check.sh pack' here and carry build/gpu-pack" >&2; exit 2; }
  export out="${OUT:-$ROOT/build/gpu-check-out}" device="${ACERL_GPU_CHECK_DEVICE:-cuda}"
  export py="${ACERL_GPU_CHECK_PYTHON:-$(command -v python3)}"
  local sections=("$@")
  [ ${#sections[@]} -gt 0 ] || sections=(tests e2e bench hf rl)
  mkdir -p "$out"
  export work; work="$(mktemp -d)"
  exec > >(tee "$out/gpu_check.log") 2>&1
  local torch_dir nv
  torch_dir="$("$py" -c 'import os, torch; print(os.path.dirname(torch.__file__))')"
  nv="$("$py" -c 'import os, nvidia; print(os.path.dirname(nvidia.__path__[0] + "/x"))' 2>/dev/null || true)"
  export LD_LIBRARY_PATH="$PACK/lib:$torch_dir/lib:$nv/cu13/lib:$nv/nccl/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # Open MPI from the pack, as a singleton (no mpirun there): no orted, shared memory only.
  export OPAL_PREFIX="$PACK/ompi" PMIX_MCA_mca_base_component_path="$PACK/lib/pmix2/lib/pmix"
  export OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader
  export OMPI_MCA_mca_base_component_show_load_errors=0
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export ACERL_TEST_PYTHON="$py" ACERL_TEST_SOURCE_DIR="$ROOT" ACERL_TEST_BINARY_DIR="$work"
  export acerl="$PACK/bin/acerl"
  echo "== probe"
  date -u; nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())'
  "$acerl" --version

  # The CPU rehearsal runs the small shape: the 0.5B one takes minutes per step on a CPU.
  local shape=qwen0.5b bench_args=() hf_args=()
  if [ "$device" = cpu ]; then
    shape=small bench_args=(--shape small --rows 2 --seq 128 --batch 1,2 --new 16)
    hf_args=(--shape small --batch 1,2 --new 16 --dtype fp32)
  fi
  local s
  for s in "${sections[@]}"; do
    case "$s" in
      tests) section tests 150 ;;
      e2e) section e2e 90 ;;
      bench) section bench 100 "${bench_args[@]}" ;;
      hf) section hf 100 "${hf_args[@]}" ;;
      rl) if [ "$device" = cpu ]; then echo "rl: skipped on the CPU rehearsal"; else section rl 100; fi ;;
      *) echo "gpu_check: unknown section '$s' (valid: tests e2e bench hf rl)" >&2; exit 2 ;;
    esac
  done

  "$py" "$ROOT/tools/gpu_check_summary.py" "$work" "$out" "$device" "$shape"
  local rc=0 name code secs
  while read -r name code secs; do
    case "$name:$code" in
      *:0) ;;
      tests:77) [ "$device" = cpu ] || rc=1 ;;
      rl:77) ;;
      *) rc=1 ;;
    esac
  done < "$work/sections"
  rm -rf "$work"
  exit "$rc"
}

case "$mode" in
  pack) pack ;;
  run) shift; run "$@" ;;
  # The sections, run by `run` through section() with its environment.
  _tests) "$PACK/bin/acerl_gpu_tests" "[gpu]" ;;
  _e2e) e2e ;;
  _bench) shift; "$PACK/bin/acerl_bench_gpu" --device "$device" "$@" | tee "$work/bench.txt" ;;
  _hf) shift; "$py" "$ROOT/tests/bench/hf_generate.py" --device "$device" "$@" | tee "$work/hf.txt" ;;
  _rl) rl_big ;;
  *) sed -n '2,27p' "$0"; exit 2 ;;
esac
