#!/usr/bin/env bash
# Scenario 1: password login with the real openconnect; the tunnel gets an address from the
# pool and carries pings both ways: to the inside host, to the headend's tunnel gateway, and
# from the inside host back to the client.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd

# The headend's TUN holds the pool's first host.
ip -n "$TD_NS_HEADEND" -4 -o addr show dev tandem0 | grep -Eq "inet ${TD_POOL_GW//./\\.}[/ ]" ||
  fail "tandem0 in the headend namespace has no $TD_POOL_GW"

start_client c1 alice 'correct horse'
wait_tunnel c1
ip=$(client_ip c1)
assert_match "$ip" '^10\.77\.0\.([2-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-4])$' \
  "client tunnel address is a host of $TD_POOL other than the gateway"

line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
assert_match "$index" '^[0-9]+$' "login_ok index"
assert_eq "$ip" "$(field ip "$line")" "login_ok ip vs the client's tun address"
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "login_ok public address"
line=$(wait_log 5 tunnel_up "index=$index .*kind=ssl( |$)")
assert_eq "$ip" "$(field ip "$line")" "tunnel_up ip"

assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5
assert_ping "$TD_NS_CLIENT" "$TD_POOL_GW" 3
# Traffic that starts on the inside must find the session by its destination address.
assert_ping "$TD_NS_INSIDE" "$ip" 3

stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index( |$)")
assert_eq logout "$(field reason "$line")" "session_end reason after SIGINT (BYE)"
stop_tandemd
