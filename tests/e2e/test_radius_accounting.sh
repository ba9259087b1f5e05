#!/usr/bin/env bash
# RADIUS accounting against a real FreeRADIUS (docs/radius-accounting.md): Debian's freeradius
# runs in its own namespace with a generated config and writes every record it acknowledges
# to its detail file, which this test reads.
#  1. alice logs in with the real openconnect: a Start with the Acct-Session-Id tandemctl shows
#     (--json and --detail), her address and the NAS-Identifier.
#  2. She pings: Interim-Updates every 2 s with input octets that grow.
#  3. She logs out: a Stop with Acct-Terminate-Cause = User-Request, no fewer octets than the
#     last Interim, and nothing after it.
#  Through 1-3 the node's I/O thread (the main thread, which carries every tunnel) makes no
#     fsync or fdatasync: the accounting queue's synced writes come from its own thread
#     ("tandem-acct"), seen by strace.
#  4. FreeRADIUS is stopped: bob logs in, pings and logs out; his records wait in the node's
#     queue (the metrics say so). FreeRADIUS starts again: his Start and Stop arrive, in order,
#     with an Acct-Delay-Time, and none is lost.
# shellcheck shell=bash source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=lib_radius_acct.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_radius_acct.sh"

TD_DEADLINE=90

metric() { # NAME: the value of an unlabelled sample from the metrics endpoint
  ip netns exec "$TD_NS_HEADEND" curl -s "http://127.0.0.1:9101/metrics" |
    awk -v n="tandem_$1" '$1 == n { print $2 }'
}

setup_topology
radius_ns_single
add_user alice 'alice pw'
add_user bob 'bob pw'
write_config "$(radius_toml 2s tandem-test)"
sed -i "/^\[node\]\$/a metrics_listen = \"127.0.0.1:9101\"" "$TD_CONFIG"
radius_start
start_tandemd
command -v strace >/dev/null || fail "strace is needed (deploy/setup.sh installs it)"
strace -f -qq -e trace=fsync,fdatasync -o "$TD_DIR/syncs.txt" -p "$TD_TANDEMD_PID" &
strace_pid=$!
td_track "$strace_pid"
sleep 1 # attached to every thread

step "1. Start"
start_client alice alice 'alice pw'
wait_tunnel alice
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
id=$(sessions_jq ".sessions[] | select(.index == \"$index\") | .acct_session_id")
assert_match "$id" '^[0-9A-F]{16}$' "acct_session_id in show sessions --json"
assert_contains <(tctl show sessions --detail) "^Acct Session : $id\$" \
  "the Acct-Session-Id in show sessions --detail"
wait_detail 10 "$id" Start
start=$(detail_records "$id" Start)
assert_match "$start" 'User-Name = "alice"' "User-Name of the Start"
assert_match "$start" "Framed-IP-Address = $(client_ip alice)" "Framed-IP-Address of the Start"
assert_match "$start" 'NAS-Identifier = "tandem-test"' "NAS-Identifier of the Start"
assert_match "$start" 'Event-Timestamp = ' "Event-Timestamp of the Start"

step "2. Interim-Updates while alice pings"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
wait_detail 10 "$id" Interim-Update 1
first=$(detail_input_octets "$id" Interim-Update | tail -n1)
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
n=$(detail_count "$id" Interim-Update)
wait_detail 10 "$id" Interim-Update $((n + 1))
last=$(detail_input_octets "$id" Interim-Update | tail -n1)
step "input octets: $first, then $last"
((last > first)) || fail "input octets did not grow between Interim-Updates: $first then $last"
# Never backwards, record after record.
sort -n -c <(detail_input_octets "$id" Interim-Update) ||
  fail "an Interim-Update reported fewer input octets than the one before"
assert_match "$(detail_values "$id" Interim-Update Acct-Session-Time | tail -n1)" '^[0-9]+$' \
  "Acct-Session-Time of an Interim"

step "3. logout: Stop with User-Request"
stop_client alice
wait_detail 10 "$id" Stop
assert_eq 1 "$(detail_count "$id" Stop)" "Stops of alice's session"
assert_eq 1 "$(detail_count "$id" Start)" "Starts of alice's session"
assert_eq User-Request "$(detail_values "$id" Stop Acct-Terminate-Cause)" "the terminate cause"
stop_octets=$(detail_input_octets "$id" Stop)
top=$(detail_input_octets "$id" Interim-Update | sort -n | tail -n1)
((stop_octets >= top)) || fail "the Stop reported $stop_octets input octets, below $top"
interims=$(detail_count "$id" Interim-Update)
sleep 3
assert_eq "$interims" "$(detail_count "$id" Interim-Update)" "Interim-Updates after the Stop"
# The last record of the session is its Stop.
assert_match "$(detail_records "$id" | awk 'BEGIN { RS = "" } END { print }')" \
  'Acct-Status-Type = Stop' "the session's last record"

kill -INT "$strace_pid"
wait "$strace_pid" 2>/dev/null || true
# "TID fdatasync(FD) = 0" per call; each thread named by its comm.
declare -A calls_by=()
while read -r tid _; do
  comm=$(cat "/proc/$TD_TANDEMD_PID/task/$tid/comm" 2>/dev/null || echo gone)
  [[ $tid == "$TD_TANDEMD_PID" ]] && comm="main (I/O)"
  calls_by[$comm]=$((${calls_by[$comm]:-0} + 1))
done < <(grep -E '^[0-9]+ +f(data)?sync\(' "$TD_DIR/syncs.txt")
for comm in "${!calls_by[@]}"; do step "syncs during 1-3 by thread '$comm': ${calls_by[$comm]}"; done
assert_eq 0 "${calls_by["main (I/O)"]:-0}" "fsync/fdatasync calls on the I/O thread"
((${calls_by[tandem-acct]:-0} >= 1)) || fail "no synced write from the accounting thread: strace saw nothing"

step "4. FreeRADIUS down: bob's records wait in the queue"
sent_before=$(metric accounting_records_sent_total)
radius_stop
start_client bob bob 'bob pw'
wait_tunnel bob
index_bob=$(field index "$(wait_log 5 login_ok 'user=bob( |$)')")
id_bob=$(sessions_jq ".sessions[] | select(.index == \"$index_bob\") | .acct_session_id")
assert_match "$id_bob" '^[0-9A-F]{16}$' "bob's acct_session_id"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
stop_client bob
wait_log 5 session_end "index=$index_bob .*reason=logout( |$)" >/dev/null
td_queued() { (($(metric accounting_queued) >= 2)); }
wait_for 5 "bob's Start and Stop queued" td_queued
wait_log 10 accounting_send_failed >/dev/null
assert_eq 0 "$(detail_count "$id_bob")" "bob's records at a server that is down"
sleep 3
radius_start
wait_detail 70 "$id_bob" Stop
assert_eq 1 "$(detail_count "$id_bob" Start)" "bob's Start after the server came back"
assert_match "$(detail_records "$id_bob" | awk 'BEGIN { RS = "" } NR == 1')" \
  'Acct-Status-Type = Start' "bob's first record"
delay=$(detail_values "$id_bob" Start Acct-Delay-Time)
step "bob's Start arrived with Acct-Delay-Time = $delay"
((delay >= 3)) || fail "Acct-Delay-Time of the queued Start is $delay, expected >= 3"
td_drained() { [[ $(metric accounting_queued) == 0 ]]; }
wait_for 10 "the accounting queue drained" td_drained
((sent_after = $(metric accounting_records_sent_total))) || true
((sent_after >= sent_before + 2)) || fail "records sent: $sent_before before, $sent_after after"
assert_eq 0 "$(metric accounting_records_dropped_total)" "records dropped"
stop_tandemd
