#!/usr/bin/env bash
# The headend enforces the group policy on what clients send (docs/traffic-policy.md), on both
# tunnel kinds (alice on DTLS, bob on CSTP with --no-dtls), with the real openconnect:
#  1. Split tunnel (routes = 10.201.0.0/24): the inside host answers. A network behind the
#     headend but outside the split-include (10.203.0.0/24, routed into the tunnel by hand in
#     the client namespace) is dropped, counted (not_included) and logged rate-limited: a flood
#     of 300 such pings gives fewer than 300 log lines but every packet counted.
#  2. The headend itself: ping to its inside address works; its TLS port (listen 0.0.0.0) and
#     its metrics port on that address answer the inside host but not a client through the
#     tunnel (dropped, node_address).
#  3. Client to client: alice cannot ping bob (client_to_client, counted); a reload with
#     client_to_client = true lets her without reconnecting; a reload back to false stops it.
#  4. A reload that includes 10.203.0.0/24 lets the dropped pings through (so the drop in 1 was
#     the policy, and the new policy reaches live sessions); one that excludes it stops them
#     again (excluded).
#  5. Nobody was reconnected by any of it.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

METRICS=$TD_INSIDE_GW:9300
OUTSIDE_NET=10.203.0.0/24
OUTSIDE_IP=10.203.0.2

# The config of this test: the lib's, listening on every address (so the TLS port is on the
# inside address too), metrics on the inside address, and POLICY_TOML.
write_policy_config() { # POLICY_TOML
  write_config "$1"
  sed -i "s|^listen = .*|listen = \"0.0.0.0:$TD_PORT\"|" "$TD_CONFIG"
  sed -i "/^\[node\]\$/a metrics_listen = \"$METRICS\"" "$TD_CONFIG"
  grep -q "^metrics_listen = \"$METRICS\"\$" "$TD_CONFIG" || fail "metrics_listen not set"
}

reload() {
  local out
  out=$(tctl reload) || fail "tandemctl reload: $out"
  step "tandemctl reload: $out"
}

# drops REASON: tandem_traffic_policy_drops_total{reason=REASON} in a scrape from the headend.
drops() {
  local body value
  body=$(ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics") ||
    fail "metrics scrape failed"
  value=$(awk -v s="tandem_traffic_policy_drops_total{reason=\"$1\"}" '$1 == s {print $2}' \
    <<<"$body")
  [[ -n $value ]] || fail "no traffic_policy_drops_total series for reason $1"
  printf '%s\n' "$value"
}

# no_ping NS DEST: not one of 3 echoes is answered.
no_ping() {
  local out
  out=$(ip netns exec "$1" ping -n -q -c 3 -i 0.2 -W 1 "$2" 2>&1) || true
  [[ $out =~ ([0-9]+)\ packets\ transmitted,\ 0\ received ]] ||
    fail "ping $2 from $1 was answered: $out"
  step "ping $2 from $1: no answer, as the policy says"
}

# http_code NS URL: the HTTP status a 2 s curl gets ("000" when it cannot connect).
http_code() {
  ip netns exec "$1" curl -sk -o /dev/null -w '%{http_code}' --connect-timeout 2 --max-time 4 \
    "$2" 2>/dev/null || true
}

setup_topology
add_client2_ns
# A network behind the headend that no policy includes at first: a second address on the inside
# host, routed by the headend.
ip -n "$TD_NS_INSIDE" addr add "$OUTSIDE_IP/24" dev "${TD_IFP}in"
ip -n "$TD_NS_HEADEND" route add "$OUTSIDE_NET" via "$TD_INSIDE_IP"
add_user alice 'alice pw'
add_user bob 'bob pw'
write_policy_config '
[policy.default]
client_to_client = false
'
start_tandemd

start_client a alice 'alice pw'
start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw' --no-dtls
wait_tunnel a
wait_tunnel b
ip_a=$(client_ip a)
ip_b=$(client_ip b)
index_a=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
index_b=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
wait_log 20 tunnel_up "index=$index_a .*kind=dtls( |$)" >/dev/null
assert_eq 0 "$(log_count tunnel_up "index=$index_b .*kind=dtls( |$)")" "DTLS tunnels of bob"

# --- 1. split tunnel ----------------------------------------------------------------------------
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
assert_eq 0 "$(drops not_included)" "not_included drops before any"
ip -n "$TD_NS_CLIENT" route add "$OUTSIDE_NET" dev "${TD_CLIENT_IF[a]}"
ip -n "$TD_NS_CLIENT2" route add "$OUTSIDE_NET" dev "${TD_CLIENT_IF[b]}"
no_ping "$TD_NS_CLIENT" "$OUTSIDE_IP"
no_ping "$TD_NS_CLIENT2" "$OUTSIDE_IP"
n=$(drops not_included)
((n >= 6)) || fail "not_included drops after 6 pings outside the split-include: $n"
line=$(wait_log 5 traffic_dropped "index=$index_a .*reason=not_included")
assert_eq "$ip_a" "$(field src "$line")" "traffic_dropped src"
assert_eq "$OUTSIDE_IP" "$(field dst "$line")" "traffic_dropped dst"
assert_eq 1 "$(field protocol "$line")" "traffic_dropped protocol (ICMP)"
wait_log 5 traffic_dropped "index=$index_b .*reason=not_included" >/dev/null
# The inside host itself is reachable through the headend (the drop is not a routing problem).
assert_ping "$TD_NS_HEADEND" "$OUTSIDE_IP" 2

# Over bob's CSTP tunnel, which loses nothing on the way: every flooded packet must be counted.
step "flood: 300 pings outside the split-include from bob, in about 1.5 s"
lines_before=$(log_count traffic_dropped)
ip netns exec "$TD_NS_CLIENT2" ping -n -q -c 300 -i 0.005 -W 1 "$OUTSIDE_IP" >/dev/null 2>&1 ||
  true
flood=$(($(drops not_included) - n))
lines=$(($(log_count traffic_dropped) - lines_before))
step "flood: $flood drops counted, $lines log lines"
((flood >= 300)) || fail "only $flood of the 300 flooded pings counted"
((lines < 60)) || fail "$lines traffic_dropped lines for a 300-packet flood: not rate-limited"

# --- 2. the headend's own ports -------------------------------------------------------------------
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_GW" 2
code=$(http_code "$TD_NS_INSIDE" "http://$METRICS/metrics")
assert_eq 200 "$code" "metrics from the inside host"
code=$(http_code "$TD_NS_INSIDE" "https://$TD_INSIDE_GW:$TD_PORT/")
assert_ne 000 "$code" "TLS port on the inside address, from the inside host"
node_drops=$(drops node_address)
for ns in "$TD_NS_CLIENT" "$TD_NS_CLIENT2"; do
  assert_eq 000 "$(http_code "$ns" "http://$METRICS/metrics")" "metrics through the tunnel ($ns)"
  assert_eq 000 "$(http_code "$ns" "https://$TD_INSIDE_GW:$TD_PORT/")" \
    "TLS port through the tunnel ($ns)"
  assert_eq 000 "$(http_code "$ns" "https://$TD_POOL_GW:$TD_PORT/")" \
    "TLS port on the pool gateway through the tunnel ($ns)"
done
n=$(drops node_address)
((n >= node_drops + 6)) || fail "node_address drops: $node_drops before, $n after 6 refused connects"
wait_log 5 traffic_dropped "index=$index_a .*reason=node_address .*dst=$TD_INSIDE_GW( |$)" >/dev/null
wait_log 5 traffic_dropped "index=$index_b .*reason=node_address .*dst=$TD_POOL_GW( |$)" >/dev/null
# The first line written after the flood tells how many were left out.
line=$(log_events traffic_dropped 'suppressed=[1-9]' | head -n1)
[[ -n $line ]] || fail "no traffic_dropped line reports suppressed lines after the flood"
step "log: $line"

# --- 3. client to client ----------------------------------------------------------------------------
no_ping "$TD_NS_CLIENT" "$ip_b"
no_ping "$TD_NS_CLIENT2" "$ip_a"
n=$(drops client_to_client)
((n >= 6)) || fail "client_to_client drops after 6 pings between clients: $n"
wait_log 5 traffic_dropped "index=$index_a .*reason=client_to_client .*dst=$ip_b( |$)" >/dev/null

write_policy_config '
[policy.default]
client_to_client = true
'
reload
assert_ping "$TD_NS_CLIENT" "$ip_b" 3
assert_ping "$TD_NS_CLIENT2" "$ip_a" 3
# Still nothing of the headend's own.
assert_eq 000 "$(http_code "$TD_NS_CLIENT" "http://$METRICS/metrics")" "metrics with client_to_client"

write_policy_config '
[policy.default]
client_to_client = false
'
reload
no_ping "$TD_NS_CLIENT" "$ip_b"

# --- 4. the policy's networks, live -----------------------------------------------------------------
write_policy_config '
[policy.default]
routes = ["10.201.0.0/24", "10.203.0.0/24"]
'
reload
assert_ping "$TD_NS_CLIENT" "$OUTSIDE_IP" 3
assert_ping "$TD_NS_CLIENT2" "$OUTSIDE_IP" 3
excluded=$(drops excluded)
write_policy_config '
[policy.default]
routes = ["10.201.0.0/24", "10.203.0.0/24"]
exclude_routes = ["10.203.0.0/25"]
'
reload
no_ping "$TD_NS_CLIENT" "$OUTSIDE_IP"
n=$(drops excluded)
((n >= excluded + 3)) || fail "excluded drops: $excluded before, $n after 3 pings"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

# --- 5. nobody was disturbed ----------------------------------------------------------------------
for id in a b; do
  td_alive "$(client_pid "$id")" || fail "client $id exited"
  assert_eq 1 "$(count_in "$(client_log "$id")" 'Got CONNECT response: HTTP/1.1 200')" \
    "CONNECTs of client $id (a reconnect would add one)"
done
assert_eq 0 "$(log_count tunnel_down)" "tunnels that went down"
assert_eq 0 "$(drops spoofed_source)" "spoofed_source drops from openconnect"
assert_eq 0 "$(drops malformed)" "malformed drops from openconnect"
stop_client a INT
stop_client b INT
stop_tandemd
