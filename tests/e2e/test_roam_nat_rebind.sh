#!/usr/bin/env bash
# Roaming (issue 11, docs/roaming.md): the client's NAT rebinds its DTLS flow to a new source port
# mid-session while DTLS carries a ping stream (every 50 ms), on the default policy (DPD 30 s).
# The NAT is emulated statelessly at the client's link (netdev hooks rewrite the UDP source port
# of openconnect's DTLS socket on the way out and the destination port on the way back), so the
# client knows nothing and keeps its DTLS association. The headend must follow the association
# to the new port on its first authenticated record (dtls_peer_moved): no new handshake, no
# wait for DPD (2 x 30 s), replies keep coming within 1 s; then the mapping goes back to the
# original port and the same again. Same session, one login, one DTLS tunnel.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gap_bound_ms=1000
command -v nft >/dev/null || fail "nft (nftables) is not installed: run deploy/setup.sh"
cli_nft() { ip netns exec "$TD_NS_CLIENT" nft "$@"; }

setup_topology
add_user alice 'correct horse'
# Two data workers, so the downstream is sealed and sent by the association's worker while the
# I/O thread moves the association (docs/data-plane.md, "Sealing on the workers").
TD_DATA_THREADS=3
write_config
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
line=$(wait_client_dtls c1)
index=$(field index "$line")
ip=$(client_ip c1)
port=$(ip netns exec "$TD_NS_CLIENT" ss -Hun dst "$TD_SERVER_IP:$TD_PORT" |
  grep -o "$TD_CLIENT_ADDR:[0-9]*" | head -n1 | cut -d: -f2)
[[ $port =~ ^[0-9]+$ ]] || fail "openconnect's DTLS source port not found (ss: '$port')"
new_port=$((port > 60000 ? port - 1000 : port + 1000))
step "openconnect's DTLS socket: $TD_CLIENT_ADDR:$port; the NAT will map it to :$new_port"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_log 10 downstream_carrier "index=$index .*to=dtls" >/dev/null
sleep 1

# rebind_and_check WHAT EXPECTED_PUBLIC_PORT NFT_COMMANDS: apply, then the stream must go on.
rebind_and_check() {
  local what=$1 expect=$2 t n_moved
  n_moved=$(log_count dtls_peer_moved "index=$index ")
  step "$what"
  t=$(td_now_ms)
  cli_nft -f - <<<"$3"
  line=$(wait_log 5 dtls_peer_moved "index=$index " $((n_moved + 1)))
  step "headend: $line ($(($(log_ms "$line") - t)) ms after the change)"
  [[ $(field to "$line") == "$TD_CLIENT_ADDR:$expect" ]] || fail "moved to $(field to "$line")"
  sleep 2
  ping_gap_since p "$t"
  step "longest gap $TD_GAP_MS ms, $TD_GAP_AFTER replies since"
  ((TD_GAP_MS <= gap_bound_ms)) || fail "$what: replies stopped for $TD_GAP_MS ms"
  ping_fresh || fail "$what: a fresh echo was not answered"
}

rebind_and_check "NAT rebinding: $port -> $new_port" "$new_port" "
table netdev tdnat {
  chain eg {
    type filter hook egress device \"${TD_IFP}c1\" priority 0; policy accept;
    ip daddr $TD_SERVER_IP udp sport $port udp dport $TD_PORT udp sport set $new_port
  }
  chain ing {
    type filter hook ingress device \"${TD_IFP}c1\" priority 0; policy accept;
    ip saddr $TD_SERVER_IP udp sport $TD_PORT udp dport $new_port udp dport set $port
  }
}"
rebind_and_check "NAT mapping back to $port" "$port" "delete table netdev tdnat"
stop_ping_stream p

assert_eq 1 "$(log_count tunnel_up "index=$index .*kind=dtls")" "DTLS tunnels (no new handshake)"
assert_eq 0 "$(log_count tunnel_down)" "tunnels down"
assert_eq 0 "$(log_count downstream_carrier "to=ssl")" "downstream moves to CSTP (DTLS carried on)"
assert_eq 1 "$(log_count login_ok)" "logins"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq "$ip" "$(client_ip c1)" "client address"
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
stop_tandemd
