#!/usr/bin/env bash
# acerl setup: installs what a fresh Debian 12 machine lacks, then configures and builds.
# Idempotent and quiet when everything is already in place.
#
#   tools/setup.sh [--no-build] [-- extra cmake arguments]
#
# Environment (all optional):
#   ACERL_CACHE      cache root outside the checkout (default ${XDG_CACHE_HOME:-~/.cache}/acerl):
#                    holds the Python venv (torch wheel ~ several GB) and the ccache directory,
#                    so fresh clones on the same machine reuse both.
#   ACERL_BUILD_DIR  build directory (default <checkout>/build)
#   ACERL_JOBS       parallel build jobs (default: number of cores)
#   ACERL_PYTHON_BASE  interpreter used to create the venv (default python3)
#   ACERL_CUDA       auto (default): build the GPU path (-DACERL_WITH_CUDA=ON -DACERL_WITH_NCCL=ON)
#                    when nvcc and nccl.h are found, no GPU needed to build; 1: require it; 0: CPU only
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACERL_CACHE="${ACERL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acerl}"
BUILD_DIR="${ACERL_BUILD_DIR:-$ROOT/build}"
VENV="$ACERL_CACHE/venv"
JOBS="${ACERL_JOBS:-$(nproc)}"
BUILD=1
EXTRA_CMAKE=()
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --) shift; EXTRA_CMAKE=("$@"); break ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "setup: $*"; }

# ---- 1. system packages (Debian/Ubuntu apt) ----
APT_PACKAGES=(
  build-essential cmake ninja-build ccache git pkg-config
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libboost-program-options-dev catch2 bubblewrap environment-modules
  python3 python3-venv procps
  # the batch-system tests: a one-node Slurm (tools/slurm_local.sh), its PBS commands, Lua for
  # the Lmod modulefile
  munge slurmctld slurmd slurm-client slurm-wlm-torque lua5.3
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || { echo "setup: missing ${missing[*]} and no apt-get; install them by hand" >&2; exit 1; }
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  say "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---- 2. Python venv with the pinned wheels (LibTorch comes from the torch wheel) ----
REQ="$ROOT/tools/requirements.txt"
STAMP="$VENV/.acerl-requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the Python venv in $VENV"
  mkdir -p "$ACERL_CACHE"
  "${ACERL_PYTHON_BASE:-python3}" -m venv "$VENV"
fi
if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  say "installing Python packages into $VENV (the torch wheel is large; first time only)"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$STAMP"
fi

# ---- 3. configure and build ----
[ "$BUILD" -eq 1 ] || exit 0
export CCACHE_DIR="${CCACHE_DIR:-$ACERL_CACHE/ccache}"
mkdir -p "$CCACHE_DIR"
ccache -M 8G >/dev/null 2>&1 || true
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
# The GPU path compiles and links without a GPU: build it whenever the toolkit is here, so the
# test suite runs the same binary (with run.device = auto -> cpu) that a GPU node runs.
CUDA_ARGS=()
NVCC="$(command -v nvcc || true)"
[ -n "$NVCC" ] || { [ -x /usr/local/cuda/bin/nvcc ] && NVCC=/usr/local/cuda/bin/nvcc; }
case "${ACERL_CUDA:-auto}" in
  0) CUDA_ARGS=(-DACERL_WITH_CUDA=OFF -DACERL_WITH_NCCL=OFF) ;;
  1|auto)
    if [ -n "$NVCC" ] && [ -f "$(dirname "$NVCC")/../include/nccl.h" -o -n "${NCCL_HOME:-}" ]; then
      CUDA_ARGS=(-DACERL_WITH_CUDA=ON -DACERL_WITH_NCCL=ON -DCMAKE_CUDA_COMPILER="$NVCC")
    elif [ "${ACERL_CUDA:-auto}" = 1 ]; then
      echo "setup: ACERL_CUDA=1 but nvcc and nccl.h were not found (set PATH or NCCL_HOME)" >&2; exit 1
    fi ;;
  *) echo "setup: ACERL_CUDA must be auto, 0 or 1" >&2; exit 2 ;;
esac
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ] || [ ${#EXTRA_CMAKE[@]} -gt 0 ]; then
  say "configuring $BUILD_DIR"
  mkdir -p "$BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" "${GEN[@]}" -DACERL_PYTHON="$VENV/bin/python" \
    "${CUDA_ARGS[@]}" "${EXTRA_CMAKE[@]}" > "$BUILD_DIR/configure.log" 2>&1 \
    || { cat "$BUILD_DIR/configure.log" >&2; exit 1; }
fi
cmake --build "$BUILD_DIR" -j "$JOBS" -- $( [ ${#GEN[@]} -gt 0 ] && echo "--quiet" ) \
  || { echo "setup: build failed" >&2; exit 1; }
