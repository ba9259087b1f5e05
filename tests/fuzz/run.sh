#!/usr/bin/env bash
# Builds (if needed) and runs the libFuzzer targets with their seed corpus.
#
#   bash tests/fuzz/run.sh TARGET|all SECONDS
#
# TARGET is one of the names in tests/fuzz/CMakeLists.txt (http_request, config_auth, cstp_frames,
# dtls, session_record, replication, radius, tun_offload, tun_coalesce, config). Each target runs
# for SECONDS (-max_total_time) on a copy of tests/fuzz/corpus/TARGET in a temporary directory,
# so runs never grow the repository.
# Any finding (crash, sanitizer report, failed invariant, timeout, out-of-memory) fails the run;
# its input and the log are kept under a temporary directory that is printed.
#
# Environment: TANDEM_FUZZ_BUILD_DIR (default <repo>/build-fuzz), FUZZ_JOBS (build parallelism),
# FUZZ_ARGS (extra libFuzzer flags). Needs clang 14 and libclang-rt-14-dev (deploy/setup.sh).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
all_targets=(http_request config_auth cstp_frames dtls session_record replication radius tun_offload tun_coalesce config)
usage() {
  echo "usage: tests/fuzz/run.sh TARGET|all SECONDS   (targets: ${all_targets[*]})" >&2
  exit 2
}
(($# == 2)) || usage
[[ $2 =~ ^[0-9]+$ ]] && (($2 > 0)) || usage
seconds=$2
if [[ $1 == all ]]; then
  targets=("${all_targets[@]}")
else
  [[ " ${all_targets[*]} " == *" $1 "* ]] || usage
  targets=("$1")
fi
build=${TANDEM_FUZZ_BUILD_DIR:-$repo/build-fuzz}

say() { printf '[fuzz] %s\n' "$*"; }

# --- build (incremental; ccache makes a fresh tree cheap too) ----------------------------------
t0=$SECONDS
if [[ ! -f $build/CMakeCache.txt ]]; then
  CC=clang CXX=clang++ cmake --preset fuzz -S "$repo" -B "$build" >/dev/null
fi
cmake --build "$build" ${FUZZ_JOBS:+-j "$FUZZ_JOBS"} --target "${targets[@]/#/fuzz_}"
say "build: $((SECONDS - t0)) s"

# --- run ---------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")
scratch_base=/dev/shm
[[ -d $scratch_base && -w $scratch_base ]] || scratch_base=$work
scratch=$(mktemp -d "$scratch_base/tandem-fuzz-scratch.XXXXXX")
keep=0
cleanup() {
  rm -rf "$scratch"
  if ((keep)); then say "findings and logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# Allocations that live until exit inside libraries we do not own (as tests/sanitize.sh).
export LSAN_OPTIONS=suppressions=$repo/tests/sanitize.supp
export TANDEM_FUZZ_SCRATCH=$scratch

declare -A max_len=([http_request]=20000 [config_auth]=16384 [config]=16384)
# The two targets with a RocksDB store that lives across inputs: libFuzzer's per-input leak check
# would scan the store's growing heap after most inputs (3x slower). Leaks are still reported
# when the process exits.
declare -A extra=([session_record]=-detect_leaks=0 [replication]=-detect_leaks=0)
rows=()
failed=()
for t in "${targets[@]}"; do
  corpus=$work/$t/corpus
  artifacts=$work/$t/artifacts
  mkdir -p "$corpus" "$artifacts"
  cp -r "$repo/tests/fuzz/corpus/$t/." "$corpus/"
  seeds=$(find "$corpus" -type f | wc -l)
  args=(-max_total_time="$seconds" -timeout=25 -rss_limit_mb=4096 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  [[ -f $repo/tests/fuzz/dict/$t.dict ]] && args+=(-dict="$repo/tests/fuzz/dict/$t.dict")
  [[ -n ${max_len[$t]:-} ]] && args+=(-max_len="${max_len[$t]}")
  [[ -n ${extra[$t]:-} ]] && args+=("${extra[$t]}")
  # shellcheck disable=SC2206
  args+=(${FUZZ_ARGS:-})
  log=$work/$t/fuzz.log
  say "$t: ${seconds} s from $seeds seeds"
  rc=0
  "$build/tests/fuzz/fuzz_$t" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  # A finding in the seeds stops libFuzzer before it prints any of these: none may end the run.
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1) || true
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1) || true
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2) || true
  size=$(find "$corpus" -type f | wc -l)
  findings=$(find "$artifacts" -type f | wc -l)
  if ((rc == 0 && findings == 0)); then
    result=ok
  else
    result="FINDING (exit $rc)"
    failed+=("$t")
    keep=1
    say "$t: finding; log $log"
    grep -E 'ERROR|==FUZZ_CHECK==|SUMMARY|Test unit written|deadly signal|leak' "$log" | head -20 | sed 's/^/[fuzz]   /' || true
    find "$artifacts" -type f | sed 's/^/[fuzz]   input: /'
    # The replication target keeps the inputs since its store was last made fresh: replaying
    # them all in order (one process) reproduces a finding that depends on the earlier ones.
    for h in "$scratch"/*/history; do
      [[ -d $h ]] || continue
      cp -r "$h" "$work/$t/history"
      say "  replay: $build/tests/fuzz/fuzz_$t $work/$t/history/*  (the last one is the input above)"
    done
  fi
  rows+=("$(printf '| %-14s | %4s | %10s | %6s | %5s | %4s -> %-5s | %s |' "$t" "$seconds" "${execs:-?}" \
    "${rate:-?}" "${cov:-?}" "$seeds" "$size" "$result")")
done

echo
echo "| target         | s    | executions | exec/s | cov   | corpus        | result |"
echo "|----------------|------|------------|--------|-------|---------------|--------|"
printf '%s\n' "${rows[@]}"
echo
if ((${#failed[@]})); then
  say "FAILED: ${failed[*]}"
  exit 1
fi
say "no findings (${#targets[@]} target(s), ${seconds} s each)"
