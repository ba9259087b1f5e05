#!/usr/bin/env bash
# Roaming (issue 11, docs/roaming.md): the client's link goes down for 3 s and comes back while a
# ping stream (every 50 ms) runs through the tunnel, on the default policy (DPD 30 s).
#   dtls (default): openconnect drops its DTLS socket when its network fails and carries on
#     over CSTP; the headend must move the downstream to CSTP on the client's first CSTP data
#     packet, so the first ping answered after link-up comes within 1 s.
#   tls (--no-dtls): the same over CSTP alone.
#   legacy: as dtls, with the client on legacy DTLS 1.2 (Cisco's mode, docs/dtls-modes.md).
# Either way: the same session (index, address), no new login, and a fresh echo is answered.
#
# Why 1 s holds in TLS-only mode too: with the interface down the client has no route, so its
# kernel never puts the queued CSTP records on the wire (nothing is in flight, no retransmission
# timer backs off), and the first write after link-up sends them all at once (measured: first
# reply 15 and 41 ms after link-up). A path that silently loses packets while the interface stays
# up is different: segments in flight back off (RTO 200 ms doubling), and nothing the headend does
# can shorten the client's timer; the one-way UDP tests cover silent loss for DTLS.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=${1:-dtls}
down_s=3
limit_ms=1000
case $mode in
  dtls | tls | legacy) ;;
  *) fail "mode: dtls, tls or legacy, not '$mode'" ;;
esac
extra=()
[[ $mode == tls ]] && extra=(--no-dtls)
[[ $mode == legacy ]] && extra=(--dtls12-ciphers=AES256-GCM-SHA384)

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd

start_client c1 alice 'correct horse' "${extra[@]}"
wait_tunnel c1
line=$(wait_log 10 tunnel_up 'kind=ssl')
index=$(field index "$line")
ip=$(client_ip c1)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_for 5 "first ping replies" ping_fresh
if [[ $mode != tls ]]; then
  wait_client_dtls c1 >/dev/null
  wait_log 10 downstream_carrier "index=$index .*to=dtls" >/dev/null
  step "downstream on DTLS"
fi
sleep 1

step "client link down for ${down_s}s"
ip -n "$TD_NS_CLIENT" link set "${TD_IFP}c1" down
sleep "$down_s"
ip -n "$TD_NS_CLIENT" link set "${TD_IFP}c1" up
t_up=$(td_now_ms)
step "client link up"

first_after_up() { ping_replies p | awk -v t="$t_up" '$2 > t {print $2; exit}'; }
replied_after_up() { [[ -n $(first_after_up) ]]; }
wait_for 30 "a ping reply after link-up" replied_after_up
first_ms=$(($(first_after_up) - t_up))
fresh=0
for _ in $(seq 1 30); do ping_fresh && { fresh=1; break; }; done
t_fresh=$(($(td_now_ms) - t_up))
step "first reply $first_ms ms after link-up; a fresh echo answered by $t_fresh ms"
sleep 2
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost;" \
  "longest gap ${TD_PING_GAP_MS} ms"
log_events downstream_carrier | sed 's/^/  /'

((first_ms <= limit_ms)) || fail "first reply after link-up took $first_ms ms (bound $limit_ms)"
((fresh == 1)) || fail "no fresh echo answered within 30 tries after link-up"
assert_eq 1 "$(log_count login_ok)" "logins (roaming must not need a new one)"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq "$ip" "$(client_ip c1)" "client address"
assert_eq "$index" "$(sessions_jq '.sessions[0].index')" "session index"
if [[ $mode != tls ]]; then
  # The switch that did it: data over CSTP while DTLS was attached.
  assert_ne 0 "$(log_count downstream_carrier "index=$index .*to=ssl .*cause=data_over_ssl")" \
    "switches to CSTP on the client's CSTP data"
fi
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
stop_tandemd
