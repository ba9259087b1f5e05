#!/usr/bin/env bash
# The project's test command: install and build (deploy/setup.sh), then the unit tests, the fuzz
# targets (short form), then the end-to-end tests (real openconnect in network namespaces; needs
# root). Exits non-zero if any test failed. Environment: TANDEM_BUILD_DIR (default <repo>/build),
# TANDEM_FUZZ_SECONDS (per fuzz target, default 20).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TANDEM_BUILD_DIR:-$repo/build}
export TANDEM_BUILD_DIR=$build_dir

bash "$repo/deploy/setup.sh"

failed=()
echo "[tests] unit tests"
ctest --test-dir "$build_dir" --output-on-failure --no-tests=error -L unit -j"$(nproc)" ||
  failed+=(unit)

# The libFuzzer targets, short form: each for about 20 s on its seed corpus, in their own clang
# ASan+UBSan tree (build-fuzz, incremental with ccache). tests/fuzz/RESULTS.md has the long runs.
echo "[tests] fuzz targets, ${TANDEM_FUZZ_SECONDS:-20} s each"
bash "$repo/tests/fuzz/run.sh" all "${TANDEM_FUZZ_SECONDS:-20}" || failed+=(fuzz)

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
