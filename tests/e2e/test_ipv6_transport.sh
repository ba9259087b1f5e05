#!/usr/bin/env bash
# IPv6 as the outer transport (docs/ipv6.md): tandemd listens on "[fd00:200::1]:PORT" only, and
# the real openconnect connects over IPv6. Checked after each step, not only before:
#   - the login, the CSTP tunnel and DTLS come up over IPv6; the session's public address is the
#     client's IPv6 address (tandemctl --json);
#   - the tunnel MTU offered is 20 bytes below the IPv4 figure (IPv6's longer header), and a
#     checksummed TCP transfer through the tunnel works at that MTU;
#   - a resume over IPv6 (the client's TCP connection destroyed) keeps the session and address,
#     and a ping through the tunnel is answered afterwards.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVER6=fd00:200::1
CLIENT6=fd00:200::2
MTU=1400 # the default policy's MTU (node/config/defaults.hpp kMtu), for an IPv4 outer header

setup_topology
td_ipv6_on "$TD_NS_CLIENT" "$TD_NS_HEADEND"
ip -n "$TD_NS_CLIENT" -6 addr add "$CLIENT6/64" dev "${TD_IFP}c1" nodad
ip -n "$TD_NS_HEADEND" -6 addr add "$SERVER6/64" dev "${TD_IFP}h1" nodad
add_user alice 'correct horse'
write_config
sed -i "s|^listen = .*|listen = \"[$SERVER6]:$TD_PORT\"|" "$TD_CONFIG"
start_tandemd
assert_contains "$TD_TANDEMD_LOG" " listening .*address=\\[$SERVER6\\]:$TD_PORT" "listening on IPv6"
# Nothing listens on the IPv4 address: the client below can only have come over IPv6.
if td_listening "$TD_NS_HEADEND" "$TD_PORT" && ip netns exec "$TD_NS_HEADEND" ss -Hltn |
  grep -q "$TD_SERVER_IP:$TD_PORT"; then
  fail "tandemd listens on IPv4 too"
fi

TD_URL="https://[$SERVER6]:$TD_PORT/"
start_client c1 alice 'correct horse'
wait_tunnel c1
dtls=$(wait_client_dtls c1)
step "client c1 over IPv6: $(client_ip c1); $dtls"
json=$(tctl show sessions --json)
public=$(jq -r '.sessions[0].tunnels[] | select(.type == "SSL-Tunnel") | .public_ip' <<<"$json")
assert_eq "$CLIENT6" "$public" "the SSL tunnel's public address"
index=$(jq -r '.sessions[0].index' <<<"$json")
ip1=$(client_ip c1)

mtu=$(ip -n "$TD_NS_CLIENT" -o link show "${TD_CLIENT_IF[c1]}" | sed -nE 's/.* mtu ([0-9]+) .*/\1/p')
assert_eq $((MTU - 20)) "$mtu" "the client's tun MTU over IPv6"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
transfer_roundtrip "$TD_NS_CLIENT" $((2 * 1024 * 1024))
json=$(tctl show sessions --json)
rx=$(jq -r '.sessions[0].tunnels[] | select(.type == "DTLS-Tunnel") | .bytes_rx' <<<"$json")
((rx > 2 * 1024 * 1024)) || fail "the transfer did not go over DTLS (DTLS bytes_rx $rx)"

step "resume over IPv6: destroy the client's TCP connection"
ip netns exec "$TD_NS_CLIENT" ss -K dst "[$SERVER6]" dport = "$TD_PORT" >/dev/null 2>>"$TD_DIR/ss.log"
wait_log 30 session_resumed "index=$index( |$)" >/dev/null
wait_for 20 "c1's tunnel back" td_client_up c1
assert_eq "$ip1" "$(client_ip c1)" "c1's address after the resume"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
td_alive "$(client_pid c1)" || fail "openconnect exited"
stop_client c1 INT
stop_tandemd
