#!/usr/bin/env bash
# Planned failover (S22): `tandemctl failover` while a real openconnect client pings through the
# tunnel every 50 ms. After it (assert_failover_outcome): the new active holds the addresses and
# the old one neither, a fresh ping through the tunnel is answered, the client's gap (trailing
# silence included) is within TD_PLANNED_GAP_MS (1.5 s), every session keeps its index and
# address, and counters continue: a counted burst of pings sent just before the drill, inside
# the second in which counters are not yet replicated, is all in the new active's bytes_rx (the
# handover flushes unsent counters first). Then a failover back, requested on the standby.
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

failover_begin "$act"
step "a counted burst just before the drill: 200 pings of 1028 IP bytes, 2 ms apart"
burst=$(ip netns exec "$TD_NS_CLIENT" ping -n -q -c 200 -i 0.002 -s 1000 -W 1 "$TD_INSIDE_IP" ||
  true)
answered=$(sed -nE 's/.* ([0-9]+) received.*/\1/p' <<<"$burst")
[[ $answered =~ ^[0-9]+$ ]] && ((answered > 0)) || fail "the burst got no answer: $burst"
# Every answered echo request crossed the old active: at least this much must reach the new one.
rx_floor=$((rx_before + answered * 1028))
drill "$act"
wait_resumed "$stb"
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$TD_PLANNED_GAP_MS"
view=$(nctl "$stb" show sessions --json | jq -c '.sessions[0]')
rx_after=$(jq -r .bytes_rx <<<"$view")
((rx_after >= rx_floor)) ||
  fail "counters lost in the handover: bytes_rx $rx_after on the new active, below $rx_floor ($rx_before before the burst + $answered answered x 1028)"
step "counters continued: bytes_rx $rx_before -> $rx_after (at least $rx_floor with the burst)"
# The record came over whole: what the client said of itself at login, too.
assert_eq linux-64 "$(jq -r '.tunnels[] | select(.type == "AnyConnect-Parent") | .client_os' <<<"$view")" \
  "the client's platform on the new active"

# And back, asked on the standby (the old active) this time.
failover_begin "$stb"
drill "$act"
wait_resumed "$act"
assert_failover_outcome "$stb" "$act" "$ip1" "$index" "$TD_PLANNED_GAP_MS"
stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost; longest gap over both drills ${TD_PING_GAP_MS} ms"
td_alive "$(client_pid c1)" || fail "openconnect exited"
