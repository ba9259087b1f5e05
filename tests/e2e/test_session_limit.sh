#!/usr/bin/env bash
# [limits] max_sessions (docs/limits.md, "Sessions"): the most sessions a node takes.
#  1. max_sessions = 1 and alice holds the one session: bob's login is refused (no tunnel; the
#     client is shown why; tandemd logs login_refused naming the limit), alice keeps pinging,
#     and her forced reconnect (a resume, not a login) is taken.
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
