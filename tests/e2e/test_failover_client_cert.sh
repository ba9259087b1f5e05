#!/usr/bin/env bash
# Crash failover of a certificate session (docs/client-certificates.md): a pair whose group
# `certs` takes the client certificate alone; openconnect logs in with alice's certificate (no
# username, no password), pings every 50 ms, and the active node is killed (-9). The standby
# promotes; the client comes back with its token (the resume credential) and presents its
# certificate again, which the new active verifies against the same CA and CRL before the
# session resumes. assert_failover_outcome: same index and address, the ping gap within
# hold_time + 1 s, the dead node holds no address. The new active shows the session as
# Certificate (the auth method is replicated with the session). A revoked certificate is refused
# on the new active too (the CRL is each node's own configuration).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_client_cert.sh"

TD_HOLD=${TD_HOLD:-2s}
TD_CPKI=$TD_DIR/client-pki

setup_pair_topology
make_pair_pki
make_client_pki "$TD_CPKI"
add_user dave 'dave pw'
for n in a b; do
  write_node_config "$n" "
[tunnel_group.certs]
certificate = \"required\"
"
  # Into the existing [tls] table, after its private_key line.
  sed -i "s|^private_key = \"$TD_PKI/vpn.key\"\$|&\nclient_ca = \"$TD_CPKI/ca.pem\"\nclient_crl = \"$TD_CPKI/crl.pem\"|" \
    "${TD_NODE_CONFIG[$n]}"
  grep -q '^client_crl = ' "${TD_NODE_CONFIG[$n]}" || fail "client_crl not in node $n's config"
done
start_pair
act=$(active_node)
stb=$(other_node "$act")

step "client c1: openconnect with alice's certificate to ${TD_URL}certs, no user, no password"
td_launch c1 "$TD_NS_CLIENT" "" "--certificate=$TD_CPKI/alice.pem" "--sslkey=$TD_CPKI/alice.key" \
  "${TD_URL}certs"
wait_tunnel c1
ip1=$(client_ip c1)
TD_INDEX=$(session_field "$act" index)
index=$TD_INDEX
grep -q "login_ok index=$index .*auth=certificate " "$(node_log "$act")" ||
  fail "no login_ok auth=certificate for session $index on node $act"
assert_eq Certificate "$(session_field "$act" 'tunnels[0].auth_mode')" "auth mode on node $act"
step "certificate session $index up: $ip1 on node $act"

start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 2
wait_for 10 "node $stb caught up (lag 0)" td_caught_up "$stb"
assert_eq Certificate "$(session_field "$stb" 'tunnels[0].auth_mode')" \
  "auth mode of the session replicated to node $stb"

step "CRASH: kill -9 node $act"
failover_begin "$act"
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$(td_crash_gap_bound_ms)"
assert_eq alice "$(session_field "$stb" username)" "user of the resumed session"
assert_eq Certificate "$(session_field "$stb" 'tunnels[0].auth_mode')" "auth mode on node $stb"
grep -q "resume_certificate_refused" "$(node_log "$stb")" &&
  fail "node $stb refused alice's certificate at the resume"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost"

# The new active refuses a revoked certificate and a missing one as the old did.
td_launch r1 "$TD_NS_CLIENT" "" --authenticate "--certificate=$TD_CPKI/bob.pem" \
  "--sslkey=$TD_CPKI/bob.key" "${TD_URL}certs"
client_wait_exit r1 30
assert_ne 0 "$TD_RC" "openconnect exit code for bob's revoked certificate"
wait_for 5 "login_failed client_cert_revoked on node $stb" \
  grep -q "login_failed .*reason=client_cert_revoked" "$(node_log "$stb")"
td_alive "$(client_pid c1)" || fail "openconnect exited"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
stop_client c1 INT
