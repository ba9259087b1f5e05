#!/usr/bin/env bash
# The shipped examples work as written: deploy/examples/gen-pki.sh makes the certificates, and
# tandemd-a.toml / tandemd-b.toml run a pair on the example network (only the file locations are
# moved into the temp dir, and [process] user taken out). Node A, with the higher priority,
# becomes active; a client connects to the service address, gets the split route and pings an
# inside host; a failover drill moves it to node B with the same session. standalone.toml starts a standalone node.
#
#   client ns 192.0.2.2 --+-- switch ns, bridge "out" --+-- node A ns: eth0 192.0.2.11 (+ .10)
#                         |                             +-- node B ns: eth0 192.0.2.12
#   inside ns 10.10.0.2 --+-- switch ns, bridge "in" ---+-- node A ns: eth1 10.10.0.11 (+ .10)
#                                                       +-- node B ns: eth1 10.10.0.12
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_pair.sh"

EXAMPLES=$TANDEM_SOURCE_DIR/deploy/examples
# The example network, as the example files describe it.
TD_SERVER_IP=192.0.2.10
TD_URL=https://$TD_SERVER_IP/
TD_INSIDE_IP=10.10.0.2
TD_NODE_IP=([a]=192.0.2.11 [b]=192.0.2.12)
TD_NODE_INSIDE_IP=([a]=10.10.0.11 [b]=10.10.0.12)

# LINK NS IFNAME ADDR BRIDGE: a veth named IFNAME in NS, its peer on BRIDGE in the switch ns.
link() {
  local peer=${TD_IFP}$((++TD_LINKS))
  ip -n "$1" link add "$2" type veth peer name "$peer" netns "$TD_NS_SWITCH"
  ip -n "$TD_NS_SWITCH" link set "$peer" master "$4" up
  ip -n "$1" addr add "$3/24" dev "$2"
  ip -n "$1" link set "$2" up
}
TD_LINKS=0

# The example file with its locations moved into the temp dir, and [process] user taken out
# (this test runs as root without the system user; test_least_privilege runs a pair as one).
localize() { # EXAMPLE OUT STATE_NAME
  sed -e "s|/etc/tandem/pki|$TD_PKI|g" -e "s|/etc/tandem/users|$TD_USERS|g" \
    -e '/^user = "tandem"$/d' "$1" >"$2"
  if grep -q '^user = ' "$2"; then fail "could not take [process] user out of $1"; fi
  sed -i "/^\[node\]\$/a admin_socket = \"$TD_DIR/admin-$3.sock\"\nstate_dir = \"$TD_DIR/state-$3\"" "$2"
  grep -q "^state_dir = \"$TD_DIR/state-$3\"\$" "$2" || fail "could not localize $1"
}

step "example network: client, switch, nodes a and b (eth0, eth1), inside host"
td_netns_add "$TD_NS_SWITCH"
td_netns_add "$TD_NS_CLIENT"
td_netns_add "$TD_NS_INSIDE"
for br in out in; do
  ip -n "$TD_NS_SWITCH" link add "$br" type bridge
  ip -n "$TD_NS_SWITCH" link set "$br" up
done
link "$TD_NS_CLIENT" "${TD_IFP}c" 192.0.2.2 out
link "$TD_NS_INSIDE" "${TD_IFP}i" "$TD_INSIDE_IP" in
ip -n "$TD_NS_INSIDE" route add 10.77.0.0/24 via 10.10.0.10
for n in a b; do
  td_netns_add "${TD_NODE_NS[$n]}"
  link "${TD_NODE_NS[$n]}" eth0 "${TD_NODE_IP[$n]}" out
  link "${TD_NODE_NS[$n]}" eth1 "${TD_NODE_INSIDE_IP[$n]}" in
  ip netns exec "${TD_NODE_NS[$n]}" sysctl -qw net.ipv4.ip_forward=1
done

step "certificates with gen-pki.sh"
out=$(bash "$EXAMPLES/gen-pki.sh" --out "$TD_PKI" --ca-dir "$TD_DIR/ca" --node node-a=10.10.0.11 --node node-b=10.10.0.12 \
  --service vpn.example.com --service-ip "$TD_SERVER_IP") || fail "gen-pki.sh failed: $out"
printf '%s\n' "$out" | sed 's/^/    /'
TD_PIN=$(grep -o 'pin-sha256:[A-Za-z0-9+/=]*' <<<"$out")
assert_match "$TD_PIN" '^pin-sha256:[A-Za-z0-9+/]{43}=$' "pin printed by gen-pki.sh"
openssl verify -CAfile "$TD_PKI/ca.pem" "$TD_PKI/node-a.pem" "$TD_PKI/node-b.pem" >/dev/null ||
  fail "node certificates do not verify against the CA"
again=$(bash "$EXAMPLES/gen-pki.sh" --out "$TD_PKI" --ca-dir "$TD_DIR/ca" --node node-a=10.10.0.11 --service-ip "$TD_SERVER_IP")
assert_match "$again" 'node-a\.pem \(kept' "gen-pki.sh a second time keeps the node certificate"
[[ -e $TD_PKI/ca.key ]] && fail "gen-pki.sh put the CA key in the nodes' directory"
[[ -e $TD_DIR/ca/ca.key ]] || fail "gen-pki.sh did not keep the CA key in --ca-dir"
inside=$(bash "$EXAMPLES/gen-pki.sh" --out "$TD_PKI" --ca-dir "$TD_PKI/ca" --node node-a=10.10.0.11 \
  --service-ip "$TD_SERVER_IP" 2>&1) && fail "gen-pki.sh accepted a --ca-dir inside --out"
assert_match "$inside" 'must never be copied to a node' "a --ca-dir inside --out is refused"
assert_eq "$TD_PIN" "$(grep -o 'pin-sha256:[A-Za-z0-9+/=]*' <<<"$again")" "pin after a second run"

add_user alice secret-a
for n in a b; do
  TD_NODE_CONFIG[$n]=$TD_DIR/node-$n.toml
  localize "$EXAMPLES/tandemd-$n.toml" "${TD_NODE_CONFIG[$n]}" "$n"
done
start_pair
assert_eq a "$(active_node)" "the active node (node A has priority 200)"
ip -n "${TD_NODE_NS[a]}" -4 addr show dev eth1 | grep -q ' 10\.10\.0\.10/24 ' ||
  fail "node A does not hold the inside service address 10.10.0.10"

start_client c1 alice secret-a
wait_tunnel c1
assert_contains "$TD_DIR/vpnc-${TD_IFP}t1.log" '^CISCO_SPLIT_INC_0_ADDR=10\.10\.0\.0$' "split route"
assert_contains "$(client_log c1)" 'X-CSTP-DPD: 15$' "the example's dpd_interval"
assert_contains "$(client_log c1)" 'X-CSTP-Disconnected-Timeout: 600$' "the example's disconnected_timeout"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
# The example's metrics_listen, scraped from the inside network (bash's /dev/tcp: no curl).
status_line=$(timeout 5 ip netns exec "$TD_NS_INSIDE" bash -c \
  'exec 3<>/dev/tcp/10.10.0.11/9300 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && head -n1 <&3') ||
  fail "no answer on node A's metrics_listen 10.10.0.11:9300"
assert_match "$status_line" '^HTTP/1\.[01] 200' "metrics status line"
index=$(nctl a show sessions --json | jq -r '.sessions[0].index')
# Tunnel records reach the standby about once a second; with the client's TCP port it can
# tickle the client after taking over (as in the other failover tests).
sleep 1.5

# Judged by its outcome below; tandemctl's answer is shown.
out=$(nctl a failover 2>&1) || out="exit $?: $out"
step "tandemctl failover: $out"
wait_for 10 "node b active" td_is_active b
wait_for 15 "the session resumed on node b" \
  bash -c "grep -q 'session_resumed index=$index ' '$(node_log b)'"
wait_for 10 "node a following node b" td_following a
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_eq "$index" "$(nctl b show sessions --json | jq -r '.sessions[0].index')" "index on node b"
stop_client c1 INT

# standalone.toml: a node of its own, in node A's namespace once the pair is gone.
for n in a b; do
  kill -TERM "${TD_NODE_PID[$n]}"
  wait_for 10 "node $n to stop" td_not_alive "${TD_NODE_PID[$n]}"
done
TD_NS_HEADEND=${TD_NODE_NS[a]}
localize "$EXAMPLES/standalone.toml" "$TD_DIR/standalone.toml" standalone
TD_CONFIG=$TD_DIR/standalone.toml
start_tandemd "$TD_CONFIG"
assert_eq standalone "$(tctl status --json | jq -r .role)" "role with standalone.toml"
assert_contains "$TD_TANDEMD_LOG" ' listening .*address=0\.0\.0\.0:443 node=vpn-1 ' "listening line"
stop_tandemd
