#!/usr/bin/env bash
# S4/S6: idle_timeout 3 s, keepalive 1 s, dpd 2 s. Client A (alice) sends no data: its tunnel
# must be closed after the idle timeout (tunnel_down reason=idle_timeout) although its
# keepalives and DPD kept flowing, and it must be told (CSTP DISCONNECT, openconnect exits 1
# without reconnecting). The session then waits, with the idle timeout as its disconnected
# timeout, and is removed. Client B (bob, second namespace) pings every 500 ms over the same
# period (data over DTLS, so the SSL tunnel is idle but must stay up) and is not closed.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

idle_s=3

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
write_config "
[policy.default]
idle_timeout = \"${idle_s}s\"
keepalive = \"1s\"
dpd_interval = \"2s\"
"
start_tandemd

start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw'
wait_tunnel b
start_ping_stream pb "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 0.5
line=$(wait_log 5 login_ok 'user=bob( |$)')
index_b=$(field index "$line")

start_client a alice 'alice pw'
wait_tunnel a
line=$(wait_log 5 tunnel_up 'index=[0-9]+ tunnel=[0-9]+\.2 kind=ssl .*public=10\.200\.0\.2:')
index_a=$(field index "$line")
t_up=$(log_ms "$line")
assert_contains "$(client_log a)" "X-CSTP-Idle-Timeout: $idle_s\$" "advertised idle timeout"
assert_contains "$(client_log a)" 'CSTP connected\. DPD 2, Keepalive 1$' "client's CSTP timers"

line=$(wait_log $((idle_s + 5)) tunnel_down "index=$index_a .*kind=ssl")
t_down=$(log_ms "$line")
assert_eq idle_timeout "$(field reason "$line")" "reason A's SSL tunnel went down"
idle_ms=$((t_down - t_up))
step "A closed for idleness $idle_ms ms after its tunnel came up: $line"
((idle_ms >= idle_s * 1000)) || fail "A closed after $idle_ms ms (< idle timeout)"
((idle_ms <= idle_s * 1000 + 1000)) || fail "A closed only after $idle_ms ms"
line=$(wait_log 2 session_waiting "index=$index_a( |$)")
assert_eq idle_timeout "$(field reason "$line")" "A's session_waiting reason"

client_wait_exit a 10
assert_eq 1 "$TD_RC" "A's openconnect exit code (server DISCONNECT)"
assert_contains "$(client_log a)" 'Received server disconnect|Session terminated by server' \
  "A was told by the server"
assert_eq 1 "$(count_in "$(client_log a)" 'SSL negotiation with')" "TLS connections made by A"
# What A sent while idle: keepalives (and DPD answers) only, and they did not count.
kas=$(count_in "$(client_log a)" 'Send (CSTP|DTLS) Keepalive')
dpds=$(count_in "$(client_log a)" 'Send (CSTP|DTLS) DPD|Got (CSTP|DTLS) DPD request')
step "A sent $kas keepalives; $dpds DPD sends/requests seen, before it was closed"
((kas >= 2)) || fail "A sent only $kas keepalives: the scenario did not exercise them"

# S6: with no SSL tunnel the idle timeout acts as the disconnected timeout.
line=$(wait_log $((idle_s + 3)) session_end "index=$index_a( |$)")
assert_eq disconnected_timeout "$(field reason "$line")" "A's session_end reason"
step "A's session removed $(($(log_ms "$line") - t_down)) ms after its tunnel closed"

# B pinged through the whole period: more than twice the idle timeout since its login.
sleep 1
assert_eq 0 "$(log_count tunnel_down "index=$index_b( |$)")" "B's tunnels down"
assert_eq 0 "$(log_count session_waiting "index=$index_b( |$)")" "B's session waiting"
td_alive "$(client_pid b)" || fail "B's openconnect exited"
stop_ping_stream pb
ping_stream_stats pb 500
step "B: $TD_PING_SENT pings, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
((TD_PING_SENT >= 4 * idle_s)) || fail "B pinged too briefly ($TD_PING_SENT)"
assert_eq 0 "$TD_PING_LOST" "B's lost pings"
assert_eq 1 "$(count_in "$(client_log b)" 'Got CONNECT response')" "CONNECTs made by B"
stop_client b INT
assert_eq 0 "$TD_RC" "B's exit code after SIGINT"
stop_tandemd
