#!/usr/bin/env bash
# RADIUS authentication (docs/radius.md) against a real FreeRADIUS (Debian's freeradius),
# started here in the inside namespace with a generated configuration. The tunnel group "company"
# ("company", as long a name as "default", so that the forms compare byte for byte) is on
# RADIUS; the default group stays on the users file. The first [radius] server is an
# address nobody holds (silent): the first login shows the second server taking over, and marks
# the silent one dead (dead_time), so no later login asks it again (counted by nft).
#   - a password user logs in and pings through the tunnel;
#   - a challenge user gets a second form, answers it with a one-time code (--form-entry), and
#     is in; a wrong code fails;
#   - a rejected user and a wrong password fail, and the client sees the same as for a wrong
#     password in the users-file group; the log names the reason;
#   - Framed-IP-Address is the client's address, the Class is kept and maps to a policy, and
#     `tandemctl show sessions --detail` / `--json` show the auth method and the Class; at the
#     session limit ([limits] max_sessions), such a login is refused with the limit's reason;
#   - a resume (the TLS connection killed) sends no new Access-Request;
#   - FreeRADIUS requires a Message-Authenticator and never saw a request without one; with
#     require_message_authenticator = true, tandemd refuses FreeRADIUS 3.2.1's unsigned answers
#     and the login fails with that reason.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=lib_radius.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_radius.sh"

SILENT_IP=10.201.0.9 # on the inside link, held by nobody: requests to it go unanswered

# Access-Requests the headend sent to the silent server, counted on the way out.
count_silent_requests() {
  ip netns exec "$TD_NS_HEADEND" nft add table inet radius_silent
  ip netns exec "$TD_NS_HEADEND" nft add chain inet radius_silent out \
    '{ type filter hook output priority 0; }'
  ip netns exec "$TD_NS_HEADEND" nft add rule inet radius_silent out \
    ip daddr "$SILENT_IP" udp dport 1812 counter
}
silent_requests() {
  ip netns exec "$TD_NS_HEADEND" nft list chain inet radius_silent out |
    sed -n 's/.* counter packets \([0-9]*\) .*/\1/p'
}

# A failed login: openconnect exits 1 without a tunnel; tandemd logs login_failed with a reason.
check_failed_login() { # ID USER REASON_ERE
  local line
  client_wait_exit "$1" 30
  assert_eq 1 "$TD_RC" "openconnect exit code for $2"
  assert_contains "$(client_log "$1")" 'Failed to complete authentication' "client message for $2"
  assert_not_contains "$(client_log "$1")" 'Configured as' "no tunnel for $2"
  line=$(wait_log 5 login_failed "user=$2( |$)")
  assert_match "$(field reason "$line")" "$3" "login_failed reason for $2"
}

# What the client saw of a failed login, minus what differs between two attempts: timestamps,
# cookie values and dates (the group names are as long as each other, so lengths compare).
client_view() {
  sed -E -e 's/^\[[^]]*\] //' -e 's/((Set-)?Cookie: [^=]+=)[^;]*/\1X/' -e '/^Date: /d' "$1"
}

setup_topology
write_radius_config
start_freeradius
write_radius_secret
add_user bob 'bob users-file pw'
write_config "
[policy.contractors]
idle_timeout = \"20m\"

[radius]
servers = [\"$SILENT_IP\", \"$RADIUS_IP:1812\"]
secret_file = \"$RADIUS_SECRET_FILE\"
timeout = \"1s\"
retries = 0
dead_time = \"600s\"

[radius.class_policy]
contractors = \"contractors\"

[tunnel_group.company]
auth = \"radius\"
"
start_tandemd
wait_log 5 radius_ready "worst_case=2s" >/dev/null
command -v nft >/dev/null || fail "nft (nftables) is not installed: run deploy/setup.sh"
count_silent_requests

step "password login on RADIUS (the silent first server costs one timeout)"
t0=$(td_now_ms)
start_client a alice 'alice-radius-pw' --authgroup=company
wait_tunnel a
elapsed=$(($(td_now_ms) - t0))
step "alice up after ${elapsed} ms"
((elapsed >= 1000)) || fail "alice logged in in ${elapsed} ms: the silent server was not tried"
assert_eq 1 "$(silent_requests)" "Access-Requests sent to the silent server"
line=$(wait_log 5 radius_server_dead "server=$SILENT_IP:1812( |$)")
assert_eq "no answer" "$(field reason "$line")" "why the silent server was marked dead"
assert_eq 600s "$(field dead_time "$line")" "for how long"
line=$(wait_log 5 login_ok 'user=alice( |$)')
assert_eq radius "$(field auth "$line")" "login_ok auth for alice"
assert_eq staff "$(field radius_class "$line")" "login_ok radius_class for alice"
assert_eq company "$(field tunnel_group "$line")" "alice's tunnel group"
alice_index=$(field index "$line")
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq 1 "$(access_requests)" "Access-Requests FreeRADIUS saw for alice"

step "show sessions --detail and --json: the auth method and the Class"
detail=$(tctl show sessions --detail --index "$alice_index")
printf '%s\n' "$detail"
assert_match "$detail" $'\n''Auth Method +: radius +RADIUS Class +: staff'$'\n' "detail for alice"
json=$(tctl show sessions --json --index "$alice_index")
assert_eq radius "$(jq -r '.sessions[0].auth_method' <<<"$json")" "json auth_method"
assert_eq staff "$(jq -r '.sessions[0].radius_class' <<<"$json")" "json radius_class"

step "resume: kill alice's TLS connection; the token brings her back without RADIUS"
before=$(access_requests)
kill_client_tcp "$TD_NS_CLIENT"
wait_log 30 session_resumed "index=$alice_index( |$)" >/dev/null
wait_for 20 "alice's tunnel back" td_client_up a
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq "$before" "$(access_requests)" "Access-Requests caused by the resume"
assert_eq 1 "$(log_count login_ok 'user=alice( |$)')" "logins of alice after the resume"
stop_client a INT

step "Framed-IP-Address, Session-Timeout, Idle-Timeout and Class -> policy"
start_client d dave 'dave-pw' --authgroup=company
wait_tunnel d
assert_eq 10.77.0.50 "$(client_ip d)" "dave's address (Framed-IP-Address)"
line=$(wait_log 5 login_ok 'user=dave( |$)')
assert_eq contractors "$(field policy "$line")" "dave's policy (Class contractors)"
assert_eq Class "$(field policy_from "$line")" "what chose dave's policy"
assert_contains "$(client_log d)" 'X-CSTP-Session-Timeout: 7200' "Session-Timeout sent to dave"
assert_contains "$(client_log d)" 'X-CSTP-Idle-Timeout: 900' "Idle-Timeout sent to dave"
dave_index=$(field index "$line")
detail=$(tctl show sessions --detail --index "$dave_index")
assert_match "$detail" 'Group Policy +: contractors +Tunnel Group +: company' "dave's detail policy"
assert_match "$detail" 'RADIUS Class +: contractors' "dave's detail Class"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

step "the same Framed-IP-Address twice: the second login is refused"
add_client2_ns
start_client --ns "$TD_NS_CLIENT2" d2 dave 'dave-pw' --authgroup=company
check_failed_login d2 dave 'Framed-IP-Address 10\.77\.0\.50 is in use'
td_alive "$(client_pid d)" || fail "dave's first session went away"

step "at the session limit, a Framed-IP-Address login is refused for the limit, not failed"
printf '\n[limits]\nmax_sessions = 1\n' >>"$TD_CONFIG"
kill -HUP "$TD_TANDEMD_PID"
wait_log 10 session_limit_changed 'max_sessions=1( |$)' >/dev/null
failed_before=$(log_count login_failed 'user=dave( |$)')
start_client --ns "$TD_NS_CLIENT2" d3 dave 'dave-pw' --authgroup=company
client_wait_exit d3 30
assert_ne 0 "$TD_RC" "openconnect exit code of dave's login at the limit"
assert_contains "$(client_log d3)" 'session limit' "dave was shown why"
line=$(wait_log 5 login_refused 'user=dave( |$)')
assert_eq "session limit reached (max_sessions 1)" "$(field reason "$line")" "login_refused reason"
assert_eq "$failed_before" "$(log_count login_failed 'user=dave( |$)')" "dave's failed logins"
td_alive "$(client_pid d)" || fail "dave's first session went away at the limit"
sed -i '/^\[limits\]$/,$d' "$TD_CONFIG"
kill -HUP "$TD_TANDEMD_PID"
wait_log 10 session_limit_changed 'max_sessions_from=memory( |$)' >/dev/null
stop_client d INT

step "challenge: a second form, answered with the one-time code"
requests_before=$(access_requests)
start_client c carol 'carol-pw' --authgroup=company --form-entry "challenge:answer=$OTP"
wait_tunnel c
assert_contains "$(client_log c)" 'Enter the code from your token' "the challenge's message shown"
line=$(wait_log 5 login_challenge 'user=carol( |$)')
assert_eq "Enter the code from your token" "$(field message "$line")" "login_challenge message"
line=$(wait_log 5 login_ok 'user=carol( |$)')
assert_eq otp-user "$(field radius_class "$line")" "carol's Class (from the second answer)"
assert_eq $((requests_before + 2)) "$(access_requests)" "Access-Requests for a challenge login"
assert_contains "$RADIUS_LOG" "State = $STATE_HEX" "the State went back to FreeRADIUS"
stop_client c INT

step "challenge answered with a wrong code"
start_client cw carol 'carol-pw' --authgroup=company --form-entry "challenge:answer=000000"
check_failed_login cw carol '^RADIUS Access-Reject'

step "RADIUS reject, wrong RADIUS password, wrong users-file password: one face"
start_client m mallory 'anything' --authgroup=company
check_failed_login m mallory '^RADIUS Access-Reject: account locked$'
start_client w alice 'wrong password' --authgroup=company
check_failed_login w alice '^RADIUS Access-Reject$'
start_client u bob 'wrong password' --authgroup=default
check_failed_login u bob '^wrong password$'
for id in m w; do
  if ! diff -u <(client_view "$(client_log u)") <(client_view "$(client_log $id)") \
    >"$TD_DIR/view-$id.diff"; then
    fail "the client saw a RADIUS failure ($id) differently from a users-file one:
$(cat "$TD_DIR/view-$id.diff")"
  fi
done

step "the users-file group still works next to the RADIUS one"
requests_before=$(access_requests)
start_client b bob 'bob users-file pw' --authgroup=default
wait_tunnel b
line=$(wait_log 5 login_ok 'user=bob( |$)')
assert_eq password "$(field auth "$line")" "bob's auth method"
assert_eq "$requests_before" "$(access_requests)" "Access-Requests for a users-file login"
stop_client b INT

step "every RADIUS login went through the second server; the silent one, once dead, was not asked"
assert_eq 0 "$(log_count login_failed 'no RADIUS server answered')" "logins lost to the silent server"
assert_eq 1 "$(silent_requests)" "Access-Requests to the silent server, all logins together"
assert_eq 1 "$(log_count radius_server_dead "server=$SILENT_IP:1812( |$)")" \
  "radius_server_dead lines for the silent server"
assert_eq 0 "$(count_in "$RADIUS_LOG" 'does not contain required Message-Authenticator')" \
  "requests FreeRADIUS refused as unsigned"
stop_tandemd

step "require_message_authenticator = true: FreeRADIUS 3.2.1's unsigned answers are refused"
write_config "
[radius]
servers = [\"$RADIUS_IP:1812\"]
secret_file = \"$RADIUS_SECRET_FILE\"
timeout = \"1s\"
retries = 0
require_message_authenticator = true

[tunnel_group.company]
auth = \"radius\"
"
start_tandemd
requests_before=$(access_requests)
start_client r alice 'alice-radius-pw' --authgroup=company
check_failed_login r alice 'no Message-Authenticator'
line=$(wait_log 5 radius_answer_refused "server=$RADIUS_IP:1812( |$)")
assert_match "$(field reason "$line")" 'no Message-Authenticator' "radius_answer_refused reason"
assert_eq $((requests_before + 1)) "$(access_requests)" "Access-Requests for the refused login"
stop_tandemd
