#!/usr/bin/env bash
# With the standby gone the active keeps serving and reports itself degraded; logins are not held
# up. When the standby returns it catches up (lag 0) and the member is whole again. The
# replication port refuses a peer without a certificate (mutual TLS).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

setup_pair_topology
make_pair_pki
add_user alice secret-a
add_user bob secret-b
write_node_config a
write_node_config b
start_pair
act=$(active_node)
stb=$(other_node "$act")
assert_eq false "$(node_field "$act" degraded)" "degraded with the standby following"

# mutual TLS: no client certificate, no replication.
# Keep the client reading for a second: TLS 1.3 servers reject a missing certificate after the
# handshake, with an alert or by closing.
out=$(sleep 1 | ip netns exec "$TD_NS_CLIENT" timeout 5 openssl s_client \
  -connect "${TD_NODE_IP[$act]}:$TD_PEER_PORT" -CAfile "$TD_PKI/ca.pem" -alpn h2 2>&1 || true)
assert_match "$out" 'unexpected eof|alert|certificate required|handshake failure' \
  "replication port refuses a peer without a certificate"

step "stop the standby (node $stb)"
kill -TERM "${TD_NODE_PID[$stb]}"
wait_for 10 "node $stb stopped" td_not_alive "${TD_NODE_PID[$stb]}"
start_client c1 alice secret-a
wait_tunnel c1
td_degraded() { [[ $(node_field "$1" degraded) == "$2" ]]; }
wait_for 5 "node $act degraded" td_degraded "$act" true
step "degraded active: $(node_status "$act" | jq -c '{role, peer_state, degraded}')"
assert_contains "$(node_log "$act")" 'login_ok .*user=alice .*persisted=local_only' "login answered without a standby"
authenticate a1 bob secret-b
ping_inside

step "start the standby again"
start_node "$stb"
wait_for 20 "node $stb following" td_following "$stb"
wait_for 10 "node $stb caught up" td_caught_up "$stb"
wait_for 5 "node $act no longer degraded" td_degraded "$act" false
assert_eq 2 "$(nctl "$stb" show sessions --json | jq '.sessions | length')" \
  "sessions made while degraded are on the returned standby"
step "member whole again: $(node_status "$act" | jq -c '{role, peer_state, degraded, replication_lag_seq}')"
