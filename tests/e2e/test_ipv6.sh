#!/usr/bin/env bash
# IPv6 inside the tunnel (docs/ipv6.md), with the real openconnect: a dual-stack session gets
# an IPv6 address from the pool (the same one tandemctl shows), ping6 and a checksummed TCP
# transfer over IPv6 reach the inside host through the tunnel (over DTLS, or over TLS with
# $1 = tls), IPv4 still works, the headend answers ping6 on its tunnel address, a packet from
# an IPv6 source that is not the session's is dropped and logged as spoofed_source, and a
# resume (the client's TCP connection destroyed) keeps the IPv6 address.
#   $1: dtls (default) | tls (openconnect --no-dtls)
#   $2: root (default) | user: tandemd drops to [process] user (TD_LP_USER, default tandem) once
#       it listens, so the IPv6 pool's address, routes and neighbour answers are set up before
#       the drop or with the capability it keeps (docs/privileges.md)
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MODE=${1:-dtls}
RUN_AS=${2:-root}
bytes=$((4 * 1024 * 1024))

setup_topology
enable_ipv6
add_user alice 'correct horse'
if [[ $RUN_AS == user ]]; then
  ensure_service_user "${TD_LP_USER:-tandem}"
  chgrp "$TD_SERVICE_GID" "$TD_USERS" # read as the service user
  chmod 0640 "$TD_USERS"
  write_config "[process]
user = \"${TD_LP_USER:-tandem}\""
else
  write_config
fi
start_tandemd
assert_contains "$TD_TANDEMD_LOG" " listening .*pool6=fd00:77::/64" "tandemd serves the IPv6 pool"
if [[ $RUN_AS == user ]]; then
  uids=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "/proc/$TD_TANDEMD_PID/status")
  want=$(id -u "${TD_LP_USER:-tandem}")
  assert_eq "$want $want $want $want" "$uids" "tandemd's uids once listening"
fi

extra=()
[[ $MODE == tls ]] && extra+=(--no-dtls)
start_client c1 alice 'correct horse' "${extra[@]}"
wait_tunnel c1
[[ $MODE == dtls ]] && wait_client_dtls c1 >/dev/null
wait_for 10 "an IPv6 address on the client's tun" td_client_has_ip6 c1
ip6=$(client_ip6 c1)
assert_match "$ip6" '^fd00:77::[0-9a-f]+$' "the client's IPv6 address is from the pool"
step "client c1: $(client_ip c1) and $ip6"
grep -q "INTERNAL_IP6_NETMASK=$ip6/64" "$TD_DIR"/vpnc-*.log ||
  fail "openconnect did not pass X-CSTP-Address-IP6 as $ip6/64 to the vpnc-script"

# tandemctl shows it (item 8).
json=$(tctl show sessions --json)
assert_eq "$ip6" "$(jq -r '.sessions[0].assigned_ipv6' <<<"$json")" "assigned_ipv6 in --json"
tctl show sessions --detail >"$TD_DIR/detail.txt"
assert_contains "$TD_DIR/detail.txt" "Assigned IPv6: +$ip6\$" "Assigned IPv6 in --detail"
json=$(tctl status --json)
assert_eq "$TD_POOL6 1" "$(jq -r '"\(.pool6) \(.pool6_in_use)"' <<<"$json")" "status: pool6 in use"

# The data path, both families.
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 3
assert_ping "$TD_NS_CLIENT" "$TD_POOL6_GW" 2
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
transfer_roundtrip "$TD_NS_CLIENT" "$bytes" "$TD_INSIDE6_IP"
td_alive "$(client_pid c1)" || fail "client c1 died during the transfer"

# The IPv6 transfer went over the carrier of this mode: its tunnel counted both directions.
json=$(tctl show sessions --json)
if [[ $MODE == dtls ]]; then
  kind=DTLS-Tunnel
else
  kind=SSL-Tunnel
  [[ $(jq '[.sessions[0].tunnels[] | select(.type == "DTLS-Tunnel")] | length' <<<"$json") == 0 ]] ||
    fail "a DTLS tunnel exists with --no-dtls"
fi
rx=$(jq -r ".sessions[0].tunnels[] | select(.type == \"$kind\") | .bytes_rx" <<<"$json")
tx=$(jq -r ".sessions[0].tunnels[] | select(.type == \"$kind\") | .bytes_tx" <<<"$json")
((rx > bytes && tx > bytes)) || fail "$kind carried rx=$rx tx=$tx bytes, less than the transfer"
step "$kind carried rx=$rx tx=$tx bytes"

# Anti-spoofing: a second address on the client's tun, inside the pool but not the session's.
spoof=fd00:77::99
ip -n "$TD_NS_CLIENT" -6 addr add "$spoof/128" dev "${TD_CLIENT_IF[c1]}" nodad
if ip netns exec "$TD_NS_CLIENT" ping -6 -n -q -c 2 -i 0.2 -W 1 -I "$spoof" "$TD_INSIDE6_IP" \
  >/dev/null 2>&1; then
  fail "a ping from the spoofed source $spoof was answered"
fi
line=$(wait_log 5 traffic_dropped "reason=spoofed_source .*src=$spoof ")
assert_eq "$TD_INSIDE6_IP" "$(field dst "$line")" "traffic_dropped dst"
assert_eq "$ip6" "$(field ip6 "$line")" "traffic_dropped names the session's IPv6 address"
step "spoofed IPv6 source dropped: $line"
ip -n "$TD_NS_CLIENT" -6 addr del "$spoof/128" dev "${TD_CLIENT_IF[c1]}"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 2

step "resume: destroy the client's TCP connection (ss -K)"
connects() { count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200'; }
reconnected() { (($(connects) > $1)); }
before=$(connects)
kill_client_tcp "$TD_NS_CLIENT"
line=$(wait_log 30 session_resumed "index=1( |$)")
assert_eq "$ip6" "$(field ip6 "$line")" "session_resumed ip6"
wait_for 30 "openconnect's CONNECT answered again" reconnected "$before"
td_alive "$(client_pid c1)" || fail "openconnect exited instead of resuming"
assert_not_contains "$(client_log c1)" 'Reconnect gave different' "client addresses after the resume"
assert_eq "$ip6" "$(client_ip6 c1)" "the client's IPv6 address after the resume"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE6_IP" 3
assert_eq 1 "$(log_count login_ok)" "logins (a resume must not log in again)"

stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
stop_tandemd
