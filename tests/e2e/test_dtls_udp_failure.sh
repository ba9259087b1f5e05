#!/usr/bin/env bash
# S1/S3/§5.4: UDP between client and headend breaks while DTLS carries a ping stream (every
# 50 ms). The headend's DPD must tear the DTLS tunnel down (tunnel_down kind=dtls reason=dpd,
# the reference's "DTLS tunnel left standing" defect avoided) without touching the SSL tunnel or
# the session, and data must flow on over CSTP. Once UDP is back, openconnect re-handshakes DTLS
# on its own schedule (bounded here by 90 s), the headend brings up a second DTLS tunnel and the
# data moves back onto it. Losses must stay within the detection window.
# Which transport carries the pings is measured with nft packet counters in the client
# namespace; UDP is blocked by an nft table there too.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dpd_s=2
interval_ms=50
# Detection takes 2 x dpd at each end (both run DPD on DTLS) plus the 250 ms sweep and the
# client's main-loop granularity: a bounded window around that, nothing outside it.
window_ms=$((2 * dpd_s * 1000 + 1000))
max_lost=$((window_ms / interval_ms))

command -v nft >/dev/null || fail "nft (nftables) is not installed: run deploy/setup.sh"

cli_nft() { ip netns exec "$TD_NS_CLIENT" nft "$@"; }

# Counters for the client's flows to the headend (outbound ones also count what the block drops
# later on the link; inbound ones only what got through).
setup_counters() {
  cli_nft -f - <<EOF
table inet tdcount {
  counter udp_out {}
  counter udp_in {}
  counter tcp_out {}
  counter tcp_in {}
  chain out {
    type filter hook output priority 0; policy accept;
    ip daddr $TD_SERVER_IP udp dport $TD_PORT counter name udp_out
    ip daddr $TD_SERVER_IP tcp dport $TD_PORT counter name tcp_out
  }
  chain in {
    type filter hook input priority 0; policy accept;
    ip saddr $TD_SERVER_IP udp sport $TD_PORT counter name udp_in
    ip saddr $TD_SERVER_IP tcp sport $TD_PORT counter name tcp_in
  }
}
EOF
}

# A silent loss, as on a broken path: netdev egress/ingress hooks on the client's link drop the
# datagrams below the IP layer, so neither openconnect's send() (an inet output drop would
# return EPERM to it) nor the headend's ever fails.
block_udp() {
  cli_nft -f - <<EOF
table netdev tdblock {
  chain eg {
    type filter hook egress device "${TD_IFP}c1" priority 0; policy accept;
    ip daddr $TD_SERVER_IP udp dport $TD_PORT counter drop
  }
  chain ing {
    type filter hook ingress device "${TD_IFP}c1" priority 0; policy accept;
    ip saddr $TD_SERVER_IP udp sport $TD_PORT counter drop
  }
}
EOF
}

unblock_udp() {
  step "block counters: $(cli_nft list table netdev tdblock | grep -o 'packets [0-9]*' | xargs)"
  cli_nft delete table netdev tdblock
}

counter() { cli_nft list counter inet tdcount "$1" | awk '/packets/ {print $2; exit}'; }

# measure_transport SECONDS: packets per counter over SECONDS, into udp_out/udp_in/tcp_out/tcp_in.
udp_out=0 udp_in=0 tcp_out=0 tcp_in=0
measure_transport() {
  local uo ui to ti
  uo=$(counter udp_out) ui=$(counter udp_in) to=$(counter tcp_out) ti=$(counter tcp_in)
  sleep "$1"
  udp_out=$(($(counter udp_out) - uo)) udp_in=$(($(counter udp_in) - ui))
  tcp_out=$(($(counter tcp_out) - to)) tcp_in=$(($(counter tcp_in) - ti))
  step "in ${1}s: udp out/in $udp_out/$udp_in, tcp out/in $tcp_out/$tcp_in packets"
}

# Data on DTLS: the ~36 echoes and ~36 replies in 2 s go over UDP, TCP sees only DPD/keepalive.
assert_on_dtls() {
  measure_transport 2
  ((udp_out >= 25 && udp_in >= 25)) || fail "$1: pings are not on DTLS (udp $udp_out/$udp_in)"
  ((tcp_out < 15 && tcp_in < 15)) || fail "$1: data still on CSTP (tcp $tcp_out/$tcp_in)"
}

assert_on_cstp() {
  measure_transport 2
  ((tcp_out >= 25 && tcp_in >= 25)) || fail "$1: pings are not on CSTP (tcp $tcp_out/$tcp_in)"
}

dtls_established() { (($(count_in "$(client_log c1)" 'Established DTLS connection') >= $1)); }
replies_after() { (($(ping_last_reply_ms p) > $1)); }

setup_topology
add_user alice 'correct horse'
write_config "
[policy.default]
dpd_interval = \"${dpd_s}s\"
"
start_tandemd
setup_counters

start_client c1 alice 'correct horse'
wait_tunnel c1
wait_for 20 "client log: Established DTLS connection" \
  grep -q 'Established DTLS connection' "$(client_log c1)"
line=$(wait_log 10 tunnel_up 'kind=dtls')
index=$(field index "$line")
assert_eq "$index.3" "$(field tunnel "$line")" "DTLS tunnel id"
assert_contains "$(client_log c1)" "DTLS initialised\. DPD $dpd_s," "client's DTLS DPD interval"
ip=$(client_ip c1)

start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_for 5 "first ping replies" replies_after 0
sleep 1
assert_on_dtls "before the break"

step "block UDP $TD_CLIENT_ADDR <-> $TD_SERVER_IP:$TD_PORT in the client namespace"
t_block=$(td_now_ms)
block_udp
line=$(wait_log $((4 * dpd_s + 5)) tunnel_down "index=$index .*kind=dtls")
t_down=$(log_ms "$line")
assert_eq dpd "$(field reason "$line")" "reason the DTLS tunnel went down"
detect_ms=$((t_down - t_block))
step "headend tore DTLS down $detect_ms ms after the block: $line"
((detect_ms >= 2 * dpd_s * 1000 - 500)) || fail "DTLS declared dead after ${detect_ms} ms (< 2 x dpd)"
((detect_ms <= window_ms)) || fail "DTLS declared dead only after ${detect_ms} ms (> $window_ms)"
assert_eq 0 "$(log_count tunnel_down 'kind=ssl')" "SSL tunnels down (UDP loss must not touch CSTP)"
assert_eq 0 "$(log_count session_waiting)" "sessions waiting (UDP loss must not touch the session)"

wait_for 5 "ping replies over CSTP" replies_after "$t_down"
t_cstp=$(ping_last_reply_ms p)
step "replies again $((t_cstp - t_block)) ms after the block"
assert_on_cstp "after the DTLS teardown"
wait_for 10 "client log: DTLS dead peer" grep -q 'DTLS Dead Peer Detection detected dead peer' \
  "$(client_log c1)"

# Keep UDP broken until openconnect's own re-handshake (started at once when its DTLS DPD fired)
# has timed out: it then comes back only on its retry schedule, and meanwhile CSTP carries all.
wait_for 30 "client log: DTLS handshake timed out" grep -q 'DTLS handshake timed out' \
  "$(client_log c1)"
assert_on_cstp "while the client's DTLS retry sleeps"
step "unblock UDP"
unblock_udp
t_unblock=$(td_now_ms)
line=$(wait_log 90 tunnel_up "index=$index .*kind=dtls" 2)
t_up=$(log_ms "$line")
step "second DTLS tunnel up $((t_up - t_unblock)) ms after the unblock: $line"
assert_eq "$index.3" "$(field tunnel "$line")" "new DTLS tunnel id"
wait_for 10 "client log: second Established DTLS connection" dtls_established 2
sleep 1
assert_on_dtls "after DTLS came back"

stop_ping_stream p
ping_stream_stats p "$interval_ms"
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost;" \
  "longest gap ${TD_PING_GAP_MS} ms (ended $((TD_PING_GAP_END_MS - t_block)) ms after the block)"
outside=0
for at in $TD_PING_LOST_AT; do
  ((at >= t_block - 200 && at <= t_block + window_ms)) || outside=$((outside + 1))
done
step "lost outside the detection window [block-200ms, block+${window_ms}ms]: $outside"
((TD_PING_RECV > 0)) || fail "no ping replies at all"
((TD_PING_LOST <= max_lost)) || fail "$TD_PING_LOST pings lost (bound $max_lost)"
((TD_PING_GAP_MS <= window_ms)) || fail "longest reply gap $TD_PING_GAP_MS ms (bound $window_ms)"
((outside == 0)) || fail "$outside pings lost outside the detection window"

assert_eq 1 "$(log_count login_ok)" "logins"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq 0 "$(log_count tunnel_down 'kind=ssl')" "SSL tunnels down"
assert_eq "$ip" "$(client_ip c1)" "client address"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
stop_tandemd
