#!/usr/bin/env bash
# [limits] max_sessions (docs/limits.md, "Sessions"): the most sessions a node takes.
#  1. max_sessions = 1 and alice holds the one session: bob's login is refused (no tunnel; the
#     client is shown why; tandemd logs login_refused naming the limit), alice keeps pinging,
#     and her forced reconnect (a resume, not a login) is taken.
#     A burst of 40 more logins at the limit (tandem-load): all refused and counted, the log
#     rate-limited (docs/limits.md), and no refusal unaccounted for: the lines written plus the
#     `suppressed=` they report equal the refusals counted.
#  2. A reload raising the limit to 2 applies at once: bob logs in and pings beside alice.
#  3. Without the key the limit comes from memory: half of what the process may use (MemTotal,
#     or a cgroup's memory.max when lower) at 64 KiB a session; the listening line says which.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

METRICS=$TD_SERVER_IP:9300
limits_config() { # MAX_SESSIONS
  write_config "[limits]
max_sessions = $1"
  set_metrics_listen "$METRICS"
}

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
limits_config 1
start_tandemd
line=$(wait_log 5 listening)
assert_eq 1 "$(field max_sessions "$line")" "max_sessions in the listening line"
assert_eq config "$(field max_sessions_from "$line")" "max_sessions_from in the listening line"
assert_eq 1 "$(metric tandem_session_limit)" "tandem_session_limit"
assert_eq "1 config" "$(tctl status --json | jq -r '"\(.session_limit) \(.session_limit_from)"')" \
  "status --json session_limit"
assert_match "$(tctl status)" 'Max sessions +: 1 \(configured\)' "text status: the limit"

step "alice takes the one session"
start_client a alice 'alice pw'
wait_tunnel a
ip_a=$(client_ip a)
index_a=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

step "bob's login is refused at the limit"
start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw'
client_wait_exit b 30
assert_ne 0 "$TD_RC" "openconnect exit code of a login at the limit"
assert_not_contains "$(client_log b)" 'Configured as' "no tunnel for bob at the limit"
assert_contains "$(client_log b)" 'session limit' "bob was shown why"
line=$(wait_log 5 login_refused 'user=bob( |$)')
assert_eq "session limit reached (max_sessions 1)" "$(field reason "$line")" "login_refused reason"
assert_eq 0 "$(log_count login_ok 'user=bob( |$)')" "bob's logins at the limit"
assert_eq 1 "$(metric 'tandem_logins_total{result="refused"}')" "logins refused (metric)"
assert_eq 1 "$(tctl status --json | jq -r .sessions)" "sessions after the refusal"

step "a burst of 40 logins at the limit: all refused, the log rate-limited, every one accounted"
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
printf 'bob pw\n' >"$TD_DIR/bob-password"
refused_burst() { # N: N logins as bob, all expected refused
  if ip netns exec "$TD_NS_CLIENT2" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --user bob \
    --password-file "$TD_DIR/bob-password" --sessions "$1" --concurrency 1 --pin "$TD_PIN" \
    --step-timeout 5 --quiet >"$TD_DIR/burst.log" 2>&1; then
    fail "tandem-load logged in at the session limit: $(tail -n 3 "$TD_DIR/burst.log")"
  fi
}
refused_burst 40
assert_eq 41 "$(metric 'tandem_logins_total{result="refused"}')" "logins refused (metric)"
lines=$(log_count login_refused)
((lines < 41)) || fail "all $lines refusals were logged: the log is not rate-limited"
sleep 1.2 # a token back: the next refusal is written, with what was left out before it
refused_burst 1
assert_eq 42 "$(metric 'tandem_logins_total{result="refused"}')" "logins refused after one more"
written=$(grep -c ' login_refused ' "$TD_TANDEMD_LOG")
left_out=$(grep ' login_refused ' "$TD_TANDEMD_LOG" | grep -o ' suppressed=[0-9]*' |
  cut -d= -f2 | paste -sd+ | bc)
assert_eq 42 $((written + left_out)) "login_refused lines + their suppressed counts"
step "42 refusals: $written lines written, $left_out left out and counted in them"
assert_eq 1 "$(tctl status --json | jq -r .sessions)" "sessions after the burst"

step "alice keeps her session, and resumes it at the limit (SIGUSR2: a new TLS connection)"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
force_resume a "$index_a" "$ip_a"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_eq 0 "$(log_count connect_refused)" "CONNECTs refused at the limit"

step "a reload raising the limit to 2 lets bob in"
limits_config 2
kill -HUP "$TD_TANDEMD_PID"
wait_log 10 reloaded >/dev/null
line=$(wait_log 5 session_limit_changed)
assert_eq "2 config 1" "$(field max_sessions "$line") $(field max_sessions_from "$line") $(field was "$line")" \
  "session_limit_changed after the reload"
assert_eq 2 "$(metric tandem_session_limit)" "tandem_session_limit after the reload"
start_client --ns "$TD_NS_CLIENT2" b2 bob 'bob pw'
wait_tunnel b2
wait_log 5 login_ok 'user=bob( |$)' >/dev/null
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
stop_client b2 INT
stop_client a INT
stop_tandemd

step "without the key: the limit comes from memory"
write_config
start_tandemd
line=$(wait_log 5 listening 'max_sessions_from=memory')
memory=$(field memory "$line")
memory_from=$(field memory_from "$line")
total=$(($(awk '$1 == "MemTotal:" {print $2}' /proc/meminfo) * 1024))
step "memory: $memory bytes from $memory_from (MemTotal $total)"
# tandemd runs under `ip netns exec`, whose fresh /sys may hide the cgroup files: then MemTotal.
if [[ $memory_from == MemTotal ]]; then
  assert_eq "$total" "$memory" "memory from MemTotal"
else
  assert_match "$memory_from" '^cgroup /' "where the memory figure comes from"
  ((memory < total)) || fail "a cgroup's memory.max ($memory) was taken though not below MemTotal"
fi
assert_eq $((memory / 2 / 65536)) "$(field max_sessions "$line")" "max_sessions from memory"
assert_eq "$((memory / 2 / 65536)) memory" \
  "$(tctl status --json | jq -r '"\(.session_limit) \(.session_limit_from)"')" \
  "status --json session_limit from memory"
start_client a2 alice 'alice pw'
wait_tunnel a2
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
stop_client a2 INT
stop_tandemd
