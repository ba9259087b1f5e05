#!/usr/bin/env bash
# Issue 9 item 5a: the active frozen (SIGSTOP) for longer than hold_time, then woken (SIGCONT).
# The standby must take over and the client resume there while the old active is frozen; after
# waking, the old active must see the new epoch and step down: two seconds after SIGCONT it
# holds neither member address, only the new active does, and exactly one node says it is active.
# The client keeps working throughout (assert_failover_outcome over the whole freeze and wake).
#
# Measured and printed, not asserted: the window in which both nodes' kernels held the service
# address (sampled every 100 ms). A frozen process cannot drop its address, so today that window
# is expected to span from the standby's promotion to the old active's wake-up.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

TD_HOLD=2s
FREEZE_MS=${FREEZE_MS:-4500} # hold_time + 2.5 s
pair_with_client dtls
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
start_vip_sampler
sleep 1.5
epoch0=$(node_field "$act" epoch)

failover_begin "$act"
step "FREEZE: SIGSTOP node $act's tandemd (pid ${TD_NODE_PID[$act]}) for ${FREEZE_MS} ms; hold_time $TD_HOLD"
t_stop=$(td_now_ms)
kill -STOP "${TD_NODE_PID[$act]}"
# Only the standby is asked anything while the active is frozen: its admin socket cannot answer.
wait_for 15 "node $stb active" td_is_active "$stb"
t_promoted=$(td_now_ms)
epoch1=$(node_field "$stb" epoch)
step "node $stb active (epoch $epoch0 -> $epoch1) $((t_promoted - t_stop)) ms after the freeze"
((epoch1 > epoch0)) || fail "the new active's epoch $epoch1 is not above the frozen one's $epoch0"
wait_resumed "$stb"
wait_for 10 "a fresh ping through the tunnel while node $act is frozen" ping_fresh
step "client resumed on node $stb and a fresh ping answered $(($(td_now_ms) - t_stop)) ms after the freeze"
rest=$((t_stop + FREEZE_MS - $(td_now_ms)))
((rest <= 0)) || sleep "$((rest / 1000)).$(printf '%03d' $((rest % 1000)))"

t_cont=$(td_now_ms)
kill -CONT "${TD_NODE_PID[$act]}"
step "WAKE: SIGCONT node $act after $((t_cont - t_stop)) ms frozen"
td_stepped_down() { [[ $(node_field "$1" role) == standby ]]; }
wait_for 10 "node $act (woken) standing by" td_stepped_down "$act"
step "node $act stood by $(($(td_now_ms) - t_cont)) ms after waking: $(node_status "$act" | jq -c '{role, epoch, peer_state}')"
sleep 2
t_check=$(td_now_ms)

# What must hold from waking + 2 s on.
assert_eq "$epoch1" "$(node_field "$act" epoch)" "the woken node's epoch (it has seen the new one)"
td_is_active "$act" && fail "node $act still says it is active 2 s after waking"
assert_eq "" "$(td_node_addrs "$act")" "member addresses held by node $act 2 s after waking"
assert_eq "service inside" "$(td_node_addrs "$stb")" "member addresses held by node $stb"
assert_eq "$stb" "$(active_node)" "the one active node"

assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$(td_crash_gap_bound_ms)"

# The overlap window (both kernels holding 10.200.0.1), from the samples.
vip_overlap "$t_stop" "$t_check"
released=$(awk -v c="$t_cont" -v n="$act" '$1 >= c && ((n == "a" && $2 == 0) || (n == "b" && $3 == 0)) { print $1 - c; exit }' "$TD_DIR/vip-samples.log")
if ((TD_OVERLAP_SAMPLES > 0)); then
  step "OVERLAP: both nodes held $TD_SERVER_IP for ~${TD_OVERLAP_MS} ms ($TD_OVERLAP_SAMPLES of $TD_SAMPLES samples, one every ~${TD_SAMPLE_EVERY_MS} ms): from +$((TD_OVERLAP_FIRST_MS - t_stop)) ms to +$((TD_OVERLAP_LAST_MS - t_stop)) ms after SIGSTOP (promotion seen at +$((t_promoted - t_stop)) ms, SIGCONT at +$((t_cont - t_stop)) ms); the woken node released it ${released:-?} ms after SIGCONT"
else
  step "OVERLAP: none seen in $TD_SAMPLES samples (one every ~${TD_SAMPLE_EVERY_MS} ms); the woken node released the address ${released:-?} ms after SIGCONT"
fi
vip_overlap_events "$t_stop" "$t_check"
step "OVERLAP from the kernels' address events: ${TD_EV_OVERLAP_MS} ms with two holders between SIGSTOP and the check (events, ms after SIGSTOP: ${TD_EV_LIST:-none})"
vip_overlap_events "$((t_cont + 2000))" "$(td_now_ms)"
assert_eq 0 "$TD_EV_OVERLAP_MS" "ms with two holders of $TD_SERVER_IP from waking + 2 s on (address events)"
vip_overlap "$((t_cont + 2000))"
assert_eq 0 "$TD_OVERLAP_SAMPLES" "samples with two holders of $TD_SERVER_IP from waking + 2 s on (of $TD_SAMPLES)"
step "node $act's last role change: $(grep -E ' role_change ' "$(node_log "$act")" | tail -n 1 || true)"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
td_alive "$(client_pid c1)" || fail "openconnect exited"
