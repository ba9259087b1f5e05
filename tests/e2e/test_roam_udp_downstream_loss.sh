#!/usr/bin/env bash
# Roaming (issue 11, docs/roaming.md): UDP between client and headend fails in one direction only
# while DTLS carries a ping stream (every 50 ms); DPD 2 s. Nothing fails outright, so each side
# finds out only through DTLS dead-peer detection:
#   down (the client's ingress drops the headend's datagrams): the client hears nothing on DTLS,
#     its DTLS DPD gives up after 2 x DPD and it carries on over CSTP; the headend follows its
#     first CSTP data packet.
#   up (the client's egress drops its datagrams): the client still hears the headend's DTLS DPD
#     requests, so the headend notices first: after 2 x DPD without a record it closes the
#     association and its downstream moves to CSTP. openconnect 9.01 logs the close_notify as
#     "Read error on DTLS session" but keeps sending on DTLS until its own DTLS DPD, 2 x DPD
#     after the last record it heard (measured: headend 5.1 s, client 3.9 s later, DPD 2 s).
# Bound for traffic to flow again, + the 250 ms sweep + 1.5 s: down 2 x DPD; up 4 x DPD, the
# client's half of which no headend can shorten (nothing in the protocol tells openconnect to
# leave DTLS). When the loss ends and
# openconnect makes a new DTLS association (its retry comes up to 60 s later), the downstream
# moves back onto it with the client's first DTLS record. Same session, one login, throughout.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=${1:-down}
# $2 = legacy: the client on legacy DTLS 1.2 (Cisco's mode, docs/dtls-modes.md): the same
# fallback to CSTP, and back onto a new legacy association when it resumes a new session id.
mode=${2:-psk}
extra=()
case $mode in
  psk) ;;
  legacy) extra=(--dtls12-ciphers=AES256-GCM-SHA384) ;;
  *) fail "DTLS mode: psk or legacy, not '$mode'" ;;
esac
dpd_s=2
case $dir in
  down) hook=ingress match="ip saddr $TD_SERVER_IP udp sport $TD_PORT" dpds=2 ;;
  up) hook=egress match="ip daddr $TD_SERVER_IP udp dport $TD_PORT" dpds=4 ;;
  *) fail "direction: down or up, not '$dir'" ;;
esac
bound_ms=$((dpds * dpd_s * 1000 + 1750))
command -v nft >/dev/null || fail "nft (nftables) is not installed: run deploy/setup.sh"
cli_nft() { ip netns exec "$TD_NS_CLIENT" nft "$@"; }

setup_topology
add_user alice 'correct horse'
write_config "
[policy.default]
dpd_interval = \"${dpd_s}s\"
"
start_tandemd

start_client c1 alice 'correct horse' "${extra[@]}"
wait_tunnel c1
line=$(wait_client_dtls c1)
index=$(field index "$line")
ip=$(client_ip c1)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_log 10 downstream_carrier "index=$index .*to=dtls" >/dev/null
sleep 1

# Below the IP layer (netdev hook), as on a broken path: no send ever fails.
step "drop UDP $dir-stream ($hook of ${TD_IFP}c1)"
cli_nft -f - <<EOF2
table netdev tdloss {
  chain c {
    type filter hook $hook device "${TD_IFP}c1" priority 0; policy accept;
    $match counter drop
  }
}
EOF2
t_loss=$(td_now_ms)

replied_after() { (($(ping_last_reply_ms p) > $1)); }
# Wait out the detection, then require replies to a stream that keeps going.
wait_for 20 "replies after the loss began" replied_after $((t_loss + 500))
sleep 2
ping_gap_since p "$t_loss"
step "after the loss: longest gap $TD_GAP_MS ms (first reply after $TD_GAP_FIRST_MS ms)," \
  "$TD_GAP_AFTER replies, silent for the last $TD_GAP_TRAIL_MS ms"
((TD_GAP_MS <= bound_ms)) || fail "traffic stopped for $TD_GAP_MS ms (bound $bound_ms)"
((TD_GAP_TRAIL_MS < 500)) || fail "the stream is silent again ($TD_GAP_TRAIL_MS ms)"
log_events downstream_carrier | sed 's/^/  /'
assert_ne 0 "$(log_count downstream_carrier "index=$index .*to=ssl")" "switches to CSTP"

step "loss ends: $(cli_nft list table netdev tdloss | grep -o 'packets [0-9]*')"
n_up=$(log_count tunnel_up "index=$index .*kind=dtls")
n_dtls=$(log_count downstream_carrier "index=$index .*to=dtls")
cli_nft delete table netdev tdloss
t_end=$(td_now_ms)
# openconnect retries DTLS on its own schedule (60 s after a failed handshake).
line=$(wait_log 80 tunnel_up "index=$index .*kind=dtls" $((n_up + 1)))
step "new DTLS tunnel $(($(log_ms "$line") - t_end)) ms after the loss ended: cipher $(field cipher "$line")"
if [[ $mode == legacy ]]; then
  [[ $(field cipher "$line") == AES256-GCM-SHA384 ]] || fail "the new association is not legacy DTLS: $line"
fi
line=$(wait_log 10 downstream_carrier "index=$index .*to=dtls" $((n_dtls + 1)))
step "back on DTLS $(($(log_ms "$line") - t_end)) ms after the loss ended: $line"
sleep 1
ping_fresh || fail "a fresh echo after DTLS came back was not answered"
stop_ping_stream p

assert_eq 1 "$(log_count login_ok)" "logins"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq 0 "$(log_count tunnel_down 'kind=ssl')" "SSL tunnels down"
assert_eq "$ip" "$(client_ip c1)" "client address"
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
stop_tandemd
