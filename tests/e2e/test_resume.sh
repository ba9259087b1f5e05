#!/usr/bin/env bash
# Scenario 3: the client's TLS connection is lost (TCP socket destroyed with ss -K, then a
# SIGUSR2 forced reconnect); openconnect reconnects with its token and must get the same
# session back: same index, same address, traffic flowing again, no second login.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

connects() { count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200'; }
reconnected() { (($(connects) > $1)); }

check_resumed() { # PHASE N: the N-th resume of the session
  local line
  line=$(wait_log 30 session_resumed "index=$index( |$)" "$2")
  assert_eq "$ip" "$(field ip "$line")" "$1: session_resumed ip"
  assert_eq alice "$(field user "$line")" "$1: session_resumed user"
  wait_for 30 "$1: openconnect's CONNECT answered again" reconnected "$3"
  td_alive "$(client_pid c1)" || fail "$1: openconnect exited instead of resuming"
  assert_not_contains "$(client_log c1)" 'Reconnect gave different' "$1: client address"
  assert_eq "$ip" "$(client_ip c1)" "$1: client tun address after the resume"
  assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
}

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
assert_eq "$ip" "$(field ip "$line")" "login_ok ip"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

step "phase 1: destroy the client's TCP connection (ss -K)"
before=$(connects)
kill_client_tcp "$TD_NS_CLIENT"
check_resumed "ss -K" 1 "$before"

step "phase 2: SIGUSR2 (client drops the connection and reconnects)"
before=$(connects)
kill -USR2 "$(client_pid c1)"
check_resumed SIGUSR2 2 "$before"

assert_eq 1 "$(log_count login_ok)" "number of logins (resumes must not log in again)"
assert_eq 0 "$(log_count session_end)" "sessions ended during resumes"

stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index( |$)")
assert_eq logout "$(field reason "$line")" "session_end reason"
stop_tandemd
