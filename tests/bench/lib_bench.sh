# Shared by failover_bench.sh, cluster_bench.sh and scale_bench.sh: the command-line checks and
# the progress lines. BENCH_NAME names the script in what they print.
# shellcheck shell=bash

die() {
  printf '[%s] ERROR: %s\n' "$BENCH_NAME" "$*" >&2
  exit 2
}
int_arg() { # NAME VALUE MIN MAX
  [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || die "$1 must be an integer in $3..$4, got '$2'"
  printf '%s\n' "$2"
}

# Progress to stderr (stdout carries only the table), timed from TD_T0 (e2e/lib.sh). The scripts
# install it as `step` after sourcing e2e/lib.sh, whose own step it replaces.
bench_step() {
  local ms=$(($(td_now_ms) - TD_T0 / 1000))
  printf '[%s +%d.%03ds] %s\n' "$BENCH_NAME" $((ms / 1000)) $((ms % 1000)) "$*" >&2
}
