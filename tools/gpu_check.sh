#!/usr/bin/env bash
# The GPU device check: acerl built here (CUDA + NCCL, no GPU needed to build), carried to a lent
# GPU machine that has CUDA, PyTorch and transformers but no Open MPI, HDF5 or Boost, and run
# there. Two halves:
#
#   tools/gpu_check.sh pack    here, after tools/setup.sh built build/ with CUDA: writes
#                              build/gpu-pack/ (binaries, the MPI/HDF5/Boost shared libraries and
#                              Open MPI's plugins, under 64 MiB) for the device tool's `carry`
#   tools/gpu_check.sh run     there, from the checkout root, with build/gpu-pack carried: the
#                              `gpu` tests, a few SFT and RL steps of the quickstart model on the
#                              GPU (loss falls, trace written), figures as JSON + log under $OUT
#
# ACERL_GPU_CHECK_DEVICE=cpu runs the `run` half on this machine's CPU (the plumbing: libraries,
# singleton MPI, paths) where no GPU is lent; the gpu tests then report themselves skipped.
# The device tool call: command "tools/gpu_check.sh run", carry ["build/gpu-pack"].
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACK="$ROOT/build/gpu-pack"
mode="${1:-}"

pack() {
  local build="${ACERL_BUILD_DIR:-$ROOT/build}"
  grep -q "ACERL_WITH_CUDA:BOOL=ON" "$build/CMakeCache.txt" ||
    { echo "gpu_check: $build is not a CUDA build (tools/setup.sh builds one where nvcc is found)" >&2; exit 2; }
  rm -rf "$PACK" && mkdir -p "$PACK/bin" "$PACK/lib"
  for f in "$build/acerl" "$build/tests/acerl_tests"; do
    objcopy --strip-debug "$f" "$PACK/bin/$(basename "$f")"
  done
  objcopy --strip-debug "$build/src/libacerl_core.so" "$PACK/lib/libacerl_core.so"
  # Every shared library the binaries need that the GPU machine lacks: not glibc or the compiler
  # runtime, not LibTorch, CUDA or NCCL (the torch wheel there brings those).
  ldd "$build/acerl" "$build/src/libacerl_core.so" "$build/tests/acerl_tests" |
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
  du -sh "$PACK"
  local kib; kib=$(du -sk "$PACK" | cut -f1)
  [ "$kib" -le $((60 * 1024)) ] || { echo "gpu_check: $PACK is ${kib} KiB, over what a call carries" >&2; exit 1; }
}

run() {
  [ -x "$PACK/bin/acerl" ] || { echo "gpu_check: $PACK missing; run 'tools/gpu_check.sh pack' here and carry build/gpu-pack" >&2; exit 2; }
  local out="${OUT:-$ROOT/build/gpu-check-out}" device="${ACERL_GPU_CHECK_DEVICE:-cuda}"
  local py="${ACERL_GPU_CHECK_PYTHON:-$(command -v python3)}"
  mkdir -p "$out"
  local work; work="$(mktemp -d)"
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
  local acerl="$PACK/bin/acerl"
  echo "== probe"
  date -u; nvidia-smi -L 2>/dev/null || echo "nvidia-smi: none"
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "devices", torch.cuda.device_count())'
  "$acerl" --version

  echo "== gpu tests (kernels, sampler, logits vs transformers, gradients, generation)"
  local t0=$SECONDS tests_rc=0
  "$PACK/bin/acerl_tests" "[gpu]" || tests_rc=$?
  local tests_s=$((SECONDS - t0))
  echo "gpu tests: exit $tests_rc (77 = skipped: no device) in ${tests_s}s"

  echo "== quickstart model end to end on $device: SFT then RL"
  local ini="$ROOT/inputs/quickstart/quickstart.ini" run="$work/e2e" e2e_rc=0
  (
    cd "$ROOT"
    "$acerl" data synth --output "$run/data" >/dev/null
    "$acerl" sft "$ini" --run.device="$device" --run.dir="$run/sft" --data.path="$run/data/sft.jsonl" \
      --sft.max_steps=30 --log.interval=10 | grep -E "device|precision|step" | head -20
    "$acerl" rl "$ini" --run.device="$device" --run.dir="$run/rl" \
      --model.path="$run/sft/checkpoints/$(cat "$run/sft/checkpoints/latest")" \
      --data.path="$run/data/rl.jsonl" --rl.steps=4 --log.interval=1 | grep -E "device|step" | head -20
    "$acerl" trace "$run/sft/trace.h5" > "$out/sft_trace.txt"
    "$acerl" trace "$run/rl/trace.h5" > "$out/rl_trace.txt"
  ) || e2e_rc=$?
  echo "end to end: exit $e2e_rc"
  cat "$out/sft_trace.txt" "$out/rl_trace.txt" 2>/dev/null | grep -E "loss|step_time|tokens_per_s|entropy|time_" || true

  "$py" - "$out" "$tests_rc" "$tests_s" "$e2e_rc" "$device" <<'EOF'
import json, sys
out, tests_rc, tests_s, e2e_rc, device = sys.argv[1:6]
summary = {"device": device, "gpu_tests_exit": int(tests_rc), "gpu_tests_seconds": int(tests_s),
           "end_to_end_exit": int(e2e_rc)}
for phase in ("sft", "rl"):
    try:
        summary[phase + "_trace"] = open(f"{out}/{phase}_trace.txt").read()
    except OSError:
        pass
json.dump(summary, open(f"{out}/gpu_check.json", "w"), indent=1)
print(json.dumps({k: v for k, v in summary.items() if not k.endswith("_trace")}))
EOF
  rm -rf "$work"
  [ "$tests_rc" -eq 0 ] || [ "$tests_rc" -eq 77 -a "$device" = cpu ] || exit 1
  [ "$e2e_rc" -eq 0 ] || exit 1
}

case "$mode" in
  pack) pack ;;
  run) run ;;
  *) sed -n '2,16p' "$0"; exit 2 ;;
esac
