#!/usr/bin/env bash
# S14/§7.1: simultaneous_logins = 1. alice is connected on client A; a second login as alice from
# client B (another namespace) logs the oldest session off: A's session ends with
# reason=simultaneous_login, A is told with a CSTP DISCONNECT and exits (code 1, "Session
# terminated by server") without trying to reconnect; B keeps working.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_topology
add_client2_ns
add_user alice 'correct horse'
write_config "
[policy.default]
simultaneous_logins = 1
"
start_tandemd

start_client a alice 'correct horse'
wait_tunnel a
ip_a=$(client_ip a)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index_a=$(field index "$line")
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "A's public address"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

t_b=$(td_now_ms)
start_client --ns "$TD_NS_CLIENT2" b alice 'correct horse'
line=$(wait_log 15 session_end "index=$index_a( |$)")
step "A's session ended $(($(log_ms "$line") - t_b)) ms after B started: $line"
assert_eq simultaneous_login "$(field reason "$line")" "A's session_end reason"
assert_eq "$ip_a" "$(field ip "$line")" "A's session_end ip"

wait_tunnel b
line=$(wait_log 5 login_ok 'user=alice( |$)' 2)
index_b=$(field index "$line")
assert_ne "$index_a" "$index_b" "B's session index"
assert_match "$(field public "$line")" '^10\.202\.0\.2:[0-9]+$' "B's public address"

client_wait_exit a 15
assert_eq 1 "$TD_RC" "A's openconnect exit code (server DISCONNECT)"
assert_contains "$(client_log a)" 'Received server disconnect|Session terminated by server' \
  "A was told by the server"
assert_eq 1 "$(count_in "$(client_log a)" 'Got CONNECT response')" "CONNECTs made by A (no retry)"
assert_eq 1 "$(count_in "$(client_log a)" 'SSL negotiation with')" "TLS connections made by A"
sleep 1
assert_eq 0 "$(log_count connect_refused)" "refused CONNECTs (A must not come back)"

assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
assert_ping "$TD_NS_INSIDE" "$(client_ip b)" 3
assert_eq 1 "$(log_count session_end)" "sessions ended"
td_alive "$(client_pid b)" || fail "B's openconnect exited"
stop_client b INT
assert_eq 0 "$TD_RC" "B's exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index_b( |$)")
assert_eq logout "$(field reason "$line")" "B's session_end reason"
stop_tandemd
