#!/usr/bin/env bash
# IPv6 across failovers (docs/ipv6.md, "Pairs"): a dual-stack openconnect client on a pair whose
# member has an IPv6 inside address (inside_address6 = fd00:201::1/64); the inside host
# fd00:201::2 routes the IPv6 pool via that address. Before the crash: the active holds it, the
# standby not, the standby's mirror holds the session's IPv6 address, and the client pings the
# inside host over IPv6 through the tunnel. The active is killed (kill -9): its keeper drops
# the address, the standby takes it and announces it (unsolicited Neighbour Advertisement), so
# the inside host's neighbour entry for fd00:201::1 names the new active's MAC within 2 s with
# no traffic of its own; the client resumes with the same IPv6 address and pings the inside host
# through the new active. Then the killed node rejoins as standby and a planned failover moves
# the address back (released by the stepping-down node, announced again by the other).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "$0")/lib_pair.sh"

TD_HOLD=${TD_HOLD:-2s}
setup_pair_topology
enable_pair_ipv6
pair_with_client_on_topology dtls
act=$TD_ACT stb=$TD_STB index=$TD_INDEX

wait_for 10 "an IPv6 address on the client's tun" td_client_has_ip6 c1
ip6=$(client_ip6 c1)
assert_match "$ip6" '^fd00:77::[0-9a-f]+$' "the client's IPv6 address is from the pool"
assert_eq "$ip6" "$(session_field "$act" assigned_ipv6)" "assigned_ipv6 on node $act"
td_mirror_has_ip6() {
  [[ $(nctl "$stb" show sessions --json |
    jq -r ".sessions[] | select(.index == \"$index\") | .assigned_ipv6") == "$ip6" ]]
}
wait_for 10 "node $stb's mirror holding $ip6 for session $index" td_mirror_has_ip6
step "client c1: $TD_IP1 and $ip6, session $index on node $act, mirrored on node $stb"

# The inside host's neighbour entry for fd00:201::1 names NODE's inside MAC.
td_neigh_is() { [[ $(td_inside_host_neigh6) == "$(td_inside_mac "$1")" ]]; }
# taken6 NODE: how often NODE logged taking the IPv6 inside address (its log spans restarts).
taken6() {
  grep -c "service_address_taken address=$TD_INSIDE6_GW/64 interface=${TD_IFP}${1}i" \
    "$(node_log "$1")" || true
}
# check_holder NEW OLD TAKEN: NEW holds the IPv6 inside address and logged taking it (TAKEN
# lines before), OLD gives it up within 3 s, and the inside host's neighbour entry follows NEW
# within 3 s of the address being seen, before any traffic through NEW could have refreshed it.
check_holder() {
  local new=$1 old=$2 taken=$3 t0
  wait_for 10 "node $new holding $TD_INSIDE6_GW/64" td_has_inside6 "$new"
  t0=$(td_now_ms)
  poll_until 3 td_neigh_is "$new" ||
    fail "the inside host's neighbour entry for $TD_INSIDE6_GW is '$(td_inside_host_neigh6)', not node $new's $(td_inside_mac "$new") (no neighbour advertisement?)"
  step "inside host: $TD_INSIDE6_GW -> node $new's $(td_inside_mac "$new"), seen within $(($(td_now_ms) - t0)) ms (polling included) of the address on node $new"
  poll_until 3 not td_has_inside6 "$old" || fail "node $old still holds $TD_INSIDE6_GW"
  (($(taken6 "$new") > taken)) ||
    fail "node $new did not log service_address_taken for $TD_INSIDE6_GW/64"
  ! grep -q "neighbour_advert_failed" "$(node_log "$new")" ||
    fail "node $new: $(grep -m1 neighbour_advert_failed "$(node_log "$new")")"
}
not() { ! "$@"; }

td_has_inside6 "$act" || fail "node $act (active) does not hold $TD_INSIDE6_GW/64"
(($(taken6 "$act") >= 1)) || fail "node $act did not log service_address_taken for $TD_INSIDE6_GW/64"
td_has_inside6 "$stb" && fail "node $stb (standby) holds $TD_INSIDE6_GW/64"
assert_ping "$TD_NS_CLIENT" "$TD_POOL6_GW" 3
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 3
td_neigh_is "$act" || fail "the inside host reaches $TD_INSIDE6_GW at '$(td_inside_host_neigh6)', not node $act"

step "CRASH: kill -9 node $act"
t0=$(td_now_ms)
taken=$(taken6 "$stb")
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
check_holder "$stb" "$act" "$taken"
wait_resumed "$stb"
wait_for 20 "ping6 to the inside host through node $stb" ping_from "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 1
step "ping6 to the inside host answered through node $stb $(($(td_now_ms) - t0)) ms after the kill"

assert_eq "$ip6" "$(client_ip6 c1)" "the client's IPv6 address after the failover"
assert_eq "$TD_IP1" "$(client_ip c1)" "the client's IPv4 address after the failover"
out=$(nctl "$stb" show sessions --json)
assert_eq "$ip6" "$(jq -r ".sessions[] | select(.index == \"$index\") | .assigned_ipv6" <<<"$out")" \
  "assigned_ipv6 on node $stb"
line=$(grep -m1 "session_resumed index=$index " "$(node_log "$stb")")
assert_eq "$ip6" "$(field ip6 "$line")" "session_resumed ip6 on node $stb"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 3
assert_ping "$TD_NS_CLIENT" "$TD_POOL6_GW" 3
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
td_alive "$(client_pid c1)" || fail "openconnect exited"

step "node $act rejoins as standby, then a planned failover back to it"
start_node "$act"
wait_for 20 "node $act following node $stb" td_following "$act"
wait_for 10 "node $act caught up (lag 0)" td_caught_up "$act"
td_has_inside6 "$act" && fail "the rejoined standby holds $TD_INSIDE6_GW/64"
taken=$(taken6 "$act")
out=$(nctl "$stb" failover) || fail "tandemctl failover on node $stb: $out"
step "failover on node $stb: $out"
wait_for 15 "node $act active" td_is_active "$act"
check_holder "$act" "$stb" "$taken"
grep -q "service_address_released address=$TD_INSIDE6_GW/64" "$(node_log "$stb")" ||
  fail "node $stb did not log service_address_released for $TD_INSIDE6_GW/64"
wait_for 20 "ping6 to the inside host through node $act" ping_from "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 1
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 3
assert_eq "$ip6" "$(client_ip6 c1)" "the client's IPv6 address after the failover back"
td_alive "$(client_pid c1)" || fail "openconnect exited"
