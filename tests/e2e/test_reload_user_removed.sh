#!/usr/bin/env bash
# A user taken out of the users file loses their sessions at the reload, while everyone else
# keeps theirs:
#  1. alice (connected with openconnect, her token kept) and bob (second namespace, pinging
#     every 50 ms) are connected. alice's line is deleted from the users file and tandemd gets
#     SIGHUP: the reload reports one session logged off; tandemd logs user_revoked and
#     session_end reason=user_removed; alice's openconnect is told and exits 1 ("Session
#     terminated by server"); her token is refused (401, openconnect exits 2); her address is
#     freed; her password no longer works (login_failed reason="unknown user").
#  2. carol, connected, is disabled with `tandemctl disable` (a '!' before her hash) and
#     `tandemctl reload`: the same, with reason=user_disabled and login_failed reason="disabled
#     user"; `tandemctl enable` and a reload let her log in again with her old password.
#  3. bob saw none of it: same session, no tunnel_down, no ping lost, no silence over 500 ms.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PING_MS=50

# A login with openconnect --authenticate (no tunnel) from the client namespace; exit code in
# TD_RC.
try_login() { # ID USER PASSWORD
  step "client $1: openconnect --authenticate as $2"
  td_launch "$1" "$TD_NS_CLIENT" "$3" --authenticate --user="$2" --passwd-on-stdin "$TD_URL"
  client_wait_exit "$1" 30
}

# told ID: the client was told by the headend and gave up at once (exit 1, no reconnect).
told() {
  client_wait_exit "$1" 10
  assert_eq 1 "$TD_RC" "openconnect exit code of $1 after its user was revoked"
  assert_contains "$(client_log "$1")" 'Received server disconnect|received server terminate' \
    "$1 was told by the headend"
  assert_contains "$(client_log "$1")" 'Session terminated by server' "$1's reason for exiting"
}

pool_in_use() { tctl status --json | jq -r .pool_in_use; }

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
add_user carol 'carol pw'
write_config
start_tandemd

# --- everyone connected -------------------------------------------------------------------------
authenticate a0 alice 'alice pw'
alice_cookie=$TD_COOKIE
start_client_cookie a "$alice_cookie"
wait_tunnel a
alice_ip=$(client_ip a)
alice_index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw'
wait_tunnel b
bob_index=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
wait_log 20 tunnel_up "index=$bob_index .*kind=dtls( |$)" >/dev/null
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq 2 "$(pool_in_use)" "addresses in use with alice and bob"
start_ping_stream pb "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 0.05
ping_t0=$(td_now_ms)
sleep 1

# --- 1. alice removed from the file, SIGHUP -----------------------------------------------------
step "delete alice's line from the users file; SIGHUP"
sed -i '/^alice:/d' "$TD_USERS"
grep -q '^bob:' "$TD_USERS" || fail "bob vanished from the users file"
kill -HUP "$TD_TANDEMD_PID"
line=$(wait_log 10 reloaded)
assert_match "$(field detail "$line")" \
  "^reloaded $TD_CONFIG: 1 policies, 1 tunnel groups, 2 users; logged off 1 session of removed or disabled users\$" \
  "reload detail"
line=$(wait_log 5 user_revoked "index=$alice_index( |$)")
step "log: $line"
assert_eq alice "$(field user "$line")" "user_revoked user"
assert_eq "no longer in the users file" "$(field reason "$line")" "user_revoked reason"
line=$(wait_log 5 session_end "index=$alice_index( |$)")
assert_eq user_removed "$(field reason "$line")" "session_end reason for alice"
told a
listed "$alice_index" && fail "alice's session is still listed"
assert_eq 1 "$(pool_in_use)" "addresses in use after alice's session ended"
assert_eq 0 "$(sessions_jq '.sessions // [] | length' --user alice)" "alice's sessions"

step "alice's token again"
start_client_cookie a2 "$alice_cookie"
client_wait_exit a2 30
assert_eq 2 "$TD_RC" "openconnect exit code with alice's token after the reload"
assert_contains "$(client_log a2)" 'Cookie was rejected' "client message for alice's token"
wait_log 5 connect_refused 'status=401( |$)' >/dev/null
try_login a3 alice 'alice pw'
assert_eq 1 "$TD_RC" "alice's password login after her removal"
wait_log 5 login_failed 'user=alice .*reason="unknown user"' >/dev/null

# --- 2. carol disabled with tandemctl -----------------------------------------------------------
start_client c carol 'carol pw'
wait_tunnel c
carol_index=$(field index "$(wait_log 5 login_ok 'user=carol( |$)')")
out=$("$TD_TANDEMCTL" disable --users-file "$TD_USERS" carol) || fail "tandemctl disable: $out"
step "tandemctl disable: $out"
grep -q '^carol:!\$y\$' "$TD_USERS" || fail "no '!' before carol's hash: $(grep '^carol:' "$TD_USERS")"
td_alive "$(client_pid c)" || fail "carol was cut off before the reload"
out=$(tctl reload) || fail "tandemctl reload: $out"
step "tandemctl reload: $out"
assert_match "$out" "; logged off 1 session of removed or disabled users\$" "tandemctl reload output"
line=$(wait_log 5 session_end "index=$carol_index( |$)")
assert_eq user_disabled "$(field reason "$line")" "session_end reason for carol"
assert_eq "disabled in the users file" \
  "$(field reason "$(wait_log 5 user_revoked "index=$carol_index( |$)")")" "user_revoked reason"
told c
try_login c2 carol 'carol pw'
assert_eq 1 "$TD_RC" "carol's login while disabled"
wait_log 5 login_failed 'user=carol .*reason="disabled user"' >/dev/null

out=$("$TD_TANDEMCTL" enable --users-file "$TD_USERS" carol) || fail "tandemctl enable: $out"
out=$(tctl reload) || fail "tandemctl reload: $out"
assert_match "$out" ': 1 policies, 1 tunnel groups, 2 users$' "reload after enabling carol"
try_login c3 carol 'carol pw'
assert_eq 0 "$TD_RC" "carol's login once enabled again (her old password)"

# --- 3. bob, all along ----------------------------------------------------------------------------
stop_ping_stream pb
expected=$((($(td_now_ms) - ping_t0) / PING_MS))
ping_stream_stats pb "$PING_MS"
step "bob's pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
((TD_PING_SENT * 10 >= expected * 8)) ||
  fail "only $TD_PING_SENT pings answered from first to last, $expected expected: the stream stalled"
assert_eq 0 "$TD_PING_LOST" "pings bob lost"
((TD_PING_GAP_MS < 500)) || fail "a ${TD_PING_GAP_MS} ms silence in bob's pings"
listed "$bob_index" || fail "bob's session is gone"
assert_not_contains "$TD_TANDEMD_LOG" " tunnel_down index=$bob_index " "bob's tunnels"
assert_eq 1 "$(count_in "$(client_log b)" 'Got CONNECT response: HTTP/1.1 200')" \
  "bob's CONNECTs (a reconnect would add one)"
stop_client b INT
stop_tandemd
