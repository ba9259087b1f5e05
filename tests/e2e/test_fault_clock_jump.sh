#!/usr/bin/env bash
# Issue 9 item 5f: the active's wall clock jumps +1 h, later -2 h (to 1 h behind), while its
# monotonic clock runs on (libfaketime: FAKETIME_TIMESTAMP_FILE re-read on every call with
# FAKETIME_NO_CACHE=1, FAKETIME_DONT_FAKE_MONOTONIC=1). Durations, not wall-clock instants, must
# decide every timer (S6, S7, S8):
#  - alice (idle) has her SSL tunnel closed idle_timeout (IDLE_S) after it came up, and her
#    session removed idle_timeout after that (the disconnected timeout), whatever the jumps;
#  - bob (pinging through his tunnel) is ended by session_timeout (SESSION_S) after his login,
#    and his tunnel carries traffic without a silence over 1 s until then;
#  - the node keeps serving and replicating: a login after each jump is answered and is on the
#    standby (lag 0), the active never changes role, the standby never promotes, and the
#    removals reach the standby.
# The wall clock the faked node logs is checked to have moved (the jump really happened). The PKI
# is issued a day back so that certificates stay valid on a clock an hour behind.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

FT_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
[[ -r $FT_LIB ]] || fail "libfaketime is needed (apt-get install faketime)"
IDLE_S=${IDLE_S:-12}
SESSION_S=${SESSION_S:-30}
TOL_EARLY_MS=500 # timers are checked every ~100 ms; the anchors below are taken a bit late
TOL_LATE_MS=1500

TD_PKI_BACKDATE=-1d
rc_file=$TD_DIR/faketime.rc
echo "+0" >"$rc_file"
TD_PRIORITY=([a]=200 [b]=100)
TD_NODE_ENV[a]="LD_PRELOAD=$FT_LIB FAKETIME_TIMESTAMP_FILE=$rc_file FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1"
setup_pair_topology
add_pair_client2_ns
make_pair_pki
for u in alice bob carol dave; do add_user "$u" "secret-$u"; done
policy="[policy.default]
idle_timeout = \"${IDLE_S}s\"
session_timeout = \"${SESSION_S}s\"
keepalive = \"2s\"
dpd_interval = \"4s\"
simultaneous_logins = 0"
write_node_config a "$policy"
write_node_config b "$policy"
start_pair
assert_eq a "$(active_node)" "the active node (the one whose clock jumps)"
log_a=$(node_log a)

td_a_logged() { grep -Eq -- "$1" "$log_a"; }
# wait_a_event SECONDS ERE: wait for a line in node a's log; sets T_SEEN (real time it was seen,
# polled every 50 ms) and LINE.
wait_a_event() {
  local deadline=$(($(td_now_ms) + $1 * 1000))
  until td_a_logged "$2"; do
    (($(td_now_ms) < deadline)) || fail "timed out after $1 s waiting for /$2/ in node a's log"
    sleep 0.05
  done
  T_SEEN=$(td_now_ms)
  LINE=$(grep -E -- "$2" "$log_a" | tail -n 1)
}
# Node a's wall clock minus the real one, from the stamp of its newest log line LINE.
clock_skew_s() { echo $((($(log_ms "$LINE") - T_SEEN) / 1000)); }
# A login that must be answered by node a and reach node b.
login_replicated() { # ID USER
  authenticate --ns "$TD_NS_CLIENT2" "$1" "$2" "secret-$2"
  wait_a_event 5 " login_ok .*user=$2 "
  assert_eq replicated "$(field persisted "$LINE")" "$2's login acknowledged by the standby"
  wait_for 10 "node b caught up" td_caught_up b
  assert_eq 1 "$(nctl b show sessions --user "$2" --json | jq '.sessions | length')" "$2's session on node b"
  step "$2 logged in on node a (its clock $(clock_skew_s) s off the real one) and is on node b"
}
check_elapsed() { # WHAT ELAPSED_MS EXPECTED_MS
  step "$1: after ${2} ms (expected ${3} ms, -${TOL_EARLY_MS}/+${TOL_LATE_MS})"
  (($2 >= $3 - TOL_EARLY_MS)) || fail "$1 came early: ${2} ms, expected ${3} ms"
  (($2 <= $3 + TOL_LATE_MS)) || fail "$1 came late: ${2} ms, expected ${3} ms"
}

t_bob0=$(td_now_ms)
start_client --ns "$TD_NS_CLIENT2" c2 bob secret-bob
wait_tunnel c2
index_bob=$(nctl a show sessions --user bob --json | jq -r '.sessions[0].index')
start_ping_stream pb "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 0.1

start_client c1 alice secret-alice
wait_a_event 30 " tunnel_up .*kind=ssl .*public=10\.200\.0\.2:"
t_alice=$T_SEEN
index_alice=$(field index "$LINE")
wait_tunnel c1
step "alice (index $index_alice) idle, bob (index $index_bob) pinging; idle_timeout ${IDLE_S}s, session_timeout ${SESSION_S}s"

sleep 4
step "JUMP +1 h on node a"
t_j1=$(td_now_ms)
echo "+3600" >"$rc_file"
login_replicated x1 carol
skew=$(clock_skew_s)
((skew > 3500 && skew < 3700)) || fail "node a's log clock is ${skew} s off after the +1 h jump: faketime did not take"

wait_a_event $((IDLE_S + 5)) " tunnel_down index=$index_alice .*kind=ssl"
t_down=$T_SEEN
assert_eq idle_timeout "$(field reason "$LINE")" "reason alice's SSL tunnel went down"
check_elapsed "alice's tunnel closed for idleness (clock jumped +1 h meanwhile)" $((t_down - t_alice)) $((IDLE_S * 1000))

sleep 3
step "JUMP -2 h on node a (to 1 h behind)"
echo "-3600" >"$rc_file"
login_replicated x2 dave
skew=$(clock_skew_s)
((skew < -3500 && skew > -3700)) || fail "node a's log clock is ${skew} s off after the -2 h jump: faketime did not take"

wait_a_event $((IDLE_S + 5)) " session_end index=$index_alice( |$)"
assert_eq disconnected_timeout "$(field reason "$LINE")" "alice's session_end reason"
check_elapsed "alice's session removed after her tunnel closed (clock jumped -2 h meanwhile)" $((T_SEEN - t_down)) $((IDLE_S * 1000))

# bob's tunnel carried traffic all along (until his session timeout, which comes next).
ping_gap_since pb "$t_j1"
step "bob's pings since the first jump: longest silence ${TD_GAP_MS} ms (${TD_GAP_AFTER} replies)"
((TD_GAP_MS <= 1000)) || fail "bob's tunnel was silent ${TD_GAP_MS} ms across the clock jumps"
ping_fresh "$TD_NS_CLIENT2" || fail "a fresh ping through bob's tunnel was not answered"

wait_a_event $((SESSION_S + 5)) " session_end index=$index_bob( |$)"
assert_eq session_timeout "$(field reason "$LINE")" "bob's session_end reason"
el=$((T_SEEN - t_bob0))
step "bob's session ended ${el} ms after his client started (its login came in between)"
((el >= SESSION_S * 1000 - TOL_EARLY_MS)) || fail "bob's session timeout came early: ${el} ms"
((el <= SESSION_S * 1000 + TOL_LATE_MS + 3000)) || fail "bob's session timeout came late: ${el} ms"

# Still one member: same active, standby following with the removals.
wait_for 10 "node b caught up" td_caught_up b
for idx in "$index_alice" "$index_bob"; do
  assert_eq 0 "$(nctl b show sessions --index "$idx" --json 2>/dev/null | jq '.sessions | length' || echo 0)" \
    "ended session $idx still on node b"
done
assert_eq a "$(active_node)" "the active node after the jumps"
assert_eq 1 "$(grep -c ' role_change ' "$log_a" || true)" "role changes on node a (the start-up one only)"
assert_not_contains "$(node_log b)" ' role_change .*role=active' "node b promoted"
step "member after the jumps: a $(node_status a | jq -c '{role, epoch, degraded}'), b $(node_status b | jq -c '{role, peer_state, replication_lag_seq, replication_lag_ms}')"
echo "+0" >"$rc_file"
