#!/usr/bin/env bash
# The whole test suite on this machine: setup (installs what is missing, builds), then CTest.
#   jobs/local/test.sh [ctest arguments, e.g. -L unit or -R h5]
# ACERL_SANITIZE=1 also builds build-asan/ with AddressSanitizer + UBSan and runs the unit tests
# there (opt-in: it doubles the build time, so CI's .ci/run does not set it; see README).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD_DIR="${ACERL_BUILD_DIR:-$ROOT/build}"
"$ROOT/tools/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$BUILD_DIR"
ctest --output-on-failure -j "${ACERL_TEST_JOBS:-2}" "$@"
if [ "${ACERL_SANITIZE:-0}" = 1 ]; then
  ACERL_BUILD_DIR="$ROOT/build-asan" "$ROOT/tools/setup.sh" -- -DACERL_SANITIZE=ON -DACERL_PCH=OFF
  cd "$ROOT/build-asan" && ctest --output-on-failure -L unit -j 2
fi
