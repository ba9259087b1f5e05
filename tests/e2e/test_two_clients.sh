#!/usr/bin/env bash
# Scenario 7: two clients in two namespaces at once get different addresses, and traffic in
# both directions reaches the right one (the inside host pings each tunnel address).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
write_config
start_tandemd

start_client a alice 'alice pw'
start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw'
wait_tunnel a
wait_tunnel b
ip_a=$(client_ip a)
ip_b=$(client_ip b)
assert_ne "$ip_a" "$ip_b" "the two clients' addresses"
assert_match "$ip_a" '^10\.77\.0\.[0-9]+$' "alice's address in the pool"
assert_match "$ip_b" '^10\.77\.0\.[0-9]+$' "bob's address in the pool"

line_a=$(wait_log 5 login_ok 'user=alice( |$)')
line_b=$(wait_log 5 login_ok 'user=bob( |$)')
assert_ne "$(field index "$line_a")" "$(field index "$line_b")" "session indexes"
assert_eq "$ip_a" "$(field ip "$line_a")" "alice's login_ok ip"
assert_eq "$ip_b" "$(field ip "$line_b")" "bob's login_ok ip"
assert_match "$(field public "$line_a")" '^10\.200\.0\.2:[0-9]+$' "alice's public address"
assert_match "$(field public "$line_b")" '^10\.202\.0\.2:[0-9]+$' "bob's public address"

assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
assert_ping "$TD_NS_INSIDE" "$ip_a" 3
assert_ping "$TD_NS_INSIDE" "$ip_b" 3

stop_client a INT
assert_eq 0 "$TD_RC" "alice's exit code"
# bob is unaffected by alice leaving.
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
stop_client b INT
assert_eq 0 "$TD_RC" "bob's exit code"
assert_eq 2 "$(log_count session_end 'reason=logout')" "logouts logged"
stop_tandemd
