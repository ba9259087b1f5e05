#!/usr/bin/env bash
# S2/S20: what `tandemctl show sessions` and `status` report for real sessions, and how
# tandemctl fails. alice is connected with DTLS; a ping burst must grow her DTLS tunnel's
# counters while the SSL tunnel's data counters stay near zero (keepalives and DPD are not
# data), which proves data is counted on the record that carried it. bob holds only a token
# (inactive, S5). Then the brief, --detail and --json outputs, status, and the error paths:
# wrong socket, unknown index, non-root caller, bad arguments, failover on a standalone node.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# tunnel_counter ID FIELD: a counter of one of alice's tunnels ("<index>.3"), as a number.
tunnel_counter() {
  sessions_jq ".sessions[0].tunnels[] | select(.id == \"$1\") | .$2 | tonumber" --index "$index"
}

# expect_failure RC ERE WHAT CMD...: CMD exits with RC and prints a line matching ERE on stderr.
expect_failure() {
  local want=$1 re=$2 what=$3 rc=0 err
  shift 3
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  assert_eq "$want" "$rc" "exit code of $what"
  assert_match "$err" "$re" "stderr of $what"
  step "$what: exit $rc, ${err%%$'\n'*}"
}

setup_topology
add_user alice 'correct horse'
add_user bob 'bob pw'
write_config
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
ip=$(client_ip c1)
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
wait_for 20 "client log: Established DTLS connection" \
  grep -q 'Established DTLS connection' "$(client_log c1)"
wait_log 10 tunnel_up "index=$index .*kind=dtls( |$)" >/dev/null

authenticate bob_auth bob 'bob pw'
index_bob=${TD_TOKEN%%-*}

step "show sessions --json: alice's session"
json=$(tctl show sessions --json --index "$index")
s=$(jq -c '.sessions[0]' <<<"$json")
assert_eq 1 "$(jq '.sessions | length' <<<"$json")" "sessions matching --index $index"
assert_eq "$index" "$(jq -r .index <<<"$s")" "index"
assert_eq alice "$(jq -r .username <<<"$s")" "username"
assert_eq "$ip" "$(jq -r .assigned_ip <<<"$s")" "assigned_ip vs the client's tun address"
assert_eq "$TD_CLIENT_ADDR" "$(jq -r .public_ip <<<"$s")" "public_ip"
assert_eq "AnyConnect-Parent SSL-Tunnel DTLS-Tunnel" "$(jq -r '.protocols | join(" ")' <<<"$s")" \
  "protocols"
assert_eq "$index.1 $index.2 $index.3" "$(jq -r '[.tunnels[].id] | join(" ")' <<<"$s")" \
  "tunnel ids (S1)"
assert_eq active "$(jq -r .state <<<"$s")" "state"
assert_eq default "$(jq -r .tunnel_group <<<"$s")" "tunnel_group"
assert_match "$(jq -r '.tunnels[2].encapsulation' <<<"$s")" '^DTLSv1\.2$' "DTLS encapsulation"
assert_match "$(jq -r '.tunnels[1].encapsulation' <<<"$s")" '^TLSv1\.[23]$' "SSL encapsulation"
# The schema is stable: every field of SessionView is there, zeros included.
assert_eq "" "$(jq -r .assigned_ipv6 <<<"$s")" "assigned_ipv6 of an IPv4-only session"
assert_eq "acct_session_id,assigned_ip,assigned_ipv6,auth_method,bytes_rx,bytes_tx,drops_rx,drops_tx,\
duration_s,encryption,group_policy,hashing,inactivity_s,index,login_time_unix,packets_rx,\
packets_tx,protocols,public_ip,radius_class,resumes,state,tunnel_group,tunnels,username" \
  "$(jq -r 'keys | join(",")' <<<"$s")" "SessionView fields"

step "ping burst: counted on the DTLS tunnel, not on the SSL tunnel"
dtls_rx0=$(tunnel_counter "$index.3" bytes_rx) dtls_tx0=$(tunnel_counter "$index.3" bytes_tx)
ssl_rx0=$(tunnel_counter "$index.2" bytes_rx) ssl_tx0=$(tunnel_counter "$index.2" bytes_tx)
out=$(ip netns exec "$TD_NS_CLIENT" ping -n -q -c 40 -i 0.02 -s 1000 -W 2 "$TD_INSIDE_IP" 2>&1) ||
  fail "ping burst through the tunnel: $out"
assert_match "$out" '40 packets transmitted, 40 received' "ping burst replies"
# 40 echoes and 40 replies of 1028 bytes each (IP header + ICMP header + 1000).
d_rx=$(($(tunnel_counter "$index.3" bytes_rx) - dtls_rx0))
d_tx=$(($(tunnel_counter "$index.3" bytes_tx) - dtls_tx0))
s_rx=$(($(tunnel_counter "$index.2" bytes_rx) - ssl_rx0))
s_tx=$(($(tunnel_counter "$index.2" bytes_tx) - ssl_tx0))
step "DTLS tunnel +$d_rx rx / +$d_tx tx bytes; SSL tunnel +$s_rx rx / +$s_tx tx bytes"
((d_rx >= 40 * 1028)) || fail "DTLS bytes_rx grew by $d_rx, expected >= $((40 * 1028))"
((d_tx >= 40 * 1028)) || fail "DTLS bytes_tx grew by $d_tx, expected >= $((40 * 1028))"
((s_rx < 2 * 1028 && s_tx < 2 * 1028)) || fail "SSL tunnel counted the burst: +$s_rx/+$s_tx"
((d_rx < 60 * 1028)) || fail "DTLS bytes_rx grew by $d_rx: more than the burst"
total_rx=$(sessions_jq '.sessions[0].bytes_rx | tonumber' --index "$index")
((total_rx >= 40 * 1028)) || fail "the session's bytes_rx ($total_rx) does not include the burst"

step "show sessions (brief and --detail)"
brief=$(tctl show sessions)
printf '%s\n' "$brief"
heading='^Index +Username +Assigned IP +Public IP +Protocol +Bytes Tx/Rx +Login Time +Duration'
assert_match "${brief%%$'\n'*}" "$heading +Inactivity +State\$" "brief heading"
assert_match "$brief" $'\n'"$index +alice +${ip//./\\.} +10\\.200\\.0\\.2 +SSL\\+DTLS .* active" \
  "alice's row"
assert_match "$brief" $'\n'"$index_bob +bob +.* Parent .* waiting_to_resume" "bob's row"
detail=$(tctl show sessions --detail --index "$index")
printf '%s\n' "$detail"
for re in '^Session Type: AnyConnect Detailed$' "^Username +: alice +Index +: $index\$" \
  "^Assigned IP +: ${ip//./\\.} +Public IP +: 10\\.200\\.0\\.2\$" \
  '^Protocol +: AnyConnect-Parent SSL-Tunnel DTLS-Tunnel$' \
  '^Encryption +: AnyConnect-Parent: \(1\)none  SSL-Tunnel: \(1\)[A-Z]' \
  '^Group Policy +: default +Tunnel Group +: default$' \
  '^Login Time +: [0-9]{2}:[0-9]{2}:[0-9]{2} UTC [A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{1,2} [0-9]{4}$' \
  '^Duration +: [0-9]+h:[0-5][0-9]m:[0-5][0-9]s$' '^Inactivity +: 0h:00m:00s$' \
  '^AnyConnect-Parent Tunnels: 1$' '^SSL-Tunnel Tunnels: 1$' '^DTLS-Tunnel Tunnels: 1$' \
  '^AnyConnect-Parent:$' '^SSL-Tunnel:$' '^DTLS-Tunnel:$' "^  Tunnel ID +: $index\\.3\$" \
  '^  Encapsulation: DTLSv1\.2 +UDP Src Port : [0-9]+$' '^  UDP Dst Port : 4443 ' \
  '^  Idle Time Out: 30 Minutes +Idle TO Left : [0-9]+ Minutes$' '^  Client Ver +: 9\.' \
  '^  Client OS +: linux-64$'; do
  grep -Eq -- "$re" <<<"$detail" || fail "show sessions --detail: no line matching /$re/"
done

step "the token-only session: inactive, waiting to resume"
b=$(tctl show sessions --json --inactive)
assert_eq "$index_bob" "$(jq -r '[.sessions[].index] | join(",")' <<<"$b")" \
  "--inactive lists bob only"
assert_eq waiting_to_resume "$(jq -r '.sessions[0].state' <<<"$b")" "bob's state"
assert_eq AnyConnect-Parent "$(jq -r '.sessions[0].protocols | join(" ")' <<<"$b")" "bob's tunnels"
assert_eq 0 "$(jq -r '.sessions[0].bytes_tx' <<<"$b")" "bob's bytes_tx (printed although 0)"
assert_eq "$index" "$(sessions_jq '[.sessions[].index] | join(",")' --protocol dtls)" \
  "--protocol dtls"
assert_eq 0 "$(sessions_jq '.sessions | length' --user nobody)" "--user with no sessions"

step "status"
st=$(tctl status --json)
assert_eq standalone "$(jq -r .role <<<"$st")" "status role"
assert_eq "2 1 1 1 1" "$(jq -r '[.sessions, .sessions_active, .sessions_inactive, .tunnels_ssl,
  .tunnels_dtls] | join(" ")' <<<"$st")" "status session and tunnel counts"
assert_eq "$TD_POOL" "$(jq -r .pool <<<"$st")" "status pool"
assert_eq 2 "$(jq -r .pool_in_use <<<"$st")" "status pool_in_use"
tctl status | grep -Eq '^Sessions +: 2 \(1 active, 1 waiting to resume\)$' ||
  fail "status: no 'Sessions : 2 (1 active, 1 waiting to resume)' line"

step "reload and failover"
out=$(tctl reload) || fail "tandemctl reload failed"
assert_match "$out" '^reloaded ' "reload output"
expect_failure 1 '^tandemctl: this node is standalone' "failover on a standalone node" tctl failover

step "errors"
expect_failure 1 "^tandemctl: no tandemd on $TD_DIR/nope\\.sock \\(is it running\\?\\)\$" \
  "a wrong socket path" "$TD_TANDEMCTL" --socket "$TD_DIR/nope.sock" status
expect_failure 1 '^tandemctl: no such session$' "logoff --index 999" tctl logoff --index 999
setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$TD_TANDEMCTL" ||
  fail "$TD_TANDEMCTL is not executable by uid 65534 (needed to test a non-root caller)"
expect_failure 1 "^tandemctl: not permitted: .* is root-only\$" "tandemctl as uid 65534" \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$TD_TANDEMCTL" \
  --socket "$(td_admin_socket)" show sessions
expect_failure 2 'tandemctl: show sessions: --index takes a session index' "--index abc" \
  tctl show sessions --index abc
expect_failure 2 'tandemctl: logoff: --index takes a session index' "--index 0" \
  tctl logoff --index 0
expect_failure 2 'tandemctl: logoff: --protocol is ssl or dtls' "--protocol tcp" \
  tctl logoff --protocol tcp
expect_failure 2 '^tandemctl: logoff: name the sessions' "logoff with no filter" tctl logoff
# None of these touched a session.
assert_eq 2 "$(sessions_jq '.sessions | length')" "sessions after the failed commands"
td_alive "$(client_pid c1)" || fail "alice's client died"

stop_client c1 INT
stop_tandemd
expect_failure 1 '^tandemctl: no tandemd' "tandemctl after tandemd stopped" tctl status
