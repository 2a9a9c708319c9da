#!/usr/bin/env bash
# The whole test suite on this machine: setup (installs what is missing, builds), then CTest.
#   jobs/local/test.sh [ctest arguments, e.g. -L unit or -R h5]
# ACERL_SANITIZE=1 also builds build-asan/ with AddressSanitizer + UBSan and runs the unit tests
# there (CI's .ci/run sets it: about 23 minutes more on 2 cores, see README).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${ACERL_BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# The batch-system tests need a Slurm: start the local one-node cluster (root only) and stop it
# at the end if this script started it. Elsewhere those tests fail unless ACERL_TEST_NO_SLURM=1
# marks them skipped.
if [ "$(id -u)" -eq 0 ] && ! "$ROOT/tools/slurm_local.sh" status >/dev/null 2>&1; then
  "$ROOT/tools/slurm_local.sh" start
  trap '"$ROOT/tools/slurm_local.sh" stop' EXIT
fi
cd "$BUILD_DIR"
ctest --output-on-failure -j "${ACERL_TEST_JOBS:-2}" "$@"
if [ "${ACERL_SANITIZE:-0}" = 1 ]; then
  ACERL_BUILD_DIR="$ROOT/build-asan" "$ROOT/tools/setup.sh" -- -DACERL_SANITIZE=ON -DACERL_PCH=OFF \
    -DACERL_WITH_CUDA=OFF -DACERL_WITH_NCCL=OFF
  cd "$ROOT/build-asan" && ctest --output-on-failure -L unit -j 2
fi
