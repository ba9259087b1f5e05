#!/usr/bin/env bash
# Issue 9 item 5e: a corrupt row in a pair node's store at start-up (the standalone version is
# test_corrupt_row.sh). A pair holds alice (openconnect, pinging through her tunnel) and bob (a
# token only). The standby is stopped; RocksDB's `ldb` overwrites bob's row in its store with
# bytes that are not a SessionRecord, and adds an unreadable row 99. Restarted, the standby must
# start, log `session_row_quarantined` for both, ask the active for a snapshot and get it, so
# bob's session is back on it (listed with the same address, lag 0) and row 99 is not. Then a
# planned failover to it keeps every session (assert_failover_outcome: fresh ping, gap within the
# planned bound, old active releases the addresses, no index or address changed), and bob's
# token resumes on it (CONNECT 200).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

command -v ldb >/dev/null || fail "ldb is needed (apt-get install rocksdb-tools)"
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
add_user bob secret-b
pair_with_client dtls
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
authenticate a1 bob secret-b
bob_token=$TD_TOKEN
printf '%s\n' "$bob_token" >"$TD_DIR/bob.token"
bob=$(nctl "$act" show sessions --user bob --json | jq -r '.sessions[0].index')
bob_ip=$(nctl "$act" show sessions --user bob --json | jq -r '.sessions[0].assigned_ip')
wait_for 10 "node $stb caught up" td_caught_up "$stb"
assert_eq "$bob_ip" "$(nctl "$stb" show sessions --index "$bob" --json | jq -r '.sessions[0].assigned_ip')" \
  "bob's session on the standby before the fault"
step "alice: index $index ($ip1), bob: index $bob ($bob_ip, token only)"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05

step "stop the standby (node $stb) and corrupt its store"
kill -TERM "${TD_NODE_PID[$stb]}"
wait_for 10 "node $stb stopped" td_not_alive "${TD_NODE_PID[$stb]}"
db=$TD_DIR/state-$stb/db
[[ -d $db ]] || fail "no RocksDB store at $db"
hex_key() { printf '0x%016X' "$1"; }
ldb --db="$db" --column_family=sessions --key_hex --value_hex put "$(hex_key "$bob")" 0xFFFFFF00 |
  grep -q OK || fail "ldb could not write the corrupt row"
ldb --db="$db" --column_family=sessions --key_hex --value_hex put "$(hex_key 99)" 0x0A03FFFE01 |
  grep -q OK || fail "ldb could not write the extra row"
step "rows sessions/$bob and sessions/99 of node $stb overwritten with garbage"

log=$(node_log "$stb")
mv "$log" "$TD_DIR/node-$stb-before.log"
start_node "$stb"
wait_for 20 "node $stb (restarted) following node $act" td_following "$stb"
wait_for 10 "node $stb caught up (lag 0)" td_caught_up "$stb"
assert_contains "$log" "session_row_quarantined index=$bob " "bob's row quarantined on node $stb"
assert_contains "$log" "session_row_quarantined index=99 " "row 99 quarantined on node $stb"
assert_contains "$log" ' replication_snapshot_installed ' "node $stb installed a snapshot"
assert_contains "$(node_log "$act")" " replication_snapshot .*to=node-$stb" "node $act sent node $stb a snapshot"
step "node $stb: $(grep -E ' (session_row_quarantined|replication_snapshot_installed|standby_connected) ' "$log" | cut -c1-160 | tr '\n' '|')"
assert_eq "$bob_ip" "$(nctl "$stb" show sessions --index "$bob" --json | jq -r '.sessions[0].assigned_ip // empty')" \
  "bob's session back on node $stb from the snapshot"
for n in a b; do
  assert_eq 0 "$(nctl "$n" show sessions --index 99 --json 2>/dev/null | jq '.sessions | length' || echo 0)" \
    "the unreadable row 99 listed as a session on node $n"
done
[[ $(session_map "$stb") == "$(session_map "$act")" ]] ||
  fail "node $stb lists other sessions than node $act: $(session_map "$stb" | tr '\n' ' ') vs $(session_map "$act" | tr '\n' ' ')"
step "node $stb lists every session: $(session_map "$stb" | tr '\n' ' ')"

step "planned failover to node $stb"
failover_begin "$act"
out=$(nctl "$act" failover) || fail "tandemctl failover: $out"
step "failover: $out"
wait_resumed "$stb"
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$TD_PLANNED_GAP_MS"
grep -q "^$bob $bob_ip " "$TD_DIR/fo$TD_FO_SEQ-after.map" || fail "bob's session is not on the new active"

step "bob's token on the new active"
ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --resume-from "$TD_DIR/bob.token" \
  --retry-for 10 --pin "$TD_PIN" --report-json "$TD_DIR/bob.json" >"$TD_DIR/bob.log" 2>&1 ||
  fail "bob's token did not resume on node $stb: $(tail -n 3 "$TD_DIR/bob.log" | tr '\n' ' ')"
step "bob resumed: $(tail -n 2 "$TD_DIR/bob.log" | tr '\n' ' ')"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
td_alive "$(client_pid c1)" || fail "openconnect exited"
