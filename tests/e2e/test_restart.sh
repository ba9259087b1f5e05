#!/usr/bin/env bash
# A standalone node killed with -9 and restarted comes back with all its sessions (the RocksDB
# store): the connected client resumes with its token, same address and session index, and a
# second session that only holds a token (no tunnel) is still there too.
source "$(dirname "$0")/lib.sh"

setup_topology
add_user alice secret-a
add_user bob secret-b
write_config
start_tandemd
start_client c1 alice secret-a
wait_tunnel c1
ip1=$(client_ip c1)
index=$(sessions_jq '.sessions[0].index')
authenticate a1 bob secret-b # a second session: token only, never connected
bob_index=$(sessions_jq '.sessions[] | select(.username == "bob") | .index')
step "sessions before the crash: alice index $index ($ip1), bob index $bob_index"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.1
sleep 1

step "kill -9 tandemd and start it again"
kill -KILL "$TD_TANDEMD_PID"
wait_for 5 "tandemd gone" td_not_alive "$TD_TANDEMD_PID"
mv "$TD_TANDEMD_LOG" "$TD_DIR/tandemd-before.log"
start_tandemd
assert_contains "$TD_TANDEMD_LOG" ' listening .* sessions=2( |$)' "both sessions restored at start-up"
wait_for 40 "alice's session resumed" bash -c "grep -q 'session_resumed index=$index ' '$TD_TANDEMD_LOG'"
wait_for 10 "ping through the tunnel again" ping_inside
assert_eq "$ip1" "$(client_ip c1)" "client address after the restart"
assert_eq "$bob_index" "$(sessions_jq '.sessions[] | select(.username == "bob") | .index')" \
  "bob's token-only session survived"
stop_ping_stream p
ping_stream_stats p 100
step "restart gap: longest silence ${TD_PING_GAP_MS} ms, lost $TD_PING_LOST of $TD_PING_SENT"
# bob's token still opens a tunnel on the restarted node.
start_client_cookie c2 "webvpn=$TD_TOKEN"
wait_tunnel c2
