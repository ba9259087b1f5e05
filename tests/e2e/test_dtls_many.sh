#!/usr/bin/env bash
# Many DTLS associations from one client address (the UDP side's demultiplexing, notes §5.2):
# tandem-load --dtls sets up 60 tunnels, each with its DTLS association, all from one address
# on different ports, and holds them with short keepalives over DTLS.
#  - every association comes up (the load's report, and `status` counts 60 DTLS tunnels);
#  - a real openconnect in DTLS mode from the same address gets its own association and pings
#    through the tunnel while they are held;
#  - once the load lets go, the node is back to one DTLS tunnel (the real client's), and that
#    client still pings.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
SESSIONS=60
HOLD_S=25

[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"

status_field() { tctl status --json | jq -r ".$1"; }
td_dtls_tunnels_are() { [[ $(status_field tunnels_dtls) == "$1" ]]; }

setup_topology
add_user alice 'alice pw'
add_user bob 'bob pw'
printf 'bob pw\n' >"$TD_DIR/password-bob"
write_config "$TD_LOAD_CLIENT_CONFIG"
start_tandemd

step "tandem-load --dtls: $SESSIONS tunnels as bob, DTLS keepalive every 2 s, held ${HOLD_S}s"
ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --user bob \
  --password-file "$TD_DIR/password-bob" --sessions "$SESSIONS" --connect --dtls \
  --concurrency 10 --keepalive 2 --hold "$HOLD_S" --pin "$TD_PIN" --step-timeout 10 \
  --report-json "$TD_DIR/load.json" >"$TD_DIR/load.log" 2>&1 &
load_pid=$!
td_track "$load_pid"
wait_for 60 "$SESSIONS DTLS tunnels on the node" td_dtls_tunnels_are "$SESSIONS"
step "status: $(tctl status --json | jq -c '{sessions, tunnels_ssl, tunnels_dtls}')"

start_client a alice 'alice pw'
wait_tunnel a
wait_client_dtls a >/dev/null
wait_for 10 "$((SESSIONS + 1)) DTLS tunnels on the node" td_dtls_tunnels_are $((SESSIONS + 1))
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5

wait_for $((HOLD_S + 60)) "tandem-load to finish" td_not_alive "$load_pid"
rc=0
wait "$load_pid" || rc=$?
step "tandem-load: $(jq -c '{tunnels_up, tunnels_lost, dtls_up, dtls_failed, dtls_lost, keepalives_sent}' "$TD_DIR/load.json")"
assert_eq 0 "$rc" "tandem-load's exit status (every session and DTLS association up)"
assert_eq "$SESSIONS" "$(jq -r .dtls_up "$TD_DIR/load.json")" "DTLS associations up"
assert_eq 0 "$(jq -r .dtls_lost "$TD_DIR/load.json")" "DTLS associations lost while held"
(($(jq -r .keepalives_sent "$TD_DIR/load.json") >= SESSIONS * (HOLD_S / 2 - 2))) ||
  fail "too few keepalives sent over DTLS: $(jq -r .keepalives_sent "$TD_DIR/load.json")"
assert_eq 0 "$(log_count tunnel_down 'kind=dtls .*reason=(dpd|transport_error)')" \
  "DTLS tunnels ended by DPD or an error while held"

wait_for 30 "the node back to the real client's DTLS tunnel" td_dtls_tunnels_are 1
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5
stop_client a
stop_tandemd
step "PASS"
