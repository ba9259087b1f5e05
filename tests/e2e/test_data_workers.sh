#!/usr/bin/env bash
# The data plane on one thread and on three (docs/data-plane.md, "Every core"). With [node]
# data_threads = 1 the I/O thread makes every TUN write and DTLS send itself; with 3, two data
# workers make them, each for its share of the flows and DTLS associations. Either way a 12 MiB
# transfer each way (sha256-checked), over DTLS and then over CSTP only, must arrive whole, the
# upload's packets must have been joined into TUN writes with none refused, and tandemd must say
# how many threads it runs the data plane on and have that many minus one workers (its threads
# named tandem-data), which seal the download's DTLS records: two sessions in a row, one share
# each (by session index), so each worker seals one session's download.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bytes=$((12 * 1024 * 1024))
METRICS=$TD_SERVER_IP:9300

setup_topology
add_user alice 'correct horse'

# transfers CLIENT BYTES [OPENCONNECT_ARGS...]: one client, a round trip of BYTES each way,
# checked; then it leaves.
transfers() {
  local id=$1 size=$2 joined
  shift 2
  start_client "$id" alice 'correct horse' "$@"
  wait_tunnel "$id"
  if [[ $* != *--no-dtls* ]]; then wait_client_dtls "$id" >/dev/null; fi
  assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
  joined=$(metric tandem_tun_joined_writes_total)
  transfer_roundtrip "$TD_NS_CLIENT" "$size"
  td_alive "$(client_pid "$id")" || fail "client $id died during the transfer"
  poll_until 5 joined_more "$joined" ||
    fail "no client packets were joined into a TUN write during the upload"
  assert_eq 0 "$(metric tandem_tun_write_failures_total)" "TUN writes refused"
  assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
  stop_client "$id" INT
  assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
}
joined_more() { (($(metric tandem_tun_joined_writes_total) > $1)); }

# The data workers of a process: its threads named tandem-data.
workers_of() { cat /proc/"$1"/task/*/comm 2>/dev/null | grep -c '^tandem-data$' || true; }

# Records handed to each worker to seal, one "WORKER COUNT" line per worker that seals.
sealed_by_worker() {
  ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics" |
    sed -n 's/^tandem_dtls_worker_sealed_records_total{worker="\([0-9]*\)"} \([0-9]*\)$/\1 \2/p'
}

# run_with THREADS: tandemd with that many data-plane threads (so THREADS - 1 workers), both
# transfers.
run_with() {
  local n=$1 workers sealed
  write_config
  sed -i "s/^tun_name = \"tandem0\"\$/&\ndata_threads = $n/" "$TD_CONFIG"
  grep -q "^data_threads = $n\$" "$TD_CONFIG" || fail "data_threads not set in $TD_CONFIG"
  set_metrics_listen "$METRICS"
  start_tandemd
  log_events listening | grep -q "data_threads=$n" ||
    fail "tandemd did not log data_threads=$n: $(log_events listening)"
  workers=$(workers_of "$TD_TANDEMD_PID")
  step "data_threads = $n: $workers data workers"
  assert_eq $((n - 1)) "$workers" "tandemd's threads named tandem-data"
  # Two DTLS sessions in a row, so consecutive session indexes. A 12 MiB download is about 9 000
  # to 11 000 DTLS records, 2 MiB about 1 500: with two workers each seals one session's (once
  # the client's first data made the records ours); without workers, the I/O thread seals all.
  transfers "c$n-dtls" "$bytes"
  transfers "c$n-dtls-b" $((2 * 1024 * 1024))
  sealed=$(sealed_by_worker)
  if ((n == 1)); then
    assert_eq "" "$sealed" "per-worker sealed records with data_threads = 1"
  else
    assert_eq $((n - 1)) "$(wc -l <<<"$sealed")" "workers counted in the sealed records"
    while read -r worker count; do
      ((count > 1000)) || fail "worker $worker sealed only $count DTLS records: $(tr '\n' ' ' <<<"$sealed")"
    done <<<"$sealed"
    step "data workers sealed DTLS records: $(tr '\n' ' ' <<<"$sealed")"
  fi
  transfers "c$n-tls" "$bytes" --no-dtls
  td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
  stop_tandemd
}

run_with 1
run_with 3
