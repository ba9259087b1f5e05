#!/usr/bin/env bash
# The whole pair restarted (both daemons killed -9, then started again): the member comes back
# with all its sessions and the connected client resumes with its token, same address and index.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

pair_with_client dtls
ip1=$TD_IP1
sleep 1.5 # the standby has the session and its latest counters

step "kill -9 both daemons"
kill -KILL "${TD_NODE_PID[a]}" "${TD_NODE_PID[b]}"
wait_for 5 "both daemons gone" bash -c "! kill -0 ${TD_NODE_PID[a]} 2>/dev/null && ! kill -0 ${TD_NODE_PID[b]} 2>/dev/null"
start_pair
act=$(active_node)
for n in a b; do
  assert_eq 1 "$(nctl "$n" show sessions --json | jq '.sessions | length')" "sessions on node $n"
done
wait_resumed "$act" 40
wait_for 10 "ping through the tunnel again" ping_inside
assert_eq "$ip1" "$(client_ip c1)" "client address after the pair restart"
td_alive "$(client_pid c1)" || fail "openconnect exited"
