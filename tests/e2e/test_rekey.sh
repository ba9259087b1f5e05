#!/usr/bin/env bash
# Rekey (issue 12 item 7, docs/rekey.md): a policy with rekey_interval = 10s answers
# X-CSTP-Rekey-Method: new-tunnel + X-CSTP-Rekey-Time: 10. Every 10 s openconnect opens a new TLS
# connection and re-CONNECTs with its token; DTLS is rebuilt with the new connection's keys. While
# a ping stream (every 50 ms) runs through the tunnel across two rekeys: the same session (index,
# address), one login, a new SSL and a new DTLS tunnel per rekey, each DTLS tunnel under a new
# App-ID, and the stream loses at most a few pings and never stalls for a second.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

rekey_s=10
setup_topology
add_user alice 'correct horse'
write_config "
[policy.default]
rekey_interval = \"${rekey_s}s\"
"
start_tandemd

start_client c1 alice 'correct horse' --dump-http-traffic
wait_tunnel c1
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
ip=$(client_ip c1)
wait_client_dtls c1 >/dev/null
assert_contains "$(client_log c1)" 'X-CSTP-Rekey-Method: new-tunnel' "the rekey method the client got"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05

rekeys() { count_in "$(client_log c1)" 'CSTP rekey due'; }
two_rekeys_and_dtls() {
  (($(rekeys) >= 2)) && (($(log_count tunnel_up "index=$index .*kind=dtls") >= 3))
}
wait_for $((3 * rekey_s + 15)) "two rekeys, each followed by a new DTLS tunnel" two_rekeys_and_dtls
sleep 2
stop_ping_stream p
ping_stream_stats p 50
step "across $(rekeys) rekeys: $TD_PING_SENT pings sent, $TD_PING_RECV answered, $TD_PING_LOST lost; longest gap $TD_PING_GAP_MS ms"

assert_eq 1 "$(log_count login_ok)" "logins (a rekey is not a login)"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq "$ip" "$(client_ip c1)" "client address"
assert_eq "$index" "$(sessions_jq '.sessions[0].index')" "session index"
ssl_tunnels=$(log_count tunnel_up "index=$index .*kind=ssl")
((ssl_tunnels >= 3)) || fail "SSL tunnels of the session: $ssl_tunnels (expected one per rekey + 1)"
app_ids=$(sed -n 's/.*X-DTLS-App-ID: \([0-9a-f]*\).*/\1/p' "$(client_log c1)" | sort -u | wc -l)
((app_ids >= 3)) || fail "distinct DTLS App-IDs: $app_ids (each rekey must key DTLS anew)"
assert_not_contains "$(client_log c1)" 'Reconnect gave different' "address kept across rekeys"
((TD_PING_GAP_MS < 1000)) || fail "the ping stream stalled $TD_PING_GAP_MS ms across a rekey"
((TD_PING_LOST * 50 <= TD_PING_SENT)) || fail "$TD_PING_LOST of $TD_PING_SENT pings lost (> 2 %)"
td_alive "$(client_pid c1)" || fail "openconnect exited"
stop_client c1 INT
stop_tandemd
