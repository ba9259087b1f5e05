#!/usr/bin/env bash
# Legacy DTLS (docs/dtls-modes.md), with the real openconnect made to speak what Cisco Secure
# Client speaks:
#   1. only X-DTLS12-CipherSuite (Cisco's DTLS 1.2 names, no PSK-NEGOTIATE): the headend answers
#      one suite and a 64-hex X-DTLS-Session-ID, the client resumes that session with its own
#      master secret, pings cross the DTLS tunnel; the secret appears in no log and no state file;
#   2. a TLS loss: the client reconnects with a new CONNECT, gets a new session id, and the same
#      session gets a new legacy DTLS tunnel;
#   3. openconnect's own OC-DTLS1_2-AES128-GCM name in X-DTLS-CipherSuite: resumed likewise;
#   4. only DTLS 0.9 names: refused with a logged reason, the client carries on over CSTP;
#   5. a group with dtls_legacy = "off": refused (reason legacy_off), CSTP works.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_topology
add_user alice 'pw-a'
add_user bob 'pw-b'
add_user carol 'pw-c'
add_user dave 'pw-d'
write_config '
[policy.nolegacy]
dtls_legacy = "off"

[tunnel_group.strict]
policy = "nolegacy"
users = ["dave"]
'
start_tandemd

# wait_legacy_dtls ID INDEX SUITE: the client's DTLS is up, resumed (not a full handshake), and
# tandemd's tunnel_up for INDEX names SUITE.
wait_legacy_dtls() {
  wait_for 20 "client $1: Established DTLS connection" \
    grep -q 'Established DTLS connection' "$(client_log "$1")"
  local line
  line=$(wait_log 10 tunnel_up "index=$2 .*kind=dtls")
  assert_eq "$3" "$(field cipher "$line")" "tunnel_up cipher of index $2"
  assert_eq DTLSv1.2 "$(field encapsulation "$line")" "tunnel_up encapsulation of index $2"
  if grep -q 'DTLS session resume failed' "$(client_log "$1")"; then
    fail "client $1: the DTLS session was not resumed"
  fi
}

step "1. Cisco DTLS 1.2 names only"
start_client c1 alice 'pw-a' --authgroup=default --dump-http-traffic --dtls12-ciphers=AES256-GCM-SHA384:AES128-GCM-SHA256
wait_tunnel c1
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
wait_legacy_dtls c1 "$index" AES256-GCM-SHA384
session_id=$(sed -n 's/.*X-DTLS-Session-ID: \([0-9a-fA-F]*\).*/\1/p' "$(client_log c1)" | tail -n1)
assert_match "$session_id" '^[0-9a-f]{64}$' "X-DTLS-Session-ID the client received"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5

# The master secret openconnect sent (--dump-http-traffic prints its request) is nowhere on
# the headend: not in the log, not in the state directory.
secret=$(sed -n 's/.*X-DTLS-Master-Secret: \([0-9A-Fa-f]\{96\}\).*/\1/p' "$(client_log c1)" | tail -n1)
assert_match "$secret" '^[0-9A-Fa-f]{96}$' "the master secret openconnect sent"
if grep -rqi "$secret" "$TD_TANDEMD_LOG" "$TD_DIR/state"; then
  fail "the DTLS master secret was written on the headend"
fi
step "the client's master secret (${secret:0:8}...) appears in no log and no state file"

step "2. TLS connection lost: a new CONNECT, a new session id, a new legacy DTLS tunnel"
mark=$(log_count tunnel_up "index=$index .*kind=dtls")
kill_client_tcp "$TD_NS_CLIENT"
wait_for 30 "session $index resumed" grep -q "session_resumed index=$index " "$TD_TANDEMD_LOG"
wait_for 30 "a second legacy DTLS tunnel for $index" td_log_count_above tunnel_up "$mark" "index=$index .*kind=dtls"
secret2=$(sed -n 's/.*X-DTLS-Master-Secret: \([0-9A-Fa-f]\{96\}\).*/\1/p' "$(client_log c1)" | tail -n1)
# openconnect keeps one master secret per process in this mode (it only changes in PSK mode);
# the headend gives every CONNECT a new session id, and each handshake's randoms make new keys.
ids=$(sed -n 's/.*X-DTLS-Session-ID: \([0-9a-f]*\).*/\1/p' "$(client_log c1)" | sort -u | wc -l)
((ids >= 2)) || fail "the reconnect got the same X-DTLS-Session-ID ($ids distinct)"
step "reconnect: a new session id ($ids distinct); master secret $([[ $secret2 == "$secret" ]] && echo "unchanged (openconnect keeps one per process)" || echo changed)"
assert_eq "$(client_ip c1)" "$(field ip "$(wait_log 5 session_resumed "index=$index ")")" "address kept"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

step "3. openconnect's OC-DTLS1_2 name in X-DTLS-CipherSuite"
start_client c2 bob 'pw-b' --authgroup=default --dtls-ciphers=OC-DTLS1_2-AES128-GCM
wait_tunnel c2
index2=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
wait_legacy_dtls c2 "$index2" AES128-GCM-SHA256
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

step "4. DTLS 0.9 only: refused with a reason, CSTP carries the traffic"
start_client c3 carol 'pw-c' --authgroup=default --dtls-ciphers=AES256-SHA
wait_tunnel c3
index3=$(field index "$(wait_log 5 login_ok 'user=carol( |$)')")
line=$(wait_log 5 dtls_not_offered "index=$index3 ")
assert_eq dtls09_only "$(field reason "$line")" "why carol got no DTLS"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_eq 0 "$(log_count tunnel_up "index=$index3 .*kind=dtls")" "DTLS tunnels of carol's session"

step "5. a group whose policy turns legacy DTLS off"
start_client c4 dave 'pw-d' --authgroup=strict --dtls12-ciphers=AES256-GCM-SHA384
wait_tunnel c4
index4=$(field index "$(wait_log 5 login_ok 'user=dave( |$)')")
line=$(wait_log 5 dtls_not_offered "index=$index4 ")
assert_eq legacy_off "$(field reason "$line")" "why dave got no DTLS"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

for c in c1 c2 c3 c4; do stop_client "$c" INT; done
stop_tandemd
