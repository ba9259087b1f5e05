#!/usr/bin/env bash
# One bad record never keeps a node down (issue 8 item 1, issue 9 item 5). A standalone node with
# two sessions is stopped; one session's row and an extra row are overwritten with bytes that are
# not a SessionRecord (RocksDB's own `ldb` tool writes them). The node must start, log each row as
# quarantined with its reason, serve the readable session (the client resumes, a ping answers),
# keep the unreadable one out (its token gets 401), and never hand its address out twice.
source "$(dirname "$0")/lib.sh"

command -v ldb >/dev/null || fail "ldb is needed (apt-get install rocksdb-tools)"
setup_topology
add_user alice secret-a
add_user bob secret-b
write_config
start_tandemd
start_client c1 alice secret-a
wait_tunnel c1
ip1=$(client_ip c1)
alice=$(sessions_jq '.sessions[] | select(.username == "alice") | .index')
authenticate a1 bob secret-b
bob_token=$TD_TOKEN
bob=$(sessions_jq '.sessions[] | select(.username == "bob") | .index')
bob_ip=$(sessions_jq '.sessions[] | select(.username == "bob") | .assigned_ip')
step "alice: index $alice ($ip1), bob: index $bob ($bob_ip, token only)"

stop_tandemd
db=$TD_DIR/state/db
hex_key() { printf '0x%016X' "$1"; }
ldb --db="$db" --column_family=sessions --key_hex --value_hex put "$(hex_key "$bob")" 0xFFFFFF00 |
  grep -q OK || fail "ldb could not write the corrupt row"
ldb --db="$db" --column_family=sessions --key_hex --value_hex put "$(hex_key 99)" 0x0A03FFFE01 |
  grep -q OK || fail "ldb could not write the extra row"
step "rows sessions/$bob and sessions/99 overwritten with garbage"

mv "$TD_TANDEMD_LOG" "$TD_DIR/tandemd-before.log"
start_tandemd
assert_contains "$TD_TANDEMD_LOG" "session_row_quarantined index=$bob reason=\"not a SessionRecord\"" \
  "bob's row quarantined with its reason"
assert_contains "$TD_TANDEMD_LOG" "session_row_quarantined index=99 " "row 99 quarantined"
assert_contains "$TD_TANDEMD_LOG" ' listening .* sessions=1( |$)' "alice's session restored"
wait_for 40 "alice's session resumed" bash -c "grep -q 'session_resumed index=$alice ' '$TD_TANDEMD_LOG'"
wait_for 10 "ping through the tunnel after the restart" ping_inside
assert_eq "$ip1" "$(client_ip c1)" "alice's address after the restart"

# The quarantined session is gone for good: its token is refused, and its address is free
# exactly once.
start_client_cookie c2 "webvpn=$bob_token"
client_wait_exit c2 30
assert_eq 2 "$TD_RC" "openconnect's exit code with the quarantined session's token"
authenticate a2 bob secret-b
ips=$(sessions_jq '[.sessions[].assigned_ip] | sort | join(" ")')
dups=$(sessions_jq '[.sessions[].assigned_ip] | group_by(.) | map(select(length > 1)) | length')
assert_eq 0 "$dups" "addresses assigned twice (have: $ips)"

# The removal was recorded: a second restart finds nothing to quarantine.
stop_tandemd
mv "$TD_TANDEMD_LOG" "$TD_DIR/tandemd-second.log"
start_tandemd
assert_not_contains "$TD_TANDEMD_LOG" 'session_row_quarantined' "nothing left to quarantine"
ldb --db="$db" --column_family=quarantine scan 2>/dev/null | grep -q . ||
  fail "the quarantine keeps no copy of the bad rows"
step "quarantine keeps $(ldb --db="$db" --column_family=quarantine scan 2>/dev/null | grep -c .) entries (row + reason each)"
