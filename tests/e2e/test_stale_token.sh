#!/usr/bin/env bash
# Scenario 5: session tokens. A token from `openconnect --authenticate` opens a tunnel; forged
# tokens (right format, random secret; for the live session's index and for an unused one) are
# refused with 401, which openconnect reports as "Cookie was rejected" with exit code 2, and the
# live session does not suffer. After a logout (SIGINT sends BYE) the same token is refused too.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A token in Tandem's format "<index>-<43 chars of base64url>" with a random secret.
forge() {
  printf 'webvpn=%s-%s' "$1" "$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
}

expect_rejected() { # ID WHAT
  client_wait_exit "$1" 30
  assert_eq 2 "$TD_RC" "openconnect exit code for $2"
  assert_contains "$(client_log "$1")" 'Cookie was rejected' "client message for $2"
  assert_not_contains "$(client_log "$1")" 'Configured as' "no tunnel for $2"
  refused=$((refused + 1))
  line=$(wait_log 5 connect_refused 'status=401' "$refused")
  assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "connect_refused public for $2"
}

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd

authenticate auth alice 'correct horse'
cookie=$TD_COOKIE
assert_match "$TD_TOKEN" '^[0-9]+-[A-Za-z0-9_-]{43}$' "token format"
index=${TD_TOKEN%%-*}
wait_log 5 login_ok "index=$index( |$)" >/dev/null

start_client_cookie c1 "$cookie"
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 tunnel_up "index=$index .*kind=ssl( |$)")
assert_eq "$ip" "$(field ip "$line")" "tunnel_up ip for the token's session"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

refused=$(log_count connect_refused)
start_client_cookie forged_live "$(forge "$index")"
expect_rejected forged_live "a forged token for the live session's index"
start_client_cookie forged_other "$(forge $((index + 1000)))"
expect_rejected forged_other "a forged token for an unused index"

# The forgeries did not touch the real session.
td_alive "$(client_pid c1)" || fail "the live client died after the forged attempts"
assert_eq "$ip" "$(client_ip c1)" "live client's address"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq 0 "$(log_count session_end)" "sessions ended by forged tokens"

stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index( |$)")
assert_eq logout "$(field reason "$line")" "session_end reason"

start_client_cookie reuse "$cookie"
expect_rejected reuse "the token of a logged-out session"
stop_tandemd
