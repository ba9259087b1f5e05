#!/usr/bin/env bash
# The tree under sanitizers (issue 9 item 7). Builds with a CMake preset into its own directory
# and runs the unit tests, then end-to-end pair tests against the instrumented tandemd.
#
#   bash tests/sanitize.sh asan [E2E_REGEX]   AddressSanitizer + UBSan (build-asan/)
#   bash tests/sanitize.sh tsan [E2E_REGEX]   ThreadSanitizer (build-tsan/)
#
# E2E_REGEX picks the end-to-end tests (ctest -R); default: the pair tests listed in $pair_tests
# below (planned and crash failover, pair restart, degraded, rogue peer, hostile user agent, the
# two arbiter tests with a real etcd, and the bulk logoff through the group commit). "none" runs
# only the unit tests.
# Only what these tests run is built (SANITIZE_TARGETS, "all" for the whole tree): an instrumented
# build of everything takes long on 2 cores.
# Any sanitizer report fails the run: in a unit test the process exits non-zero (ASan/UBSan/LSan
# exit 23, TSan 66); in an e2e test tests/e2e/lib.sh greps every log of the test's processes at
# the end (td_check_sanitizer_reports), so a report fails the test even when the daemon that
# printed it was stopped by the trap or died unnoticed. Debian's gRPC, protobuf, RocksDB and
# OpenSSL are not instrumented: races inside them are not seen. The recorded runs:
# tests/SANITIZERS.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
kind=${1:?usage: tests/sanitize.sh asan|tsan [E2E_REGEX]}
pair_tests='failover_planned$|failover_crash$|pair_restart|degraded|rogue_peer|hostile_user_agent'
pair_tests+='|arbiter_partition|arbiter_freeze|bulk_logoff'
e2e=${2:-$pair_tests}
targets=${SANITIZE_TARGETS:-unit_tests tandemd tandemctl tandem-peer-probe tandem_load}
case $kind in
  asan | tsan) ;;
  *) echo "usage: tests/sanitize.sh asan|tsan [E2E_REGEX]" >&2; exit 2 ;;
esac
build=$repo/build-$kind
TANDEM_SKIP_BUILD=1 bash "$repo/deploy/setup.sh" # packages only
t0=$SECONDS
cmake --preset "$kind" -S "$repo" >/dev/null
if [[ $targets == all ]]; then
  cmake --build "$build" -j2
else
  # shellcheck disable=SC2086  # a list of target names
  cmake --build "$build" -j2 --target $targets
fi
echo "[sanitize] $kind build: $((SECONDS - t0)) s"

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:exitcode=66:suppressions=$repo/tests/tsan.supp
# gRPC's and absl's own leaks at exit are not ours.
export LSAN_OPTIONS=suppressions=$repo/tests/sanitize.supp

t0=$SECONDS
ctest --test-dir "$build" --output-on-failure -L unit -j2
echo "[sanitize] $kind unit tests: $((SECONDS - t0)) s"
if [[ $e2e != none ]]; then
  t0=$SECONDS
  TANDEM_BUILD_DIR=$build ctest --test-dir "$build" --output-on-failure -L e2e -R "$e2e" -j1 \
    --timeout 600
  echo "[sanitize] $kind e2e ($e2e): $((SECONDS - t0)) s"
fi
echo "[sanitize] $kind: all passed"
