#!/usr/bin/env bash
# RADIUS accounting across a crash failover (docs/radius-accounting.md), against a real
# FreeRADIUS in its own namespace on the pair's inside switch. A client pings through the
# active; the active sends the Start and Interim-Updates (NAS-Identifier = its node id). The
# active is killed -9. After the failover, Interim-Updates come from the new active with the same
# Acct-Session-Id; there is no Stop and no second Start; no record reports fewer input octets
# than one before it (the last Interim before the crash included). A logout then ends it with
# one Stop (User-Request) from the new active.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "$0")/lib_pair.sh"
# shellcheck source=lib_radius_acct.sh
source "$(dirname "$0")/lib_radius_acct.sh"

TD_DEADLINE=120
setup_pair_topology
radius_ns_pair
radius_start
pair_with_client_on_topology dtls "$(radius_toml 2s)"
act=$TD_ACT stb=$TD_STB
id=$(session_field "$act" acct_session_id)
assert_match "$id" '^[0-9A-F]{16}$' "acct_session_id on node $act"
wait_detail 10 "$id" Start
assert_match "$(detail_records "$id" Start)" "NAS-Identifier = \"node-$act\"" "the Start's sender"

start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
wait_detail 10 "$id" Interim-Update 2
# The standby's mirror has the same Acct-Session-Id and sends nothing.
td_mirrored() { [[ $(session_field "$stb" acct_session_id) == "$id" ]]; }
wait_for 5 "the standby's mirror with the same Acct-Session-Id" td_mirrored
assert_eq 0 "$(detail_records "$id" | grep -c "NAS-Identifier = \"node-$stb\"" || true)" \
  "records from the standby before the crash"
before=$(detail_input_octets "$id" Interim-Update | tail -n1)
step "last Interim before the crash: $before input octets"

step "CRASH: kill -9 node $act"
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
assert_eq "$id" "$(session_field "$stb" acct_session_id)" "Acct-Session-Id on the new active"
td_interims_from() { # NODE MIN
  (($(detail_records "$id" Interim-Update | grep -c "NAS-Identifier = \"node-$1\"" || true) >= $2))
}
wait_for 15 "two Interim-Updates from node $stb" td_interims_from "$stb" 2
stop_ping_stream p
assert_eq 1 "$(detail_count "$id" Start)" "Starts of the session"
assert_eq 0 "$(detail_count "$id" Stop)" "Stops of the session"
after=$(detail_input_octets "$id" Interim-Update | tail -n1)
step "input octets: $before before the crash, $after from node $stb"
((after >= before)) || fail "the new active reported $after input octets, below $before"
sort -n -c <(detail_input_octets "$id" Interim-Update) ||
  fail "an Interim-Update reported fewer input octets than the one before it"

step "logout: one Stop from node $stb"
stop_client c1
wait_detail 10 "$id" Stop
assert_eq 1 "$(detail_count "$id" Stop)" "Stops of the session"
assert_match "$(detail_records "$id" Stop)" "NAS-Identifier = \"node-$stb\"" "the Stop's sender"
assert_eq User-Request "$(detail_values "$id" Stop Acct-Terminate-Cause)" "the terminate cause"
stop_octets=$(detail_input_octets "$id" Stop)
((stop_octets >= after)) || fail "the Stop reported $stop_octets input octets, below $after"
