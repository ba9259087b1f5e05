#!/usr/bin/env bash
# The arbiter over https: etcd serves TLS and requires a client certificate from its own CA; the
# pair's [arbiter] names the CA, certificate and key. The active holds the member's key, the
# status says the endpoint is reachable, and a crash of the active (kill -9) hands the key to the
# standby, which takes over the client (ping answered after it, same address and index); the dead
# node's keeper revoked its lease over https (etcd's JSON gateway, with the node's certificate).
# etcd refuses a client without a certificate, so the node's certificate is what gets it in.
export TD_ETCD_TLS=1
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"

arbitrated_pair_with_client dtls
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
assert_match "$TD_ETCD_URL" '^https://' "etcd's URL"
step "node $act holds the key through $TD_ETCD_URL"
assert_eq true "$(nctl "$act" status --json | jq -r '.arbiter')" "node $act's status: arbiter"
assert_eq '["'"$TD_ETCD_URL"'"]' "$(nctl "$act" status --json | jq -c '.arbiter_endpoints')" \
  "node $act's arbiter endpoints"

# etcd really requires a certificate: the same request without one is refused.
if ip netns exec "$TD_NS_ETCD" env ETCDCTL_API=3 etcdctl --endpoints="$TD_ETCD_URL" \
  --cacert "$TD_ETCD_PKI/ca.pem" --command-timeout=2s get /tandem/member/m1/active \
  >"$TD_DIR/no-cert.out" 2>&1; then
  fail "etcd answered a client without a certificate: $(cat "$TD_DIR/no-cert.out")"
fi
step "etcd refused a client without a certificate: $(tail -n1 "$TD_DIR/no-cert.out")"

start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 1
failover_begin "$act" p
step "kill -9 node $act (pid ${TD_NODE_PID[$act]})"
kill -KILL "${TD_NODE_PID[$act]}"
wait "${TD_NODE_PID[$act]}" 2>/dev/null || true
ttl_ms=$(td_duration_ms "$TD_TTL")
hold_ms=$(td_duration_ms "${TD_HOLD:-2s}")
# As test_cluster's crash: the key passes once the dead node's lease has expired in etcd and the
# standby's hold time is up; +1.5 s for the campaign and the reconnect, +1 s for a dropped SYN.
assert_failover_outcome "$act" "$stb" "$ip1" "$index" \
  "$(((ttl_ms > hold_ms ? ttl_ms : hold_ms) + 2500))"
assert_eq "node-$stb" "$(key_holder)" "the key's holder after the crash"
assert_keeper_revoked "$(node_log "$act")"
stop_ping_stream p
step "SUMMARY https etcd with client certificates: key held, crash failover gap $TD_GAP_MS ms, node $stb holds the key"
