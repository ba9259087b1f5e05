#!/usr/bin/env bash
# Issue 8 item 4: the replication peer is a specific node, not anyone with a certificate from the
# pair's CA. A rogue certificate (CN=mallory, signed by the same CA) is refused for Hello, Follow
# and Handover, even when it claims to be node-b; node-b's own certificate claiming another node
# id is refused; and node-b's certificate claiming an active role with epoch 2^64-1 is answered
# but not believed. Afterwards the active is still active in the same epoch, the standby still
# follows with lag 0, and the client's ping is answered through the tunnel.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

PROBE=$TANDEM_BUILD_DIR/tests/tools/tandem-peer-probe
[[ -x $PROBE ]] || fail "tandem-peer-probe not built: $PROBE"
pair_with_client dtls
act=$TD_ACT stb=$TD_STB
epoch=$(node_field "$act" epoch)

step "a rogue certificate from the pair's CA: CN=mallory"
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$TD_PKI/mallory.key" \
  -out "$TD_PKI/mallory.csr" -subj "/CN=mallory" 2>/dev/null
openssl x509 -req -in "$TD_PKI/mallory.csr" -CA "$TD_PKI/ca.pem" -CAkey "$TD_PKI/ca.key" \
  -CAcreateserial -days 1 -out "$TD_PKI/mallory.pem" 2>/dev/null

# probe NAME CALL [ARGS...]: one call to the active's replication port as certificate NAME.
probe() {
  local name=$1 call=$2
  shift 2
  ip netns exec "$TD_NS_CLIENT" "$PROBE" --target "${TD_NODE_IP[$act]}:$TD_PEER_PORT" \
    --ca "$TD_PKI/ca.pem" --cert "$TD_PKI/$name.pem" --key "$TD_PKI/$name.key" --call "$call" "$@"
}

max=18446744073709551615
for call in hello follow handover; do
  out=$(probe mallory "$call" --node-id node-b --role active --epoch "$max")
  step "mallory $call as node-b, epoch 2^64-1: $out"
  assert_match "$out" '^PERMISSION_DENIED' "mallory's $call refused"
done
assert_contains "$(node_log "$act")" "peer_refused call=Hello reason=\"the certificate names 'mallory'" \
  "the refusal logged with its reason"
assert_contains "$(node_log "$act")" "follower_refused reason=\"the certificate names 'mallory'" \
  "the Follow refusal logged"

out=$(probe "node-$stb" hello --node-id node-x --role active --epoch 99)
step "node-$stb's certificate claiming node-x: $out"
assert_match "$out" '^PERMISSION_DENIED' "a node id other than the certificate's refused"

out=$(probe "node-$stb" hello --node-id "node-$stb" --role active --epoch "$max")
step "node-$stb's certificate claiming active in epoch 2^64-1: $out"
assert_match "$out" '^OK' "the real peer's Hello is answered"
assert_contains "$(node_log "$act")" 'peer_refused reason="epoch out of range"' "the lie logged"

sleep 1
assert_eq active "$(node_field "$act" role)" "node $act's role after the rogue calls"
assert_eq "$epoch" "$(node_field "$act" epoch)" "node $act's epoch after the rogue calls"
wait_for 10 "node $stb still following with lag 0" td_caught_up "$stb"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP"
td_alive "$(client_pid c1)" || fail "openconnect exited"
