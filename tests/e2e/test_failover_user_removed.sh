#!/usr/bin/env bash
# A session inherited by a node whose users file no longer allows its user is not resumed.
# alice is connected through the active node. Her line is deleted from the users file and only
# the standby reloads (a standby ends no session: its mirror follows the active, which still
# allows her). After a planned failover alice's openconnect reconnects to the new active, which
# ends the session (session_end reason=user_removed) and refuses the token with 401:
# openconnect gives up with exit code 2 instead of resuming.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

pair_with_client dtls
act=$TD_ACT stb=$TD_STB index=$TD_INDEX

step "delete alice from the users file; reload the standby (node $stb) only"
sed -i '/^alice:/d' "$TD_USERS"
out=$(nctl "$stb" reload) || fail "tandemctl reload on node $stb: $out"
step "node $stb: $out"
assert_match "$out" ', 0 users$' "reload on the standby (no session logged off there)"
assert_eq 0 "$(count_in "$(node_log "$stb")" ' user_revoked ')" "user_revoked lines on the standby"
sleep 1
td_alive "$(client_pid c1)" || fail "alice was cut off by a reload on the standby"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

out=$(nctl "$act" failover) || fail "tandemctl failover on node $act: $out"
step "failover: $out"
wait_for 10 "node $stb active" td_is_active "$stb"
client_wait_exit c1 30
assert_eq 2 "$TD_RC" "openconnect exit code when the new active refuses the token"
assert_contains "$(client_log c1)" 'Cookie was rejected' "openconnect's reason"
log=$(node_log "$stb")
assert_contains "$log" " connect_refused .*status=401 .*reason=\"user not in the users file\"" \
  "the new active's refusal"
assert_contains "$log" " session_end index=$index .*reason=user_removed( |$)" \
  "the session's end on the new active"
assert_not_contains "$log" " session_resumed index=$index " "a resume on the new active"
assert_eq 0 "$(nctl "$stb" status --json | jq -r .sessions)" "sessions on the new active"
