#!/usr/bin/env bash
# A Start no node wrote is sent by the next one that serves the session
# (docs/radius-accounting.md, "A Start that was never written"). A pair against a real
# FreeRADIUS; each node's accounting queue lives on a small tmpfs of its own. Once the pair is
# up, the active's tmpfs is filled, so its queue's disk refuses the client's Start
# (accounting_record_dropped). The active is killed -9. The new active finds the session still
# owes its Start (the replicated acct_start_pending), queues it dated at the login, and
# FreeRADIUS gets exactly one Start, from the new active, with an Event-Timestamp no later than
# the login, before any other record of the session; the logout's Stop follows.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib_pair.sh
source "$(dirname "$0")/lib_pair.sh"
# shellcheck source=lib_radius_acct.sh
source "$(dirname "$0")/lib_radius_acct.sh"

TD_DEADLINE=120
setup_pair_topology
radius_ns_pair
radius_start
make_pair_pki
add_user alice secret-a
write_node_config a "$(radius_toml 2s)"
write_node_config b "$(radius_toml 2s)"
for n in a b; do
  dir=$TD_DIR/state-$n/accounting
  mkdir -p "$dir"
  mount -t tmpfs -o size=4m,mode=1777 "tandem-acct-$n" "$dir" || fail "cannot mount a tmpfs on $dir"
  td_on_cleanup umount -l "$dir"
done
start_pair
act=$(active_node)
stb=$(other_node "$act")

step "fill node $act's accounting tmpfs"
dd if=/dev/zero of="$TD_DIR/state-$act/accounting/fill" bs=64k 2>/dev/null || true
df -k "$TD_DIR/state-$act/accounting" | tail -n1 | awk '{ print "[df] " $0 }'

login_unix=$(date +%s)
start_client c1 alice secret-a
wait_tunnel c1
up_unix=$(date +%s)
TD_INDEX=$(session_field "$act" index)
id=$(session_field "$act" acct_session_id)
assert_match "$id" '^[0-9A-F]{16}$' "acct_session_id on node $act"
td_logged() { grep -Eq "$2" "$(node_log "$1")"; } # NODE REGEX
wait_for 10 "node $act: the Start dropped" td_logged "$act" \
  "accounting_record_dropped .*acct_session_id=$id .*status=start"
step "node $act could not write the Start: $(grep -m1 accounting_queue_write_failed "$(node_log "$act")" | cut -c1-160)"
sleep 3 # what the active would have sent, it would have sent by now
assert_eq 0 "$(detail_count "$id")" "records of the session at FreeRADIUS before the crash"
# The standby's mirror must still say the Start is owed: it has the session.
td_mirrored() { [[ $(session_field "$stb" acct_session_id) == "$id" ]]; }
wait_for 5 "the standby's mirror with the same Acct-Session-Id" td_mirrored

step "CRASH: kill -9 node $act"
kill_unix=$(date +%s)
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_for 10 "node $stb: the owed Start queued" td_logged "$stb" "accounting_start_owed .*acct_session_id=$id( |$)"
wait_detail 15 "$id" Start
start=$(detail_records "$id" Start)
assert_match "$start" "NAS-Identifier = \"node-$stb\"" "the Start's sender"
assert_match "$start" 'User-Name = "alice"' "User-Name of the Start"
event=$(detail_values "$id" Start Event-Timestamp | head -n1)
step "the Start's Event-Timestamp: $event (the login began at $(date -u -d "@$login_unix" '+%b %e %Y %H:%M:%S UTC'))"
# FreeRADIUS prints the timestamp as a date. Dated at the login: between the client's start and
# its tunnel up, so before the crash (at least 3 s later), not at the takeover.
event_unix=$(date -d "$event" +%s) || fail "cannot read the Event-Timestamp '$event'"
((event_unix >= login_unix - 1 && event_unix <= up_unix && event_unix < kill_unix)) ||
  fail "Event-Timestamp $event_unix is not the login's time ($login_unix..$up_unix; crash $kill_unix)"
assert_match "$(detail_records "$id" | awk 'BEGIN { RS = "" } NR == 1')" \
  'Acct-Status-Type = Start' "the session's first record"

wait_resumed "$stb"
stop_client c1
wait_detail 10 "$id" Stop
assert_eq 1 "$(detail_count "$id" Start)" "Starts of the session"
assert_match "$(detail_records "$id" Stop)" "NAS-Identifier = \"node-$stb\"" "the Stop's sender"
