#!/usr/bin/env bash
# tandemctl drain / undrain on a standalone node: while drained, a new openconnect login is
# refused (the client fails, the node logs why) but the connected client keeps its tunnel and
# resumes after a forced reconnect; status shows draining. After undrain a new login works.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

status_json() { tctl status --json | jq -r "$1"; }

setup_topology
add_client2_ns
add_user alice 'alice password'
add_user bob 'bob password'
write_config
start_tandemd

start_client c1 alice 'alice password'
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_eq false "$(status_json .draining)" "status --json draining before the drain"
assert_eq true "$(status_json .accepting_logins)" "accepting_logins before the drain"

step "tandemctl drain"
out=$(tctl drain)
step "tandemctl drain: $out"
assert_eq "node draining: new logins are refused (no [member]: no director sees it); 1 session \
stays; until undrain or a restart of tandemd" "$out" "tandemctl drain answer"
wait_log 5 member_draining >/dev/null
assert_eq true "$(status_json .draining)" "status --json draining after the drain"
assert_eq false "$(status_json .accepting_logins)" "accepting_logins after the drain"
assert_eq '""' "$(tctl status --json | jq -c .member_id)" "member_id of a node without [member]"
assert_eq false "$(status_json .arbiter)" "arbiter of a node without [arbiter]"
assert_match "$(tctl status)" 'Draining +: yes: new logins refused' "text status while drained"
out=$(tctl drain)
assert_match "$out" '^node was already draining: ' "a second drain"

step "a new login while drained is refused"
start_client --ns "$TD_NS_CLIENT2" c2 bob 'bob password'
client_wait_exit c2 30
assert_ne 0 "$TD_RC" "openconnect exit code of a login to a drained node"
assert_not_contains "$(client_log c2)" 'Configured as' "no tunnel for a login while drained"
line=$(wait_log 5 login_refused 'user=bob( |$)')
assert_eq "this node is draining (tandemctl drain)" "$(field reason "$line")" \
  "login_refused reason"
assert_eq 0 "$(log_count login_ok 'user=bob( |$)')" "bob's logins while drained"

step "the connected client stays, and resumes after a forced reconnect (SIGUSR2)"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
force_resume c1 "$index" "$ip"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_eq 0 "$(log_count connect_refused)" "CONNECTs refused while drained"

step "tandemctl undrain"
out=$(tctl undrain)
step "tandemctl undrain: $out"
assert_eq "node undrained: new logins are taken again" "$out" "tandemctl undrain answer"
wait_log 5 member_undrained >/dev/null
assert_eq false "$(status_json .draining)" "status --json draining after undrain"
assert_eq true "$(status_json .accepting_logins)" "accepting_logins after undrain"

start_client --ns "$TD_NS_CLIENT2" c3 bob 'bob password'
wait_tunnel c3
wait_log 5 login_ok 'user=bob( |$)' >/dev/null
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

stop_client c3 INT
stop_client c1 INT
assert_eq 1 "$(log_count login_ok 'user=alice( |$)')" "alice logged in once (the rest resumes)"
stop_tandemd
