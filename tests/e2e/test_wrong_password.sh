#!/usr/bin/env bash
# Scenario 4: a wrong password fails the login (openconnect exit 1, no tunnel) and is logged
# with a reason and the public address; an unknown user looks exactly the same to the client.
# Afterwards the right password still works.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# What the client saw, minus what legitimately differs between two attempts: timestamps,
# cookie values and dates. Same-length user names keep lengths comparable.
client_view() {
  sed -E -e 's/^\[[^]]*\] //' -e 's/((Set-)?Cookie: [^=]+=)[^;]*/\1X/' -e '/^Date: /d' "$1"
}

check_failed_login() { # ID USER
  local line
  client_wait_exit "$1" 30
  assert_eq 1 "$TD_RC" "openconnect exit code for $2"
  assert_contains "$(client_log "$1")" 'Failed to complete authentication' "client message for $2"
  assert_not_contains "$(client_log "$1")" 'Configured as' "no tunnel for $2"
  line=$(wait_log 5 login_failed "user=$2( |$)")
  assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "login_failed public for $2"
  assert_match "$(field reason "$line" || true)" '.' "login_failed reason for $2"
}

setup_topology
add_user alice 'right password'
write_config
start_tandemd

start_client bad alice 'wrong password'
check_failed_login bad alice
start_client unknown bobby 'wrong password'
check_failed_login unknown bobby

if ! diff -u <(client_view "$(client_log bad)") <(client_view "$(client_log unknown)") \
  >"$TD_DIR/view.diff"; then
  fail "the client saw a wrong password and an unknown user differently:
$(cat "$TD_DIR/view.diff")"
fi
assert_eq 0 "$(log_count login_ok)" "logins after two failures"

start_client good alice 'right password'
wait_tunnel good
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
stop_client good INT
stop_tandemd
