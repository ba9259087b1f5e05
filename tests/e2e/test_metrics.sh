#!/usr/bin/env bash
# Prometheus metrics on [node] metrics_listen: the series exist from the start (at zero) and
# move as sessions come and go: a failed login, a session with SSL and DTLS tunnels, traffic,
# a logout. Counters never fall when a session ends; other paths get 404. A metrics address
# that cannot be bound stops start-up with an error naming it.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

METRICS=$TD_SERVER_IP:9300

# write_config's extra TOML can only add tables, and metrics_listen belongs to [node].

# scrape: the body of GET /metrics, from inside the headend namespace (where the address lives).
scrape() {
  ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics"
}

# metric SERIES: its value in a fresh scrape, SERIES written as exposed, labels included.
metric() {
  local body value
  body=$(scrape) || fail "scrape of http://$METRICS/metrics failed"
  value=$(awk -v s="$1" '$1 == s {print $2}' <<<"$body")
  [[ -n $value ]] || fail "no series $1 in the scrape"
  printf '%s\n' "$value"
}

td_metric_is() { [[ $(metric "$1") == "$2" ]]; }

# wait_metric SECONDS SERIES VALUE: counters move with the event, gauges by the next scrape.
wait_metric() {
  poll_until "$1" td_metric_is "$2" "$3" ||
    fail "$2: expected $3 within $1 s, last scrape says $(metric "$2")"
  step "$2 = $3"
}

setup_topology
add_user alice 'alice pw'
write_config
set_metrics_listen "$METRICS"
start_tandemd
line=$(wait_log 5 metrics_listening)
assert_eq "$METRICS" "$(field address "$line")" "metrics_listening address"

step "scrape before any client"
headers=$(ip netns exec "$TD_NS_HEADEND" curl -sS --max-time 5 -D - -o /dev/null \
  "http://$METRICS/metrics") || fail "scrape failed"
assert_match "$headers" $'^HTTP/1\\.1 200 ' "status of GET /metrics"
assert_match "$headers" $'[Cc]ontent-[Tt]ype: text/plain; version=0\\.0\\.4' \
  "Content-Type of GET /metrics"
body=$(scrape)
grep -qx '# TYPE tandem_bytes_total counter' <<<"$body" || fail "no TYPE line for bytes_total"
assert_match "$(grep '^tandem_info{' <<<"$body" || true)" \
  "^tandem_info\\{version=\"[0-9]+\\.[0-9]+\\.[0-9]+\",node=\"$TD_ID\"\\} 1\$" "tandem_info series"
assert_eq 0 "$(metric 'tandem_sessions{state="active"}')" "active sessions at start"
assert_eq 0 "$(metric 'tandem_sessions{state="waiting_to_resume"}')" "waiting sessions at start"
assert_eq 0 "$(metric 'tandem_logins_total{result="failed"}')" "failed logins at start"
assert_eq 0 "$(metric 'tandem_session_ends_total{reason="logout"}')" "logout ends at start"
assert_eq 1 "$(metric 'tandem_role{role="standalone"}')" "role of a node without [peer]"
assert_eq 0 "$(metric 'tandem_pool_addresses{state="used"}')" "pool addresses in use at start"
# A /24 less the network, gateway and broadcast addresses.
assert_eq 253 "$(metric 'tandem_pool_addresses{state="free"}')" "free addresses at start"
start_s=$(metric tandem_process_start_time_seconds)
now_s=$(date +%s)
((start_s <= now_s && start_s > now_s - 60)) ||
  fail "process_start_time_seconds $start_s is not within the last minute (now $now_s)"

start_client bad alice 'wrong password'
client_wait_exit bad 30
assert_eq 1 "$TD_RC" "openconnect exit code with a wrong password"
wait_metric 5 'tandem_logins_total{result="failed"}' 1
assert_eq 0 "$(metric 'tandem_logins_total{result="ok"}')" "successful logins after a failure"

start_client a alice 'alice pw'
wait_tunnel a
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
wait_metric 5 'tandem_sessions{state="active"}' 1
assert_eq 1 "$(metric 'tandem_logins_total{result="ok"}')" "successful logins"
assert_eq 1 "$(metric 'tandem_tunnels{kind="ssl"}')" "SSL tunnels with one client"
assert_eq 1 "$(metric 'tandem_pool_addresses{state="used"}')" "pool addresses in use"
wait_log 10 tunnel_up "index=$index .*kind=dtls( |$)" >/dev/null
wait_metric 5 'tandem_tunnels{kind="dtls"}' 1

rx0=$(metric 'tandem_bytes_total{direction="rx"}')
prx0=$(metric 'tandem_packets_total{direction="rx"}')
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5
rx1=$(metric 'tandem_bytes_total{direction="rx"}')
prx1=$(metric 'tandem_packets_total{direction="rx"}')
tx1=$(metric 'tandem_bytes_total{direction="tx"}')
# Five echo requests of 84 bytes each went in (IP payload as the headend counts it).
((rx1 >= rx0 + 5 * 84)) || fail "bytes_total rx grew from $rx0 to only $rx1 after 5 pings"
((prx1 >= prx0 + 5)) || fail "packets_total rx grew from $prx0 to only $prx1 after 5 pings"
((tx1 >= 5 * 84)) || fail "bytes_total tx is $tx1 after 5 echo replies"
step "bytes rx $rx0 -> $rx1, packets rx $prx0 -> $prx1, bytes tx $tx1"

stop_client a INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
wait_log 5 session_end "index=$index .*reason=logout( |$)" >/dev/null
wait_metric 5 'tandem_sessions{state="active"}' 0
assert_eq 0 "$(metric 'tandem_sessions{state="waiting_to_resume"}')" "waiting sessions after logout"
assert_eq 0 "$(metric 'tandem_tunnels{kind="ssl"}')" "SSL tunnels after logout"
assert_eq 0 "$(metric 'tandem_tunnels{kind="dtls"}')" "DTLS tunnels after logout"
assert_eq 1 "$(metric 'tandem_session_ends_total{reason="logout"}')" "logout ends"
assert_eq 0 "$(metric 'tandem_pool_addresses{state="used"}')" "pool addresses after logout"
rx2=$(metric 'tandem_bytes_total{direction="rx"}')
((rx2 >= rx1)) || fail "bytes_total rx fell from $rx1 to $rx2 when the session ended"

step "other paths and methods"
code() {
  ip netns exec "$TD_NS_HEADEND" curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@" ||
    true
}
assert_eq 404 "$(code "http://$METRICS/")" "status of GET /"
assert_eq 404 "$(code "http://$METRICS/metricsx")" "status of GET /metricsx"
assert_eq 405 "$(code -X POST "http://$METRICS/metrics")" "status of POST /metrics"
big=$(head -c 8000 /dev/zero | tr '\0' a)
assert_eq 431 "$(code -H "X-Big: $big" "http://$METRICS/metrics")" \
  "status of a request with an 8 kB header"
# A silent connection is closed by the deadline, not held open; scraping still works meanwhile.
t0=$(td_now_ms)
ip netns exec "$TD_NS_HEADEND" socat -u "TCP:$METRICS" - </dev/null >/dev/null 2>&1 &
silent=$!
td_track "$silent"
assert_eq 1 "$(metric 'tandem_logins_total{result="ok"}')" "scrape beside a silent connection"
wait_for 10 "the metrics endpoint to close a silent connection" td_not_alive "$silent"
wait "$silent" || true
step "silent connection closed after $(($(td_now_ms) - t0)) ms"
stop_tandemd

step "start-up fails when metrics_listen cannot be bound"
sed -i "s/^metrics_listen = .*/metrics_listen = \"10.200.0.99:9300\"/" "$TD_CONFIG"
: >"$TD_TANDEMD_LOG"
rc=0
timeout 20 ip netns exec "$TD_NS_HEADEND" "$TD_TANDEMD" --config "$TD_CONFIG" \
  >>"$TD_TANDEMD_LOG" 2>&1 || rc=$?
assert_ne 0 "$rc" "tandemd exit code with an unbindable metrics address"
assert_ne 124 "$rc" "tandemd kept running with an unbindable metrics address"
line=$(wait_log 1 startup_failed)
assert_match "$(field reason "$line")" '^metrics_listen 10\.200\.0\.99:9300: ' \
  "startup_failed reason names the metrics address"
assert_eq 0 "$(log_count listening)" "listening lines without a metrics endpoint"
