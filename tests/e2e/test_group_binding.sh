#!/usr/bin/env bash
# Users bound to tunnel groups (docs/traffic-policy.md): [tunnel_group.admins] users = ["alice"].
#  1. bob, with the right password, asks for admins: refused like a wrong password (openconnect
#     gets the login form again and, non-interactive, exits 1); tandemd logs login_failed
#     reason="tunnel group not allowed" tunnel_group=admins; no session. bob logs in to default.
#  2. alice logs in to admins (session in group admins, policy admins) and to default.
#  3. A reload that takes alice out of admins ends her admins session (user_revoked, session_end
#     reason=group_not_allowed, the client is told and exits), her token is refused, and she can
#     no longer log in there; her default session and bob's stay.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

write_binding_config() { # ADMINS_USERS_TOML_ARRAY
  write_config "
[policy.admins]
routes = []

[tunnel_group.admins]
policy = \"admins\"
users = $1
"
}

# What the client saw, minus what differs between two attempts anyway: timestamps, cookie values
# and dates.
client_view() {
  sed -E -e 's/^\[[^]]*\] //' -e 's/((Set-)?Cookie: [^=]+=)[^;]*/\1X/' -e '/^Date: /d' "$1"
}

try_login() { # ID USER PASSWORD GROUP
  step "client $1: openconnect --authenticate as $2 --authgroup=$4"
  td_launch "$1" "$TD_NS_CLIENT" "$3" --authenticate --user="$2" --passwd-on-stdin \
    --authgroup="$4" "$TD_URL"
  client_wait_exit "$1" 30
}

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
write_binding_config '["alice"]'
start_tandemd

# --- 1. bob may not use admins --------------------------------------------------------------------
try_login b1 bob 'bob pw' admins
assert_eq 1 "$TD_RC" "openconnect exit code for bob asking for admins"
assert_contains "$(client_log b1)" 'Failed to complete authentication' "bob's client message"
assert_not_contains "$(client_log b1)" 'webvpn=[0-9a-zA-Z]' "a token for bob"
line=$(wait_log 5 login_failed 'user=bob( |$)')
step "log: $line"
assert_eq "tunnel group not allowed" "$(field reason "$line")" "login_failed reason"
assert_eq admins "$(field tunnel_group "$line")" "login_failed tunnel_group"
assert_eq 0 "$(log_count login_ok 'user=bob( |$)')" "bob's logins"
assert_eq 0 "$(sessions_jq '.sessions // [] | length')" "sessions after bob's refusal"
# A wrong password reads exactly the same to the client: the refusal does not tell a guesser
# that the password was right.
try_login b2 bob 'bob pX' admins
assert_eq 1 "$TD_RC" "openconnect exit code for a wrong password"
assert_eq "wrong password" "$(field reason "$(wait_log 5 login_failed 'reason="wrong password"')")" \
  "login_failed reason for the wrong password"
if ! diff -u <(client_view "$(client_log b1)") <(client_view "$(client_log b2)") \
  >"$TD_DIR/view.diff"; then
  fail "the client saw a refused group and a wrong password differently:
$(cat "$TD_DIR/view.diff")"
fi

start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw' --authgroup=default
wait_tunnel b
index_b=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

# --- 2. alice may --------------------------------------------------------------------------------
authenticate a0 alice 'alice pw' --authgroup=admins
cookie_admins=$TD_COOKIE
line=$(wait_log 5 login_ok 'user=alice .*tunnel_group=admins( |$)')
assert_eq admins "$(field policy "$line")" "policy of alice's admins session"
index_admins=$(field index "$line")
start_client_cookie a "$cookie_admins"
wait_tunnel a
assert_not_contains "$(client_log a)" 'X-CSTP-Split-Include' "split-include of a full tunnel"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
try_login a1 alice 'alice pw' default
assert_eq 0 "$TD_RC" "alice's login to default"
index_default=$(field index "$(wait_log 5 login_ok 'user=alice .*tunnel_group=default( |$)')")

# --- 3. alice taken out of admins ------------------------------------------------------------------
write_binding_config '["carol"]'
out=$(tctl reload) || fail "tandemctl reload: $out"
step "tandemctl reload: $out"
assert_match "$out" "; logged off 1 session of users no longer allowed their tunnel group\$" \
  "tandemctl reload output"
line=$(wait_log 5 user_revoked "index=$index_admins( |$)")
assert_eq "not allowed the tunnel group any more" "$(field reason "$line")" "user_revoked reason"
assert_eq admins "$(field tunnel_group "$line")" "user_revoked tunnel_group"
line=$(wait_log 5 session_end "index=$index_admins( |$)")
assert_eq group_not_allowed "$(field reason "$line")" "session_end reason"
client_wait_exit a 10
assert_eq 1 "$TD_RC" "alice's openconnect after the reload"
assert_contains "$(client_log a)" 'Session terminated by server' "alice's client was told"

start_client_cookie a2 "$cookie_admins"
client_wait_exit a2 30
assert_eq 2 "$TD_RC" "openconnect with alice's admins token after the reload"
try_login a3 alice 'alice pw' admins
assert_eq 1 "$TD_RC" "alice's login to admins after the reload"
wait_log 5 login_failed 'user=alice .*tunnel_group=admins .*reason="tunnel group not allowed"' \
  >/dev/null

listed "$index_default" || fail "alice's default session ended with her admins one"
listed "$index_b" || fail "bob's session ended"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
stop_client b INT
stop_tandemd
