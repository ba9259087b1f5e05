#!/usr/bin/env bash
# The project's test command: install and build (deploy/setup.sh), then the unit tests, then the
# end-to-end tests (real openconnect in network namespaces; needs root). Exits non-zero if any
# test failed. Environment: TANDEM_BUILD_DIR (default <repo>/build).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TANDEM_BUILD_DIR:-$repo/build}
export TANDEM_BUILD_DIR=$build_dir

bash "$repo/deploy/setup.sh"

failed=()
echo "[tests] unit tests"
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L unit -j"$(nproc)" ||
  failed+=(unit)

# One at a time: every e2e test builds the same addresses inside its own namespaces, and each
# one's wall time is bounded by its own watchdog (240 s) below this timeout.
echo "[tests] end-to-end tests"
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L e2e -j1 --timeout 300 ||
  failed+=(e2e)

if ((${#failed[@]})); then
  echo "[tests] FAILED: ${failed[*]}"
  exit 1
fi
echo "[tests] all passed"
