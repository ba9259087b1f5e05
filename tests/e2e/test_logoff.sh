#!/usr/bin/env bash
# S21 / anyconnect-protocol.md §7.1-7.2: `tandemctl logoff` in each of its forms (--index,
# --user, --tunnel-group, --inactive, --protocol ssl, --all). For every form: connected clients
# of the chosen sessions are told at once and exit with code 1 ("Received server disconnect"),
# instead of retrying; a chosen session's token is refused afterwards (401: openconnect exits 2
# with "Cookie was rejected"); `show sessions` no longer lists them; every other session stays,
# and carol, a bystander in the second client namespace, keeps pinging the inside host until
# the form that selects her.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# logoff ARGS... EXPECTED_INDEXES...: run `tandemctl logoff ARGS`, check its report. The
# arguments before "--" go to tandemctl, the indexes after it are what must be logged off.
logoff() {
  local args=() want=() out sorted
  while [[ $1 != -- ]]; do args+=("$1"); shift; done
  shift
  want=("$@")
  step "tandemctl logoff ${args[*]} (expecting ${want[*]})"
  out=$(tctl logoff "${args[@]}") || fail "tandemctl logoff ${args[*]} failed"
  step "  $out"
  assert_match "$out" "^logged off ${#want[@]} session\(s\): [0-9, ]+$" "logoff ${args[*]} report"
  sorted=$(tr -d ' ' <<<"${out#*: }" | tr ',' '\n' | sort -n | paste -sd,)
  assert_eq "$(printf '%s\n' "${want[@]}" | sort -n | paste -sd,)" "$sorted" \
    "sessions logged off by ${args[*]}"
  for i in "${want[@]}"; do
    listed "$i" && fail "session $i still in show sessions after logoff ${args[*]}"
    wait_log 5 session_end "index=$i .*reason=admin_logoff( |$)" >/dev/null
  done
}

# told ID: a connected client was told by the headend and gave up at once (no retrying).
told() {
  client_wait_exit "$1" 5
  assert_eq 1 "$TD_RC" "openconnect exit code of $1 after the logoff"
  assert_contains "$(client_log "$1")" 'Received server disconnect|received server terminate' \
    "$1 was told by the headend"
  assert_contains "$(client_log "$1")" 'Session terminated by server' "$1's reason for exiting"
  assert_eq 1 "$(count_in "$(client_log "$1")" 'Got CONNECT response: HTTP/1.1 200')" \
    "$1's CONNECTs (a reconnect would mean it was not told)"
}

# rejected ID COOKIE: the token of a logged-off session no longer opens a tunnel.
rejected() {
  start_client_cookie "$1" "$2"
  client_wait_exit "$1" 30
  assert_eq 2 "$TD_RC" "openconnect exit code for a logged-off token ($1)"
  assert_contains "$(client_log "$1")" 'Cookie was rejected' "client message for $1"
  assert_not_contains "$(client_log "$1")" 'Configured as' "no tunnel for $1"
}

# still_there ID...: these clients are still running (their sessions are checked with listed).
still_there() {
  local id
  for id in "$@"; do
    td_alive "$(client_pid "$id")" || fail "client $id died though its session was not chosen"
  done
}

# token_session ID USER [GROUP]: a login with `--authenticate` only: a session with a token
# and no tunnel yet. Its index in REPLY, its cookie in TD_COOKIE. (With two tunnel groups,
# openconnect --non-inter needs --authgroup.)
token_session() {
  authenticate "$1" "$2" "$2 pw" --authgroup "${3:-default}"
  REPLY=${TD_TOKEN%%-*}
  wait_log 5 login_ok "index=$REPLY( |$)" >/dev/null
}

setup_topology
add_client2_ns
for u in alice bob carol dave frank grace henry ivan; do add_user "$u" "$u pw"; done
write_config '
[tunnel_group.sales]
policy = "default"'
start_tandemd

# The bystander: connected from the second namespace, pinging through her tunnel.
start_client --ns "$TD_NS_CLIENT2" carol carol 'carol pw' --authgroup default
wait_tunnel carol
index_carol=$(field index "$(wait_log 5 login_ok 'user=carol( |$)')")
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

step "form 1: --index"
token_session alice_auth alice
index_alice=$REPLY cookie_alice=$TD_COOKIE
start_client_cookie alice "$cookie_alice"
wait_tunnel alice
start_client bob bob 'bob pw' --authgroup default
wait_tunnel bob
index_bob=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
listed "$index_alice" || fail "alice's session $index_alice not listed before the logoff"
logoff --index "$index_alice" -- "$index_alice"
told alice
rejected alice_again "$cookie_alice"
still_there bob carol
listed "$index_bob" || fail "bob's session was logged off by --index $index_alice"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

step "form 2: --user (bob: a connected session and a token-only one)"
token_session bob_auth bob
index_bob2=$REPLY cookie_bob2=$TD_COOKIE
assert_eq 2 "$(sessions_jq '.sessions | length' --user bob)" "bob's sessions before the logoff"
logoff --user bob -- "$index_bob" "$index_bob2"
told bob
rejected bob_again "$cookie_bob2"
still_there carol
listed "$index_carol" || fail "carol's session was logged off by --user bob"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

step "form 3: --tunnel-group sales"
token_session dave_auth dave sales
index_dave=$REPLY cookie_dave=$TD_COOKIE
start_client_cookie dave "$cookie_dave"
wait_tunnel dave
assert_eq "$index_dave" "$(sessions_jq '.sessions[].index' --tunnel-group sales)" \
  "the sales group's only session"
assert_eq sales "$(sessions_jq '.sessions[0].tunnel_group' --index "$index_dave")" \
  "dave's tunnel group"
logoff --tunnel-group sales -- "$index_dave"
told dave
rejected dave_again "$cookie_dave"
still_there carol
listed "$index_carol" || fail "carol's session (group default) was logged off by --tunnel-group"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

step "form 4: --inactive (a token never used, and a client detached with SIGHUP)"
token_session frank_auth frank
index_frank=$REPLY cookie_frank=$TD_COOKIE
token_session grace_auth grace
index_grace=$REPLY cookie_grace=$TD_COOKIE
start_client_cookie grace "$cookie_grace"
wait_tunnel grace
stop_client grace HUP
assert_eq 0 "$TD_RC" "openconnect exit code after SIGHUP (detach)"
wait_log 10 session_waiting "index=$index_grace( |$)" >/dev/null
assert_eq "$index_frank,$index_grace" \
  "$(sessions_jq '[.sessions[].index | tonumber] | sort | map(tostring) | join(",")' --inactive)" \
  "the inactive sessions"
logoff --inactive -- "$index_frank" "$index_grace"
rejected frank_again "$cookie_frank"
rejected grace_again "$cookie_grace"
still_there carol
listed "$index_carol" || fail "carol's active session was logged off by --inactive"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

step "form 5: --protocol ssl (every connected session; a token-only one stays)"
token_session henry_auth henry
index_henry=$REPLY cookie_henry=$TD_COOKIE
logoff --protocol ssl -- "$index_carol"
told carol
listed "$index_henry" || fail "henry's session (no SSL tunnel) was logged off by --protocol ssl"

step "form 6: --all"
start_client ivan ivan 'ivan pw' --authgroup default
wait_tunnel ivan
index_ivan=$(field index "$(wait_log 5 login_ok 'user=ivan( |$)')")
logoff --all -- "$index_henry" "$index_ivan"
told ivan
rejected henry_again "$cookie_henry"
assert_eq 0 "$(sessions_jq '.sessions | length')" "sessions left after logoff --all"

# Nothing left to log off: the daemon says so and tandemctl exits 1.
rc=0
out=$(tctl logoff --all 2>&1) || rc=$?
assert_eq 1 "$rc" "exit code of logoff --all with no sessions"
assert_match "$out" '^tandemctl: no such session$' "logoff --all with no sessions"
assert_eq 0 "$(log_count login_failed)" "failed logins"
stop_tandemd
