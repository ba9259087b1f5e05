#!/usr/bin/env bash
# Issue 9 item 5c: a crash failover while the standby lags. tandem-load logs in SESSIONS sessions
# (20 at a time, each CONNECTed) against the pair while the standby is made to lag, and the active
# is killed -9 while its replication lag is above 0. Then every session a client was told of (a
# token tandem-load received) must be on the new active: each token resumes with 200 (none 401),
# and assert_failover_outcome holds for a real openconnect client pinging through its tunnel
# meanwhile (fresh ping, gap within hold_time + 1 s, addresses released, no session's index or
# address changed, every told session present).
#   $1: slowed  the standby's replication traffic throttled once a quarter of the logins are done
#               (this kernel has no netem: an HTB class at RATE for port TD_PEER_PORT, on its
#               outside interface, for its acks, and on the switch port towards it, for the
#               stream; client traffic is not slowed) until the active reports a lag of LAG_MIN
#               or THROTTLE_MS passed; removed once the new active is up
#       stopped the standby stopped (SIGSTOP) for STOP_MS during the logins, longer than the 1 s
#               the active waits for an acknowledgement (so logins are answered unacknowledged),
#               woken (SIGCONT), and the active killed right after (stopped plus the admin
#               calls before the wake come to about hold_time)
#
# TD_EXPECTED_DEFECT (daemon at 63971c6), mode `stopped` (3 runs of 3): the active answers
# logins unacknowledged after 1 s (login_ok ... replicated=no); the woken standby promotes at
# once, "the active was silent for hold_time" (the silence was its own), with those changes
# still unread in its stream, and then refuses them (replication_apply_failed seq=N
# reason="not a standby"). The told sessions are gone and the new active hands their indexes
# and addresses to new logins (the helper reports e.g. "session 64: 10.77.0.65 alice login
# 1796403111 -> 10.77.0.65 alice login 1796403117"); their tokens get 401.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_pair.sh"

LAG=${1:-slowed}
SESSIONS=${SESSIONS:-200}
RATE=${RATE:-16kbit}
THROTTLE_MS=${THROTTLE_MS:-1200} # at most: the stream carries the heartbeats too (hold_time 2 s)
LAG_MIN=${LAG_MIN:-5}
STOP_MS=${STOP_MS:-1800}
TD_HOLD=2s
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
setup_pair_topology
make_pair_pki
add_user alice secret-a
printf 'secret-a\n' >"$TD_DIR/password"
policy=$'[policy.default]\nsimultaneous_logins = 0'
# tandem-load logs in from one address: the per-address caps (docs/limits.md) are off here.
policy+=$'\n[limits]\nconnections_per_address = 0\ntls_handshakes_per_address = 0'
policy+=$'\nlogins_in_flight_per_address = 0'
write_node_config a "$policy"
write_node_config b "$policy"
start_pair
act=$(active_node)
stb=$(other_node "$act")
start_client c1 alice secret-a
wait_tunnel c1
ip1=$(client_ip c1)
index1=$(session_field "$act" index)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05

stb_if=${TD_IFP}${stb}o
# throttle on|off: the replication traffic (port TD_PEER_PORT either way) to and from the standby
# goes through an HTB class at RATE; everything else (clients) is not slowed.
throttle() {
  local ns dev
  if [[ $1 == on ]]; then
    for ns_dev in "${TD_NODE_NS[$stb]} $stb_if" "$TD_NS_SWITCH ${stb_if}s"; do
      read -r ns dev <<<"$ns_dev"
      ip netns exec "$ns" tc qdisc add dev "$dev" root handle 1: htb default 20
      ip netns exec "$ns" tc class add dev "$dev" parent 1: classid 1:10 htb rate "$RATE" ceil "$RATE"
      ip netns exec "$ns" tc class add dev "$dev" parent 1: classid 1:20 htb rate 1gbit
      for dir in sport dport; do
        ip netns exec "$ns" tc filter add dev "$dev" parent 1: protocol ip prio 1 u32 \
          match ip "$dir" "$TD_PEER_PORT" 0xffff flowid 1:10
      done
    done
  else
    ip netns exec "${TD_NODE_NS[$stb]}" tc qdisc del dev "$stb_if" root 2>/dev/null || true
    ip netns exec "$TD_NS_SWITCH" tc qdisc del dev "${stb_if}s" root 2>/dev/null || true
  fi
}
td_on_cleanup throttle off

step "load: $SESSIONS sessions as alice against $TD_SERVER_IP:$TD_PORT"
ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --user alice \
  --password-file "$TD_DIR/password" --sessions "$SESSIONS" --concurrency 20 --connect \
  --hold 0 --pin "$TD_PIN" --tokens-out "$TD_DIR/tokens" --step-timeout 5 --quiet \
  >"$TD_DIR/load.log" 2>&1 &
load_pid=$!
td_track "$load_pid"
td_tokens() {
  local n
  n=$(grep -c . "$TD_DIR/tokens" 2>/dev/null) || true
  echo "${n:-0}"
}
td_tokens_at_least() { (($(td_tokens) >= $1)); }
wait_for 60 "a quarter of the sessions created" td_tokens_at_least $((SESSIONS / 4))

if [[ $LAG == stopped ]]; then
  step "SIGSTOP node $stb for ${STOP_MS} ms while logins go on"
  kill -STOP "${TD_NODE_PID[$stb]}"
  sleep "$((STOP_MS / 1000)).$(printf '%03d' $((STOP_MS % 1000)))"
else
  # Slowed for a bounded time only: the heartbeats share the stream, and a standby that hears
  # nothing for hold_time promotes itself (the documented no-witness split).
  step "throttle node $stb's replication traffic to $RATE (htb) on $stb_if (out) and on the switch port to it (in)"
  throttle on
  t_thr=$(td_now_ms)
  td_lagging() {
    status=$(node_status "$act" | jq -c '{replication_lag_seq, replication_lag_ms, degraded}')
    (($(jq -r .replication_lag_seq <<<"$status") >= LAG_MIN))
  }
  until td_lagging || (($(td_now_ms) - t_thr >= THROTTLE_MS)); do sleep 0.05; done
fi
[[ $LAG == slowed ]] ||
  status=$(node_status "$act" | jq -c '{replication_lag_seq, replication_lag_ms, degraded}')
(($(jq -r .replication_lag_seq <<<"$status") > 0)) ||
  fail "the standby did not lag (node $act's status: $status): the scenario was not set up"
failover_begin "$act"
if [[ $LAG == stopped ]]; then
  kill -CONT "${TD_NODE_PID[$stb]}" # and the crash right after: the standby wakes with a backlog
  step "SIGCONT node $stb"
fi
kill -KILL "${TD_NODE_PID[$act]}"
cp "$TD_DIR/tokens" "$TD_DIR/tokens-at-crash"
[[ $LAG != slowed ]] || step "throttled for $(($(td_now_ms) - t_thr)) ms when the active was killed"
told_at_crash=$(td_tokens)
step "CRASH: kill -9 node $act with $told_at_crash tokens handed out; its status just before: $status"
unacked=$(grep -c 'login_ok .*persisted=local_only' "$(node_log "$act")" || true)
step "logins node $act answered without the standby's acknowledgement: $unacked"

wait_for 15 "node $stb active" td_is_active "$stb"
if [[ $LAG == slowed ]]; then
  # Promoted means the stream from the dead active has ended: nothing it sent is still queued.
  step "throttle queue towards node $stb: $(ip netns exec "$TD_NS_SWITCH" tc -s class show dev "${stb_if}s" classid 1:10 | grep -m1 -o 'backlog [^ ]*' || true)"
  throttle off
  step "throttle removed"
fi
wait_for 30 "the load client to finish" td_not_alive "$load_pid"
wait "$load_pid" || true # logins in flight at the crash fail; that is fine
told=$(td_tokens)
step "clients were told of $told sessions (load client: $(tail -n 3 "$TD_DIR/load.log" | tr '\n' ' '))"

TD_FO_TOLD=$TD_DIR/tokens-at-crash
assert_failover_outcome "$act" "$stb" "$ip1" "$index1" "$(td_crash_gap_bound_ms)"

step "resume every told token on node $stb"
if ! ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" \
  --resume-from "$TD_DIR/tokens" --retry-for 30 --pin "$TD_PIN" --concurrency 50 \
  --report-json "$TD_DIR/resume.json" >"$TD_DIR/resume.log" 2>&1; then
  cat "$TD_DIR/resume.log" >&2
  fail "some sessions a client was told of did not resume on the new active"
fi
step "resumed: $(tail -n 4 "$TD_DIR/resume.log" | tr '\n' ' ')"
assert_eq 0 "$(grep -c 'connect_refused.*status=401' "$(node_log "$stb")" || true)" \
  "tokens refused with 401 on the new active (sessions lost)"
step "LAG FAILOVER ($LAG): $told sessions told to clients, all on node $stb; lag at the crash: $status; $unacked logins answered unacknowledged"
td_alive "$(client_pid c1)" || fail "openconnect exited"
