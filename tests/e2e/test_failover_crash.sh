#!/usr/bin/env bash
# Crash failover (S17, S18): kill -9 the active while a real openconnect client pings through the
# tunnel every 50 ms. The standby must promote (within hold_time, or at once when the dead
# process's port refuses), and after it (assert_failover_outcome) a fresh ping through the tunnel
# is answered, the client's gap (trailing silence included) is within hold_time + 1 s, the dead
# node holds neither member address, every session keeps its index and address, and counters
# continue. Then the killed node restarts, rejoins as standby, catches up (lag 0), and a planned
# failover back meets the planned bound.
#   $1: dtls | tls | legacy (DTLS 1.2 resumption, Cisco's mode)      $2: process (daemon killed, node up) | machine (daemon killed, links cut)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

MODE=${1:-dtls}
CRASH=${2:-process}
TD_HOLD=${TD_HOLD:-2s}
pair_with_client "$MODE"
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 2
rx_before=$(session_field "$act" bytes_rx)
sleep 1.2 # counters reach the standby about once a second

step "CRASH ($CRASH): kill -9 node $act"
failover_begin "$act"
if [[ $CRASH == machine ]]; then
  # The machine is gone, not just the daemon: its links go first, so that nothing the dying
  # process's kernel sends (FINs, resets) reaches anyone.
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}o" down
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}i" down
fi
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$(td_crash_gap_bound_ms)"
if [[ $MODE == legacy ]]; then
  # The new active never saw this client's master secret: the client's CONNECT brought it.
  wait_for 20 "legacy DTLS on node $stb" grep -q "tunnel_up index=$index .*kind=dtls" "$(node_log "$stb")"
  line=$(grep -m1 "tunnel_up index=$index .*kind=dtls" "$(node_log "$stb")")
  [[ $line == *cipher=AES256-GCM-SHA384* ]] || fail "DTLS on node $stb is not the legacy suite: $line"
  step "legacy DTLS rebuilt on node $stb: ${line##*cipher=}"
fi
rx_after=$(nctl "$stb" show sessions --json | jq -r '.sessions[0].bytes_rx')
((rx_after > rx_before)) || fail "counters did not continue: rx $rx_before -> $rx_after"
step "counters continued: bytes_rx $rx_before -> $rx_after"

# The killed node comes back, rejoins as standby and catches up.
if [[ $CRASH == machine ]]; then
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}o" up
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}i" up
fi
start_node "$act"
wait_for 20 "node $act following node $stb" td_following "$act"
wait_for 10 "node $act caught up (lag 0)" td_caught_up "$act"
td_has_vip "$act" && fail "the restarted node holds the service address"
step "node $act rejoined as standby: $(node_status "$act" | jq -c '{role, epoch, peer_state, replication_lag_seq}')"

failover_begin "$stb"
out=$(nctl "$stb" failover) || fail "failover back: $out"
step "failover back: $out"
wait_resumed "$act"
assert_failover_outcome "$stb" "$act" "$ip1" "$index" "$TD_PLANNED_GAP_MS"
stop_ping_stream p
ping_stream_stats p 50
step "pings over the whole test: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost"
td_alive "$(client_pid c1)" || fail "openconnect exited"
