#!/usr/bin/env bash
# The README's first command: set up, then run the main job on the embedded defaults.
# For now the main job is `acerl --check` on 2 ranks: it proves the binary, MPI (a collective),
# LibTorch (a bf16 matmul checked against fp32) and parallel HDF5 (a file written collectively
# and read back) work on this machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${ACERL_BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
MPI_FLAGS=(--bind-to none)
mpirun --version 2>/dev/null | grep -q "Open MPI" && MPI_FLAGS+=(--oversubscribe)
[ "$(id -u)" -ne 0 ] || MPI_FLAGS+=(--allow-run-as-root)
RUN_DIR="${ACERL_RUN_DIR:-$BUILD_DIR/runs/quickstart}"
mpirun -n 2 "${MPI_FLAGS[@]}" "$BUILD_DIR/acerl" --check "$RUN_DIR"
