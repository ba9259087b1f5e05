#!/usr/bin/env bash
# RADIUS and failover (docs/radius.md): a user logged in through RADIUS on the active node of a
# pair keeps her session across a planned failover, with no new Access-Request: the standby
# has the session's RADIUS Class, auth method and address from replication, and the client's
# token is the credential. A real FreeRADIUS answers in the inside namespace.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "$0")/lib_pair.sh"
# shellcheck source=lib_radius.sh
source "$(dirname "$0")/lib_radius.sh"

setup_pair_topology
RADIUS_CLIENTS=10.201.0.0/24 # either node may ask, from its own or the service inside address
write_radius_config
start_freeradius
write_radius_secret
make_pair_pki
add_user bob 'bob users-file pw'
radius_toml="
[radius]
servers = [\"$RADIUS_IP\"]
secret_file = \"$RADIUS_SECRET_FILE\"
timeout = \"1s\"

[tunnel_group.company]
auth = \"radius\"
"
write_node_config a "$radius_toml"
write_node_config b "$radius_toml"
start_pair
act=$(active_node)
stb=$(other_node "$act")

start_client c1 alice 'alice-radius-pw' --authgroup=company
wait_tunnel c1
ip1=$(client_ip c1)
TD_INDEX=$(session_field "$act" index)
assert_eq radius "$(session_field "$act" auth_method)" "auth method on the active"
assert_eq staff "$(session_field "$act" radius_class)" "Class on the active"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq 1 "$(access_requests)" "Access-Requests for the login"
wait_for 20 "node $stb caught up" td_caught_up "$stb"

step "planned failover: node $act -> node $stb"
out=$(nctl "$act" failover) || fail "tandemctl failover on node $act: $out"
wait_resumed "$stb" 30
wait_for 20 "client c1's tunnel back" td_client_up c1
assert_eq "$ip1" "$(client_ip c1)" "the client's address after the failover"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq "$TD_INDEX" "$(session_field "$stb" index)" "session index on the new active"
assert_eq radius "$(session_field "$stb" auth_method)" "auth method on the new active"
assert_eq staff "$(session_field "$stb" radius_class)" "Class on the new active"
assert_eq 1 "$(access_requests)" "Access-Requests after the failover"
assert_eq 0 "$(count_in "$(node_log "$stb")" ' login_ok ')" "logins on the new active"
stop_client c1 INT
