#!/usr/bin/env bash
# IPv6 across a crash failover (docs/ipv6.md, "Pairs"): a dual-stack openconnect client on a
# pair; the standby's mirror holds the session's IPv6 address before the crash; the active is
# killed (kill -9); on the new active the client resumes with the same IPv6 address (on its tun,
# in tandemctl, in session_resumed) and ping6 through the tunnel is answered again, as is IPv4.
# The ping6 goes to the pool's first address, which the new active puts on its TUN device when
# it takes over: the inside network's IPv6 route to the active node is the network's affair
# (the member's inside address is IPv4 only).
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "$0")/lib_pair.sh"

TD_HOLD=${TD_HOLD:-2s}
setup_pair_topology
td_ipv6_on "$TD_NS_CLIENT" "$TD_NS_NODE_A" "$TD_NS_NODE_B"
TD_POOL_EXTRA="ipv6 = \"$TD_POOL6\"
routes6 = [\"$TD_INSIDE6_NET\"]"
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
assert_ping "$TD_NS_CLIENT" "$TD_POOL6_GW" 3
step "client c1: $TD_IP1 and $ip6, session $index on node $act, mirrored on node $stb"

step "CRASH: kill -9 node $act"
t0=$(td_now_ms)
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
wait_for 15 "ping6 through the tunnel on node $stb" ping_from "$TD_NS_CLIENT" "$TD_POOL6_GW" 1
step "ping6 answered through node $stb $(($(td_now_ms) - t0)) ms after the kill"

assert_eq "$ip6" "$(client_ip6 c1)" "the client's IPv6 address after the failover"
assert_eq "$TD_IP1" "$(client_ip c1)" "the client's IPv4 address after the failover"
out=$(nctl "$stb" show sessions --json)
assert_eq "$ip6" "$(jq -r ".sessions[] | select(.index == \"$index\") | .assigned_ipv6" <<<"$out")" \
  "assigned_ipv6 on node $stb"
line=$(grep -m1 "session_resumed index=$index " "$(node_log "$stb")")
assert_eq "$ip6" "$(field ip6 "$line")" "session_resumed ip6 on node $stb"
assert_ping "$TD_NS_CLIENT" "$TD_POOL6_GW" 3
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
td_alive "$(client_pid c1)" || fail "openconnect exited"
