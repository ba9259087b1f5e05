#!/usr/bin/env bash
# Issue 10 item 2a and 2e: with the arbiter, cutting only the link between the two nodes of a
# pair (both still reach the clients and etcd) never gives two holders of the service address.
# The standby, hearing nothing, campaigns for the member's key and loses (the active still holds
# its lease); the active serves on. A client logged in during the cut keeps its session after
# the heal, and the standby follows again with lag 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"

CUT_MS=${CUT_MS:-7000}
add_user bob secret-b
arbitrated_pair_with_client dtls
act=$TD_ACT stb=$TD_STB
epoch0=$(node_field "$act" epoch)
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
start_vip_sampler
sleep 1

t_cut=$(td_now_ms)
cut_between_nodes
# The standby campaigns after hold_time and must lose: wait for its first lost campaign.
wait_for 15 "node $stb losing a campaign for the key" grep -q ' arbiter_campaign_lost ' "$(node_log "$stb")"
step "node $stb lost its campaign $(($(td_now_ms) - t_cut)) ms after the cut: $(grep ' arbiter_campaign_lost ' "$(node_log "$stb")" | head -n 1 | cut -c1-200)"

# A login during the cut: acknowledged by the active alone (its standby is unreachable).
add_pair_client2_ns
start_client --ns "$TD_NS_CLIENT2" c2 bob secret-b
wait_tunnel c2
ip2=$(client_ip c2)
step "client c2 (bob) up during the cut: $ip2"
rest=$((t_cut + CUT_MS - $(td_now_ms)))
((rest <= 0)) || sleep "$((rest / 1000)).$(printf '%03d' $((rest % 1000)))"
td_is_active "$act" || fail "node $act stopped being active during the cut"
[[ $(node_field "$stb" role) == standby ]] || fail "node $stb is not standby during the cut"
assert_eq "node-$act" "$(key_holder)" "the key's holder during the cut"
t_heal=$(td_now_ms)
heal

wait_for 20 "node $stb following node $act again" td_following "$stb"
wait_for 20 "node $stb caught up (lag 0)" td_caught_up "$stb"
assert_eq "$act" "$(active_node)" "the one active node after the heal"
assert_eq "$epoch0" "$(node_field "$act" epoch)" "the active's epoch (no promotion happened)"
sleep 1

vip_overlap "$t_cut" "$(td_now_ms)"
step "service address samples from the cut to after the heal: $TD_SAMPLES (one every ~${TD_SAMPLE_EVERY_MS} ms), two holders in $TD_OVERLAP_SAMPLES"
assert_eq 0 "$TD_OVERLAP_SAMPLES" "samples with two holders of $TD_SERVER_IP"
vip_overlap_events "$t_cut" "$(td_now_ms)"
assert_eq 0 "$TD_EV_OVERLAP_MS" "ms with two holders of $TD_SERVER_IP (address events: ${TD_EV_LIST:-none})"
td_holds_none "$stb" || fail "node $stb holds a member address"

# Both clients' sessions are on the standby's disk after the heal (the one made during the cut
# too), and both clients still get answers.
wait_for 10 "bob's session replicated to node $stb" bash -c \
  "'$TD_TANDEMCTL' --socket '$TD_DIR/admin-$stb.sock' show sessions --json 2>/dev/null | jq -e '.sessions[] | select(.username == \"bob\")' >/dev/null"
ping_fresh || fail "no fresh ping answer for c1 after the heal"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
((TD_PING_GAP_MS < 1500)) || fail "client c1's pings stalled ${TD_PING_GAP_MS} ms across the cut"
step "PASS: one holder of the service address through a ${CUT_MS} ms cut between the nodes"
