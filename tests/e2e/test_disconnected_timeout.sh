#!/usr/bin/env bash
# S5/S6/S8/§7.2: a client that goes silent (openconnect frozen with SIGSTOP) loses its tunnel to
# DPD; the session then waits to resume for disconnected_timeout (3 s here, its own setting,
# with the idle timeout much larger) and no longer: it is removed and its address freed. When
# the client wakes up, its reconnect must be refused with 401 (the only "stop now" answer), so
# openconnect exits with code 2 instead of retrying for minutes. The freed address goes to the
# next login.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dpd_s=2
disc_s=3

setup_topology
add_client2_ns
add_user alice 'correct horse'
add_user bob 'bob pw'
write_config "
[policy.default]
dpd_interval = \"${dpd_s}s\"
disconnected_timeout = \"${disc_s}s\"
idle_timeout = \"60s\"
"
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
assert_contains "$(client_log c1)" "X-CSTP-Disconnected-Timeout: $disc_s\$" \
  "advertised disconnected timeout"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

step "SIGSTOP openconnect (pid $(client_pid c1))"
t_stop=$(td_now_ms)
kill -STOP "$(client_pid c1)"
line=$(wait_log $((4 * dpd_s + 4)) tunnel_down "index=$index .*kind=ssl")
assert_eq dpd "$(field reason "$line")" "reason the SSL tunnel went down"
line=$(wait_log 2 session_waiting "index=$index( |$)")
t_wait=$(log_ms "$line")
step "session waiting $((t_wait - t_stop)) ms after SIGSTOP: $line"
assert_eq 0 "$(log_count session_end)" "sessions ended by DPD itself"

line=$(wait_log $((disc_s + 3)) session_end "index=$index( |$)")
t_end=$(log_ms "$line")
waited=$((t_end - t_wait))
step "session_end $waited ms after session_waiting: $line"
assert_eq disconnected_timeout "$(field reason "$line")" "session_end reason"
assert_eq "$ip" "$(field ip "$line")" "session_end ip"
# Not before the timeout; after it by at most the sweep period (250 ms) plus slack.
((waited >= disc_s * 1000)) || fail "session removed after $waited ms (< ${disc_s}s)"
((waited <= disc_s * 1000 + 1000)) || fail "session removed only after $waited ms"

step "SIGCONT openconnect"
kill -CONT "$(client_pid c1)"
line=$(wait_log 30 connect_refused 'status=401')
step "reconnect refused: $line"
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "refused client's address"
client_wait_exit c1 15
assert_eq 2 "$TD_RC" "openconnect exit code after a 401 on reconnect"
assert_contains "$(client_log c1)" 'Cookie was rejected|no longer valid' "client's reason to stop"
assert_eq 1 "$(count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200')" \
  "successful CONNECTs of the expired client"
assert_eq 0 "$(log_count session_resumed)" "resumes of the expired session"

# The address went back to the pool: the next login (lowest free address) gets it.
start_client --ns "$TD_NS_CLIENT2" c2 bob 'bob pw'
wait_tunnel c2
assert_eq "$ip" "$(client_ip c2)" "next client's address (the expired session's, freed)"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
stop_client c2 INT
stop_tandemd
