#!/usr/bin/env bash
# Scenario 6: a logout frees the address at once, and the pool hands out the lowest free one.
# carol (second namespace) holds the first address; alice gets the next, logs out; bob must get
# alice's address back, not a fresh one.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
add_user carol 'carol pw'
write_config
start_tandemd

start_client --ns "$TD_NS_CLIENT2" c carol 'carol pw'
wait_tunnel c
assert_eq 10.77.0.2 "$(client_ip c)" "first client's address (lowest host after the gateway)"

start_client a alice 'alice pw'
wait_tunnel a
x=$(client_ip a)
assert_eq 10.77.0.3 "$x" "second client's address (lowest free)"
line=$(wait_log 5 login_ok 'user=alice( |$)')
index_a=$(field index "$line")
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

stop_client a INT
assert_eq 0 "$TD_RC" "alice's openconnect exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index_a( |$)")
assert_eq alice "$(field user "$line")" "session_end user"
assert_eq "$x" "$(field ip "$line")" "session_end ip"
assert_eq logout "$(field reason "$line")" "session_end reason"

start_client b bob 'bob pw'
wait_tunnel b
assert_eq "$x" "$(client_ip b)" "bob's address (alice's, freed by her logout)"
line=$(wait_log 5 login_ok 'user=bob( |$)')
assert_ne "$index_a" "$(field index "$line")" "bob's session index"
assert_eq "$x" "$(field ip "$line")" "login_ok ip for bob"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

stop_client b INT
stop_client c INT
stop_tandemd
