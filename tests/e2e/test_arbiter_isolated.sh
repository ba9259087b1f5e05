#!/usr/bin/env bash
# Issue 10 item 2b: the active isolated from both its peer and etcd (clients still reach it).
# It can no longer prove the member's key is its own, so it stops serving and drops the service
# address by itself within TTL + 0.5 s; the standby wins the key once the lease has expired in
# etcd and takes over; the client's gap stays within TTL + 1.5 s (plus the client's own retry).
# After the heal the old active follows the new one with lag 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"

arbitrated_pair_with_client dtls
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
start_vip_sampler
sleep 1
ttl_ms=$(td_duration_ms "$TD_TTL")

failover_begin "$act"
t_cut=$(td_now_ms)
isolate_node "$act"
wait_for 10 "node $act dropping the service address" td_holds_none "$act"
t_dropped=$(td_now_ms)
wait_for 15 "node $stb active" td_is_active "$stb"
t_promoted=$(td_now_ms)
assert_eq "node-$stb" "$(key_holder)" "the key's holder"
vip_overlap_events "$t_cut" "$(td_now_ms)"
# The exact moment from the kernel's address events (the polling above is only an upper bound).
drop_at=$(awk -v n="$act" -v t0="$t_cut" '$1 >= t0 && $2 == n && $3 == 0 { print $1; exit }' \
  "$TD_DIR/vip-events.sorted")
drop_ms=$((${drop_at:-$t_dropped} - t_cut))
step "node $act dropped $TD_SERVER_IP $drop_ms ms after the cut (TTL $ttl_ms ms); node $stb active $((t_promoted - t_cut)) ms after it; two holders for ${TD_EV_OVERLAP_MS} ms (${TD_EV_LIST:-no events})"
((drop_ms <= ttl_ms + 500)) || fail "the isolated active kept the address $drop_ms ms (bound TTL + 500 ms)"
assert_eq 0 "$TD_EV_OVERLAP_MS" "ms with two holders of $TD_SERVER_IP"

# The heal first: the outcome check waits for the old active to follow the new one.
heal
# The client comes back on the new active with its session; the gap bound: TTL + 1.5 s, plus the
# 1 s a reconnecting client's TCP may wait for a dropped SYN (docs/arbiter.md).
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$((ttl_ms + 2500))"
assert_eq "$stb" "$(active_node)" "the one active node after the heal"
td_holds_none "$act" || fail "node $act holds a member address after the heal"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
