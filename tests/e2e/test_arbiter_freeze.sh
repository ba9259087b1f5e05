#!/usr/bin/env bash
# Issue 10 item 2c: the active frozen (SIGSTOP) for longer than the lease TTL, then woken.
# A frozen process cannot drop its address; its keeper does, at the serving deadline the daemon
# last sent it (docs/arbiter.md), before the lease can pass to the other node. So: once the
# lease could have passed, the frozen node no longer holds the service address (never two
# holders), the standby wins the key and serves the client, and after waking the old active
# steps down and never takes the address again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"

FREEZE_MS=${FREEZE_MS:-5000}
arbitrated_pair_with_client dtls
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
start_vip_sampler
sleep 1.5
ttl_ms=$(td_duration_ms "$TD_TTL")

failover_begin "$act"
t_stop=$(td_now_ms)
kill -STOP "${TD_NODE_PID[$act]}"
step "FREEZE: SIGSTOP node $act's tandemd (pid ${TD_NODE_PID[$act]}) for $FREEZE_MS ms; TTL $ttl_ms ms"
wait_for 15 "node $stb active" td_is_active "$stb"
t_promoted=$(td_now_ms)
assert_eq "node-$stb" "$(key_holder)" "the key's holder"
wait_resumed "$stb"
step "node $stb active $((t_promoted - t_stop)) ms after the freeze; the client resumed there"
rest=$((t_stop + FREEZE_MS - $(td_now_ms)))
((rest <= 0)) || sleep "$((rest / 1000)).$(printf '%03d' $((rest % 1000)))"
td_holds_none "$act" || fail "the frozen node $act still holds $(td_node_addrs "$act") after $FREEZE_MS ms"

t_cont=$(td_now_ms)
kill -CONT "${TD_NODE_PID[$act]}"
step "WAKE: SIGCONT node $act after $((t_cont - t_stop)) ms"
td_stepped_down() { [[ $(node_field "$1" role) == standby ]]; }
wait_for 10 "node $act (woken) standing by" td_stepped_down "$act"
sleep 2

vip_overlap_events "$t_stop" "$(td_now_ms)"
step "address events from the freeze, ms after SIGSTOP: ${TD_EV_LIST:-none}"
assert_eq 0 "$TD_EV_OVERLAP_MS" "ms with two holders of $TD_SERVER_IP"
drop_at=$(awk -v n="$act" -v t0="$t_stop" '$1 >= t0 && $2 == n && $3 == 0 { print $1; exit }' \
  "$TD_DIR/vip-events.sorted")
[[ -n $drop_at ]] || fail "no event shows the frozen node $act dropping $TD_SERVER_IP"
step "the frozen node's keeper dropped $TD_SERVER_IP $((drop_at - t_stop)) ms after SIGSTOP (TTL $ttl_ms ms)"
((drop_at - t_stop <= ttl_ms)) || fail "the frozen node held the address $((drop_at - t_stop)) ms: past the TTL"
retaken=$(awk -v n="$act" -v t0="$t_cont" '$1 >= t0 && $2 == n && $3 == 1' "$TD_DIR/vip-events.sorted")
[[ -z $retaken ]] || fail "node $act took $TD_SERVER_IP again after waking: $retaken"
grep -q 'keeper_address_dropped' "$(node_log "$act")" || fail "node $act's keeper did not log the drop"

assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$((ttl_ms + 2500))"
assert_eq "$stb" "$(active_node)" "the one active node"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
