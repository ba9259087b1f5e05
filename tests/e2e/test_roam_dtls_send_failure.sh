#!/usr/bin/env bash
# Roaming (issue 11 item 1, docs/roaming.md): the headend's own DTLS sends fail outright (a local
# firewall rule on the headend makes sendto() refuse every datagram to the client, as a route
# that vanished would) for 3 s while a ping stream (every 50 ms) runs through the DTLS tunnel.
# The packet whose send failed goes over CSTP, the downstream moves to CSTP at once
# (cause=dtls_send_failed), and no ping waits for DPD: the stream's longest gap stays under 1 s.
# The client, which hears nothing wrong, keeps sending upstream over DTLS, so each of its records
# moves the downstream back to DTLS and the next failed send to CSTP again: no packet is lost to
# that (the failed one goes over CSTP) and the switches' log lines are rate-limited. Once the
# rule is gone the downstream stays on DTLS. Same session, one login.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v nft >/dev/null || fail "nft (nftables) is not installed: run deploy/setup.sh"
hub_nft() { ip netns exec "$TD_NS_HEADEND" nft "$@"; }

METRICS=127.0.0.1:9464
# The series this test reads (tandem_downstream_sessions, ..._carrier_switches_total).
metric() {
  ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics" |
    awk -v s="$1" '$1 == s {print $2}'
}

setup_topology
add_user alice 'correct horse'
write_config
sed -i "/^\[node\]\$/a metrics_listen = \"$METRICS\"" "$TD_CONFIG"
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
line=$(wait_client_dtls c1)
index=$(field index "$line")
ip=$(client_ip c1)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_log 10 downstream_carrier "index=$index .*to=dtls" >/dev/null
sleep 1

step "headend: every UDP datagram from :$TD_PORT refused at output (sendto fails) for 3 s"
hub_nft -f - <<EOF2
table inet tdsend {
  chain out {
    type filter hook output priority 0; policy accept;
    udp sport $TD_PORT counter drop
  }
}
EOF2
t_fail=$(td_now_ms)
sleep 3
refused=$(hub_nft list table inet tdsend | grep -o 'packets [0-9]*')
hub_nft delete table inet tdsend
t_end=$(td_now_ms)
step "rule removed ($refused refused)"
ping_gap_since p "$t_fail"
step "since the failures began: longest gap $TD_GAP_MS ms, $TD_GAP_AFTER replies"
((TD_GAP_MS < 1000)) || fail "traffic stopped for $TD_GAP_MS ms while DTLS sends failed (bound 1000)"
line=$(wait_log 5 downstream_carrier "index=$index .*to=ssl .*cause=dtls_send_failed")
step "first dtls_send_failed switch logged $(($(log_ms "$line") - t_fail)) ms after the rule was in place"

# Back on DTLS: the client's next DTLS record moves the downstream back, and DTLS sends succeed
# again, so the send-failure switches stop while the pings go on.
sleep 1
on_dtls() { [[ $(metric 'tandem_downstream_sessions{carrier="dtls"}') == 1 ]]; }
wait_for 10 "the downstream back on DTLS (metrics)" on_dtls
failed_switches=$(metric 'tandem_downstream_carrier_switches_total{cause="dtls_send_failed"}')
((failed_switches >= 1)) || fail "no switch counted for dtls_send_failed"
sleep 2
assert_eq "$failed_switches" \
  "$(metric 'tandem_downstream_carrier_switches_total{cause="dtls_send_failed"}')" \
  "send-failure switches after the rule went (DTLS must be sending again)"
on_dtls || fail "the downstream left DTLS again"
ping_gap_since p "$t_end"
((TD_GAP_TRAIL_MS < 500)) || fail "the stream is silent again ($TD_GAP_TRAIL_MS ms)"
step "after the rule: downstream on DTLS, no new send failures ($failed_switches in all), $TD_GAP_AFTER replies"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost"

assert_eq 1 "$(log_count login_ok)" "logins"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq "$ip" "$(client_ip c1)" "client address"
stop_client c1 INT
stop_tandemd
