#!/usr/bin/env bash
# The data plane on one thread and on three (docs/data-plane.md, "Every core"). With [node]
# data_threads = 1 the I/O thread makes every TUN write and DTLS send itself; with 3, two data
# workers make them, each for its share of the flows and DTLS associations. Either way a 12 MiB
# transfer each way (sha256-checked), over DTLS and then over CSTP only, must arrive whole, the
# upload's packets must have been joined into TUN writes with none refused, and tandemd must say
# how many threads it runs the data plane on (and, with workers, have the threads for them).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bytes=$((12 * 1024 * 1024))
METRICS=$TD_SERVER_IP:9300

setup_topology
add_user alice 'correct horse'

# transfers CLIENT [OPENCONNECT_ARGS...]: one client, a round trip, checked; then it leaves.
transfers() {
  local id=$1 joined
  shift
  start_client "$id" alice 'correct horse' "$@"
  wait_tunnel "$id"
  if [[ $* != *--no-dtls* ]]; then wait_client_dtls "$id" >/dev/null; fi
  assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
  joined=$(metric tandem_tun_joined_writes_total)
  transfer_roundtrip "$TD_NS_CLIENT" "$bytes"
  td_alive "$(client_pid "$id")" || fail "client $id died during the transfer"
  poll_until 5 joined_more "$joined" ||
    fail "no client packets were joined into a TUN write during the upload"
  assert_eq 0 "$(metric tandem_tun_write_failures_total)" "TUN writes refused"
  assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
  stop_client "$id" INT
  assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
}
joined_more() { (($(metric tandem_tun_joined_writes_total) > $1)); }

threads_of() { find "/proc/$1/task" -mindepth 1 -maxdepth 1 | wc -l; }

# run_with THREADS: tandemd with that many data-plane threads, both transfers; prints the
# number of threads tandemd had.
run_with() {
  local n=$1 threads
  write_config
  sed -i "s/^tun_name = \"tandem0\"\$/&\ndata_threads = $n/" "$TD_CONFIG"
  grep -q "^data_threads = $n\$" "$TD_CONFIG" || fail "data_threads not set in $TD_CONFIG"
  set_metrics_listen "$METRICS"
  start_tandemd
  log_events listening | grep -q "data_threads=$n" ||
    fail "tandemd did not log data_threads=$n: $(log_events listening)"
  threads=$(threads_of "$TD_TANDEMD_PID")
  transfers "c$n-dtls"
  transfers "c$n-tls" --no-dtls
  td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
  stop_tandemd
  RUN_THREADS=$threads
}

run_with 1
one=$RUN_THREADS
run_with 3
three=$RUN_THREADS
step "tandemd had $one threads with data_threads = 1, $three with 3"
((three == one + 2)) || fail "expected two more threads (the workers) with data_threads = 3"
