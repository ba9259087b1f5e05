#!/usr/bin/env bash
# Out of file descriptors (docs/limits.md, "Descriptors"): tandemd's RLIMIT_NOFILE is lowered
# to a few dozen above what it has open, and tandem-load then asks for more tunnels than fit.
#  - the connections that do not fit are refused on accept with a reason
#    (`connection_refused reason=descriptors`) and counted in the metric, and the accept loop
#    does not spin at the limit (tandemd's CPU while the limit is held stays low);
#  - a client connected before the limit was reached keeps its tunnel: a ping through it is
#    answered while every descriptor is taken;
#  - once the held tunnels are released, a new openconnect logs in and pings through its
#    tunnel, and tandemd never exited.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
HEADROOM=40   # descriptors left to tandemd above those open when the limit is set
SESSIONS=120  # tunnels asked for: three times the headroom
HOLD_S=30     # tandem-load holds what it got this long
SPIN_CPU_PCT=50 # at the limit, tandemd's CPU over a few idle seconds (a spin is ~100 %)
METRICS=$TD_SERVER_IP:9300

[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
command -v prlimit >/dev/null || fail "prlimit (util-linux) is needed"

fd_count() { find "/proc/$TD_TANDEMD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$TD_TANDEMD_PID/stat"; }
td_at_limit() { (($(fd_count) >= LIMIT - 2)); }
td_below_limit() { (($(fd_count) < LIMIT - 10)); }

setup_topology
add_user alice 'alice pw'
add_user bob 'bob pw'
printf 'bob pw\n' >"$TD_DIR/password-bob"
write_config "$TD_LOAD_CLIENT_CONFIG"
set_metrics_listen "$METRICS"
start_tandemd

step "client a connects before the limit is set"
start_client a alice 'alice pw'
wait_tunnel a
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP"

open_fds=$(fd_count)
LIMIT=$((open_fds + HEADROOM))
prlimit --pid "$TD_TANDEMD_PID" --nofile="$LIMIT:$LIMIT" || fail "prlimit on tandemd failed"
step "tandemd has $open_fds descriptors open; RLIMIT_NOFILE now $LIMIT"

step "tandem-load: $SESSIONS tunnels as bob, held ${HOLD_S}s"
ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --user bob \
  --password-file "$TD_DIR/password-bob" --sessions "$SESSIONS" --connect --concurrency 10 \
  --hold "$HOLD_S" --pin "$TD_PIN" --step-timeout 5 --quiet \
  --report-json "$TD_DIR/load.json" >"$TD_DIR/load.log" 2>&1 &
load_pid=$!
td_track "$load_pid"

wait_for 60 "tandemd at its descriptor limit" td_at_limit
line=$(wait_log 30 connection_refused 'reason=descriptors')
step "   $line"
assert_eq "$LIMIT" "$(field limit "$line")" "limit named in the refusal"

step "at the limit: client a still pings through its tunnel"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP"

# Once every session has its answer, tandem-load says it is holding; tandemd then sits at the
# limit with nobody waiting to be accepted. A spinning accept loop would take a whole core here.
wait_for 90 "tandem-load to hold its tunnels" grep -q 'holding' "$TD_DIR/load.log"
# A scrape arriving now waits in the metrics port's queue: it must not make that accept spin
# either.
ip netns exec "$TD_NS_HEADEND" curl -s --max-time 8 "http://$METRICS/metrics" >/dev/null 2>&1 &
td_track $!
sleep 0.5
t0=$(cpu_ticks)
sleep 4
used=$(($(cpu_ticks) - t0))
hz=$(getconf CLK_TCK)
pct=$((100 * used / hz / 4))
step "tandemd CPU at the limit: $pct % of one core over 4 s (fds open: $(fd_count))"
((pct < SPIN_CPU_PCT)) || fail "tandemd used $pct % of a core at the descriptor limit"

wait_for $((HOLD_S + 60)) "tandem-load to finish" td_not_alive "$load_pid"
wait "$load_pid" || true # some sessions failed: that is the point
[[ -s $TD_DIR/load.json ]] || fail "tandem-load wrote no report: $(tail -n 3 "$TD_DIR/load.log")"
up=$(jq -r .tunnels_up "$TD_DIR/load.json")
failed=$(jq -r .sessions_failed "$TD_DIR/load.json")
step "tandem-load: $up tunnels up, $failed sessions failed; errors: $(jq -c .errors "$TD_DIR/load.json")"
((up > 0)) || fail "no tunnel came up below the limit"
((failed > 0)) || fail "every session fitted: the limit was not reached"
((up < SESSIONS)) || fail "all $SESSIONS tunnels came up under a limit of $LIMIT descriptors"
td_alive "$TD_TANDEMD_PID" || fail "tandemd exited at the descriptor limit"

step "after the release: a new client logs in and pings through its tunnel"
wait_for 30 "tandemd below its limit again" td_below_limit
refused=$(metric 'tandem_connections_refused_total{reason="descriptors"}')
step "refusals counted in the metric: $refused"
((refused > 0)) || fail "no refusal counted in tandem_connections_refused_total{reason=\"descriptors\"}"
# A scrape queued at the limit is answered once a descriptor is free, and its failed accepts were
# logged a few times, not once per turn of a loop.
failed_lines=$(log_count metrics_accept_failed)
step "metrics_accept_failed lines: $failed_lines"
((failed_lines <= 20)) || fail "$failed_lines metrics_accept_failed lines: the scrape's accept spun"
start_client b alice 'alice pw'
wait_tunnel b
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP"
stop_client b
stop_client a
stop_tandemd
step "PASS"
