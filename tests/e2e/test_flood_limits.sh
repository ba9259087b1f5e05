#!/usr/bin/env bash
# Connection limits under a flood (docs/limits.md), default [limits] but a short login deadline:
#  1. a keep-alive connection that sends a request every second but never logs in is closed at
#     the login deadline;
#  2. one client address keeps 64 TLS connections busy: the per-address cap refuses the excess
#     (metric, rate-limited log), and a second address logs in with openconnect and pings
#     through the tunnel during the flood;
#  3. the same address opens 64 connections that never start TLS: the per-address cap on TLS
#     handshakes refuses the excess, and the rest are closed at the (here shorter) login
#     deadline;
# and tandemd's peak RSS (VmHWM) stays under a stated bound throughout.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FLOOD=$TANDEM_BUILD_DIR/tests/tools/tandem-flood
DEADLINE_S=8              # [limits] login_deadline here (default 120 s, too long for a test)
PER_ADDRESS=16            # the defaults for connections_per_address ...
HANDSHAKES_PER_ADDRESS=8  # ... and tls_handshakes_per_address
FLOOD_TLS=64
FLOOD_TLS_S=35
FLOOD_RAW=64
FLOOD_RAW_S=14
PEAK_RSS_LIMIT_KB=65536   # tandemd's VmHWM over the whole test
SLACK_MS=6000             # timing tolerance on a loaded 2-core CI box
METRICS=$TD_SERVER_IP:9300

[[ -x $FLOOD ]] || fail "tandem-flood not built: $FLOOD"

td_metric_above() { (($(metric "$1") > $2)); }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$TD_TANDEMD_PID/status"; }
# figure KEY OUTPUT: a key=value figure from tandem-flood's summary line.
figure() { sed -n "s/.*\\b$1=\\(-\\{0,1\\}[0-9]*\\).*/\\1/p" <<<"$2"; }
flood() { # OUTFILE ARGS...: tandem-flood from the first client namespace, in the background
  local out=$1
  shift
  ip netns exec "$TD_NS_CLIENT" "$FLOOD" --server "$TD_SERVER_IP:$TD_PORT" "$@" >"$out" 2>&1 &
  FLOOD_PID=$!
  td_track "$FLOOD_PID"
}
flood_wait() { # SECONDS: wait for the running tandem-flood; its summary line goes to `out`
  wait_for "$1" "tandem-flood to finish" td_not_alive "$FLOOD_PID"
  wait "$FLOOD_PID" || fail "tandem-flood failed: $(cat "$FLOOD_OUT")"
  out=$(tail -n1 "$FLOOD_OUT")
  step "   $out"
}
td_metric_is_zero() { [[ $(metric "$1") == 0 ]]; }

setup_topology
add_client2_ns
add_user alice 'alice pw'
write_config "[limits]
login_deadline = \"${DEADLINE_S}s\""
set_metrics_listen "$METRICS"
start_tandemd
step "tandemd VmHWM at start: $(hwm_kb) kB"

step "1. a keep-alive connection, a request every second, never logging in"
FLOOD_OUT=$TD_DIR/keepalive.out
flood "$FLOOD_OUT" --tls 1 --every 1 --duration 40 --once
flood_wait 60
assert_eq 1 "$(figure tls_closed "$out")" "keep-alive connection closed by the server"
lived=$(figure tls_lifetime_max_ms "$out")
# Counted from the end of the client's handshake; the deadline runs from the server's accept.
((lived >= DEADLINE_S * 1000 - 2000 && lived <= DEADLINE_S * 1000 + SLACK_MS)) ||
  fail "keep-alive connection lived $lived ms; the login deadline is ${DEADLINE_S}s"
(($(figure tls_responses "$out") >= DEADLINE_S - 3)) ||
  fail "the keep-alive connection got only $(figure tls_responses "$out") responses"
line=$(wait_log 5 input_refused 'login not completed within the login deadline')
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "public address of the deadline line"
assert_eq 1 "$(metric tandem_login_deadline_expired_total)" "login_deadline_expired_total"
step "   closed after $lived ms with $(figure tls_responses "$out") responses served"

step "2. $FLOOD_TLS busy TLS connections from $TD_CLIENT_ADDR for ${FLOOD_TLS_S}s"
FLOOD_OUT=$TD_DIR/flood-tls.out
flood "$FLOOD_OUT" --tls "$FLOOD_TLS" --every 2 --duration "$FLOOD_TLS_S" --reconnect-delay 200
wait_for 15 "refusals for connections_per_address" td_metric_above \
  'tandem_connections_refused_total{reason="connections_per_address"}' 0
peak_front=0
for ((i = 0; i < 5; i++)); do
  n=$(metric tandem_front_connections)
  ((n > peak_front)) && peak_front=$n
  sleep 0.5
done
# The flood's own connections, plus whatever the second client has at the front door.
((peak_front <= PER_ADDRESS + 2)) ||
  fail "$peak_front connections at the front door; the cap per address is $PER_ADDRESS"
td_alive "$FLOOD_PID" || fail "the flood ended before the second client logged in"
t1=$(td_now_ms)
start_client --ns "$TD_NS_CLIENT2" c2 alice 'alice pw'
wait_tunnel c2 30
login_ms=$(($(td_now_ms) - t1))
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 5
td_alive "$FLOOD_PID" || fail "the flood ended before the second client's pings were answered"
step "   second client logged in during the flood in $login_ms ms and pinged"
flood_wait $((FLOOD_TLS_S + 30))
(($(figure tls_refused "$out") > 0)) || fail "no flood connection was refused"
(($(figure tls_opened "$out") >= PER_ADDRESS)) || fail "fewer than $PER_ADDRESS flood connections"
lived=$(figure tls_lifetime_max_ms "$out")
((lived <= DEADLINE_S * 1000 + SLACK_MS)) ||
  fail "a flood connection lived $lived ms; the login deadline is ${DEADLINE_S}s"
refused=$(metric 'tandem_connections_refused_total{reason="connections_per_address"}')
lines=$(log_count connection_refused)
line=$(log_events connection_refused 'reason=connections_per_address' | head -n1)
[[ -n $line ]] || fail "no connection_refused line with reason=connections_per_address"
printf '    %s\n' "$line"
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "connection_refused public"
assert_eq "$PER_ADDRESS" "$(field limit "$line")" "connection_refused limit"
step "   $refused refused for connections_per_address; $lines connection_refused log lines"
((lines <= 20 + FLOOD_TLS_S + 5)) || fail "$lines connection_refused lines: not rate-limited"
((refused > lines)) || fail "the flood was too small to show the log's rate limit"
assert_eq 0 "$(log_count connection_refused 'public=10\.202\.')" "refusals for the second client"

step "3. $FLOOD_RAW connections from $TD_CLIENT_ADDR that never start TLS, for ${FLOOD_RAW_S}s"
FLOOD_OUT=$TD_DIR/flood-raw.out
flood "$FLOOD_OUT" --raw "$FLOOD_RAW" --duration "$FLOOD_RAW_S" --reconnect-delay 200
wait_for 15 "refusals for tls_handshakes_per_address" td_metric_above \
  'tandem_connections_refused_total{reason="tls_handshakes_per_address"}' 0
n=$(metric tandem_tls_handshakes)
((n <= HANDSHAKES_PER_ADDRESS + 1)) ||
  fail "$n TLS handshakes in progress; the cap per address is $HANDSHAKES_PER_ADDRESS"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
flood_wait $((FLOOD_RAW_S + 30))
(($(figure raw_refused "$out") > 0)) || fail "no silent connection was refused"
(($(figure raw_closed "$out") > 0)) || fail "no silent connection was closed by a deadline"
# The TLS handshake timeout is 10 s, but the login deadline, shorter here, comes first.
lived=$(figure raw_lifetime_max_ms "$out")
((lived <= DEADLINE_S * 1000 + SLACK_MS)) ||
  fail "a silent connection lived $lived ms (login deadline ${DEADLINE_S}s)"
(($(metric tandem_login_deadline_expired_total) > 1)) ||
  fail "silent connections were not closed at the login deadline"

wait_for 15 "the front door to empty" td_metric_is_zero tandem_front_connections
assert_eq 0 "$(metric tandem_tls_handshakes)" "TLS handshakes in progress after the floods"
assert_eq 0 "$(metric tandem_dtls_handshakes)" "DTLS handshakes in progress (the second client's is up)"
assert_eq 1 "$(metric 'tandem_tunnels{kind="dtls"}')" "the second client's DTLS tunnel"
hwm=$(hwm_kb)
step "RESULT: tandemd peak RSS (VmHWM) $hwm kB (limit $PEAK_RSS_LIMIT_KB kB); front door peak" \
  "$peak_front connections; $(metric 'tandem_connections_refused_total{reason="connections_per_address"}')" \
  "+ $(metric 'tandem_connections_refused_total{reason="tls_handshakes_per_address"}') refused;" \
  "second client login $login_ms ms during the flood"
((hwm < PEAK_RSS_LIMIT_KB)) || fail "tandemd peak RSS $hwm kB (limit $PEAK_RSS_LIMIT_KB kB)"
td_client_up c2 || fail "the second client's tunnel is down after the floods"
stop_client c2 INT
stop_tandemd
