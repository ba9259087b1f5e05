#!/usr/bin/env bash
# S7/§7.1: session_timeout 4 s ends a session however active it is. A client pinging every
# 100 ms must be ended about 4 s after login (session_end reason=session_timeout), told with a
# CSTP DISCONNECT (openconnect: "Session terminated by server", exit 1, no reconnect), and its
# token no longer works.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

session_s=4

setup_topology
add_user alice 'correct horse'
write_config "
[policy.default]
session_timeout = \"${session_s}s\"
"
start_tandemd

authenticate c0 alice 'correct horse'
start_client_cookie c1 "$TD_COOKIE"
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
t_login=$(log_ms "$line")
assert_contains "$(client_log c1)" "X-CSTP-Session-Timeout: $session_s\$" "advertised session timeout"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.1
t_ping=$(td_now_ms)

line=$(wait_log $((session_s + 5)) session_end "index=$index( |$)")
t_end=$(log_ms "$line")
lasted=$((t_end - t_login))
step "session ended $lasted ms after login: $line"
assert_eq session_timeout "$(field reason "$line")" "session_end reason"
assert_eq "$ip" "$(field ip "$line")" "session_end ip"
((lasted >= session_s * 1000)) || fail "session ended after $lasted ms (< ${session_s}s)"
((lasted <= session_s * 1000 + 1000)) || fail "session ended only after $lasted ms"

client_wait_exit c1 10
assert_eq 1 "$TD_RC" "openconnect exit code (server DISCONNECT)"
assert_contains "$(client_log c1)" 'Received server disconnect|Session terminated by server' \
  "client was told by the server"
assert_eq 1 "$(count_in "$(client_log c1)" 'SSL negotiation with')" "TLS connections made"

# It was active to the end: replies kept coming until shortly before the session ended.
sleep 0.5
stop_ping_stream p
ping_stream_stats p 100
last=$(ping_last_reply_ms p)
step "pings: $TD_PING_RECV answered, $TD_PING_LOST lost; last reply $((t_end - last)) ms before the end"
# Counted from when the pings started (a loaded box may bring the tunnel up late): at least 70 %
# of the pings sent while the session lived were answered.
sent_while_alive=$(((t_end - t_ping) / 100))
((TD_PING_RECV * 10 >= sent_while_alive * 7)) ||
  fail "only $TD_PING_RECV ping replies of about $sent_while_alive sent while the session lived"
((t_end - last <= 1000)) || fail "the client was not active up to the end"
assert_eq 0 "$(log_count connect_refused)" "refused CONNECTs (the told client must not retry)"
assert_eq 1 "$(log_count login_ok)" "logins"

# The token died with the session (§7.1): reusing it is refused with 401, openconnect exits 2.
start_client_cookie c2 "$TD_COOKIE"
client_wait_exit c2 15
assert_eq 2 "$TD_RC" "openconnect exit code with the ended session's token"
line=$(wait_log 5 connect_refused 'status=401')
step "token refused: $line"
stop_tandemd
