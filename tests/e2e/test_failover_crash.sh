#!/usr/bin/env bash
# Crash failover (S17, S18): kill -9 the active while a real openconnect client pings through the
# tunnel every 50 ms. The standby must promote (within hold_time, or at once when the dead
# process's port refuses), the client must resume with the same address and session index, and
# the gap (longest silence between replies) is reported. Then the killed node restarts, rejoins
# as standby, catches up (lag 0), and a planned failover back works.
#   $1: dtls | tls      $2: process (daemon killed, node up) | machine (daemon killed, links cut)
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
if [[ $CRASH == machine ]]; then
  # The machine is gone, not just the daemon: its links go first, so that nothing the dying
  # process's kernel sends (FINs, resets) reaches anyone.
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}o" down
  ip -n "${TD_NODE_NS[$act]}" link set "${TD_IFP}${act}i" down
fi
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
sleep 2
assert_eq "$ip1" "$(client_ip c1)" "client address after the crash failover"
view=$(nctl "$stb" show sessions --json | jq -c '.sessions[0]')
assert_eq "$index" "$(jq -r .index <<<"$view")" "session index on the new active"
rx_after=$(jq -r .bytes_rx <<<"$view")
((rx_after > rx_before)) || fail "counters did not continue: rx $rx_before -> $rx_after"
step "counters continued: bytes_rx $rx_before -> $rx_after"
ping_stream_stats p 50
step "GAP crash failover ($MODE, $CRASH, hold_time $TD_HOLD): longest silence ${TD_PING_GAP_MS} ms, lost $TD_PING_LOST of $TD_PING_SENT"
hold_ms=$(($(sed 's/s$//' <<<"$TD_HOLD") * 1000))
((TD_PING_GAP_MS <= hold_ms + 1000)) ||
  fail "gap ${TD_PING_GAP_MS} ms is over hold_time + 1 s (${hold_ms} + 1000 ms)"

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

out=$(nctl "$stb" failover) || fail "failover back: $out"
step "failover back: $out"
wait_for 10 "node $act active again" td_is_active "$act"
wait_resumed "$act"
sleep 1
assert_eq "$ip1" "$(client_ip c1)" "client address after failing back"
stop_ping_stream p
ping_stream_stats p 50
step "pings over the whole test: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost"
td_alive "$(client_pid c1)" || fail "openconnect exited"
