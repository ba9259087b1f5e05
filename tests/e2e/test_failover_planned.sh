#!/usr/bin/env bash
# Planned failover (S22): `tandemctl failover` while a real openconnect client pings through the
# tunnel every 50 ms. The client must resume on the other node with the same address and session
# index, counters must continue, and the gap (longest silence between replies) is reported.
# Then a failover back, requested on the standby this time.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

MODE=${1:-dtls}  # dtls | tls
pair_with_client "$MODE"
act=$TD_ACT stb=$TD_STB ip1=$TD_IP1 index=$TD_INDEX
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 2
rx_before=$(session_field "$act" bytes_rx)

drill() { # FROM-NODE (where tandemctl failover runs)
  local from=$1 t0 out
  t0=$(td_now_ms)
  out=$(nctl "$from" failover) || fail "tandemctl failover on node $from: $out"
  step "failover on node $from: $out ($(($(td_now_ms) - t0)) ms)"
}

drill "$act"
wait_for 10 "node $stb active" td_is_active "$stb"
wait_for 10 "node $stb holding the service address" td_has_vip "$stb"
wait_resumed "$stb"
wait_for 10 "node $act following node $stb" td_following "$act"
sleep 2
assert_eq "$ip1" "$(client_ip c1)" "client address after the failover"
view=$(nctl "$stb" show sessions --json | jq -c '.sessions[0]')
assert_eq "$index" "$(jq -r .index <<<"$view")" "session index on the new active"
assert_eq "$ip1" "$(jq -r .assigned_ip <<<"$view")" "assigned address on the new active"
rx_after=$(jq -r .bytes_rx <<<"$view")
((rx_after > rx_before)) || fail "counters did not continue: rx $rx_before -> $rx_after"
step "counters continued: bytes_rx $rx_before -> $rx_after"
ping_stream_stats p 50
step "GAP planned failover ($MODE): longest silence between replies ${TD_PING_GAP_MS} ms, lost $TD_PING_LOST of $TD_PING_SENT"

# And back, asked on the standby this time.
drill "$act"
wait_for 10 "node $act active again" td_is_active "$act"
wait_resumed "$act"
sleep 2
assert_eq "$ip1" "$(client_ip c1)" "client address after the failover back"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost; longest gap over both drills ${TD_PING_GAP_MS} ms"
td_alive "$(client_pid c1)" || fail "openconnect exited"
