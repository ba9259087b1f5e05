#!/usr/bin/env bash
# The whole pair restarted (both daemons killed -9, then started again): the member comes back
# with all its sessions and the connected client resumes with its token, same address and index
# (assert_failover_outcome: a fresh ping through the tunnel, the gap within RESTART_GAP_MS, every
# session's index and address unchanged, the other node not holding the member's addresses).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

# The client's gap spans two daemon start-ups and openconnect's own reconnect back-off (it
# waits longer between attempts while nothing answers), so its bound is the restart's own.
RESTART_GAP_MS=${RESTART_GAP_MS:-30000}

pair_with_client dtls
ip1=$TD_IP1
old=$TD_ACT
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 1.5 # the standby has the session and its latest counters

step "kill -9 both daemons"
failover_begin "$old"
kill -KILL "${TD_NODE_PID[a]}" "${TD_NODE_PID[b]}"
wait_for 5 "both daemons gone" bash -c "! kill -0 ${TD_NODE_PID[a]} 2>/dev/null && ! kill -0 ${TD_NODE_PID[b]} 2>/dev/null"
start_pair
act=$(active_node)
for n in a b; do
  assert_eq 1 "$(nctl "$n" show sessions --json | jq '.sessions | length')" "sessions on node $n"
done
wait_resumed "$act" 40
# When the same node is active again, there is no old active to have released anything.
assert_failover_outcome "$old" "$act" "$ip1" "$TD_INDEX" "$RESTART_GAP_MS"
stop_ping_stream p
td_alive "$(client_pid c1)" || fail "openconnect exited"
