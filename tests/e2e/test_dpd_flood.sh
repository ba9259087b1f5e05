#!/usr/bin/env bash
# Bounded control queue (docs/limits.md, the data plane): a tunnel whose client sends CSTP DPD
# requests as fast as it can and never reads the replies. The replies beyond the control queue
# are dropped and counted, tandemd's memory stays bounded, and another client's tunnel keeps
# working meanwhile.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLOOD=$TANDEM_BUILD_DIR/tests/tools/tandem-flood
FLOOD_S=10
MAX_GROWTH_KB=16384  # VmHWM growth during the flood
METRICS=$TD_SERVER_IP:9300

[[ -x $FLOOD ]] || fail "tandem-flood not built: $FLOOD"
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$TD_TANDEMD_PID/status"; }
figure() { sed -n "s/.*\\b$1=\\([0-9]*\\).*/\\1/p" <<<"$2"; }

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
write_config
set_metrics_listen "$METRICS"
start_tandemd
start_client --ns "$TD_NS_CLIENT2" c2 bob 'bob pw'
wait_tunnel c2
authenticate tok alice 'alice pw'
hwm0=$(hwm_kb)
step "tandemd VmHWM before the flood: $hwm0 kB"

step "a tunnel flooded with DPD requests for ${FLOOD_S}s, replies never read"
ip netns exec "$TD_NS_CLIENT" "$FLOOD" --server "$TD_SERVER_IP:$TD_PORT" --dpd-flood "$TD_TOKEN" \
  --duration "$FLOOD_S" >"$TD_DIR/dpd.out" 2>&1 &
flood_pid=$!
td_track "$flood_pid"
wait_log 10 tunnel_up "index=${TD_TOKEN%%-*} .*kind=ssl" >/dev/null
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 5
wait_for $((FLOOD_S + 20)) "tandem-flood to finish" td_not_alive "$flood_pid"
wait "$flood_pid" || fail "tandem-flood failed: $(cat "$TD_DIR/dpd.out")"
out=$(tail -n1 "$TD_DIR/dpd.out")
step "   $out"
assert_eq 200 "$(figure dpd_status "$out")" "status of the flood's CONNECT"
sent=$(figure dpd_requests_sent "$out")
dropped=$(metric tandem_control_frames_dropped_total)
hwm1=$(hwm_kb)
step "RESULT: $sent DPD requests sent, $dropped replies dropped; VmHWM $hwm0 -> $hwm1 kB"
((sent > 100000)) || fail "only $sent DPD requests went out: not a flood"
((dropped > 0)) || fail "no DPD reply was dropped: the control queue is not bounded"
((hwm1 - hwm0 < MAX_GROWTH_KB)) ||
  fail "tandemd's peak RSS grew by $((hwm1 - hwm0)) kB during the flood (limit $MAX_GROWTH_KB kB)"
td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
stop_client c2 INT
stop_tandemd
