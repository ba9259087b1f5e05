#!/usr/bin/env bash
# Issue 10 item 2d: etcd entirely down. The active cannot renew its lease, but its standby, which
# follows it and echoes its heartbeats, vouches that nobody else can take the key (the standby
# only campaigns after hold_time without hearing the active): the active serves on, the standby
# does not promote, and when etcd returns the active holds the key again (docs/arbiter.md).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"

DOWN_MS=${DOWN_MS:-8000}
add_user bob secret-b
arbitrated_pair_with_client dtls
act=$TD_ACT stb=$TD_STB
epoch0=$(node_field "$act" epoch)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
start_vip_sampler
sleep 1

t_down=$(td_now_ms)
stop_etcd
sleep 1
# A login while etcd is down: the member keeps serving new clients too.
add_pair_client2_ns
start_client --ns "$TD_NS_CLIENT2" c2 bob secret-b
wait_tunnel c2
step "client c2 (bob) logged in while etcd is down: $(client_ip c2)"
rest=$((t_down + DOWN_MS - $(td_now_ms)))
((rest <= 0)) || sleep "$((rest / 1000)).$(printf '%03d' $((rest % 1000)))"
td_is_active "$act" || fail "node $act stopped serving while etcd was down"
[[ $(node_field "$stb" role) == standby ]] || fail "node $stb left the standby role while etcd was down"
td_following "$stb" || fail "node $stb stopped following while etcd was down"
assert_eq "$epoch0" "$(node_field "$act" epoch)" "the active's epoch while etcd was down"
grep -q ' arbiter_unreachable ' "$(node_log "$act")" || fail "node $act never noticed etcd was gone"
step "after $(($(td_now_ms) - t_down)) ms without etcd: node $act still active (epoch $epoch0), node $stb following"

start_etcd
wait_for 20 "node $act holding the member's key again" td_holds_key "$act"
step "node $act holds the key again $(($(td_now_ms) - t_down - DOWN_MS)) ms after etcd returned"
sleep 1
assert_eq "$act" "$(active_node)" "the one active node"
assert_eq "$epoch0" "$(node_field "$act" epoch)" "the active's epoch after etcd returned (no promotion)"
wait_for 10 "node $stb caught up" td_caught_up "$stb"
vip_overlap_events "$t_down" "$(td_now_ms)"
assert_eq 0 "$TD_EV_OVERLAP_MS" "ms with two holders of $TD_SERVER_IP (events: ${TD_EV_LIST:-none})"
[[ -z $TD_EV_LIST ]] || fail "the service address moved while etcd was down: $TD_EV_LIST"
ping_fresh || fail "no fresh ping answer for c1"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
((TD_PING_GAP_MS < 1500)) || fail "client c1's pings stalled ${TD_PING_GAP_MS} ms while etcd was down"
