#!/usr/bin/env bash
# Login throttling (docs/limits.md), default [limits]: a guesser trying wrong passwords for a
# real user from one address, as fast as openconnect goes, gets only a handful of password
# checks; the rest are refused unhashed (login_throttled in the log, the metric, "try again
# later" for the client), the right password from that address is refused too while the
# back-off runs, and the real user logs in at once from a second address.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GUESS_SECONDS=40
MAX_GUESSES=1000         # bounds the loop whatever the timing
MAX_CHECKED=12           # defaults: 5 free, then +2 s, +6 s, +14 s, +30 s: 9 in 40 s
MAX_LOGIN_MS=15000       # the real user, from the second address, with openconnect
METRICS=$TD_SERVER_IP:9300


# One openconnect login attempt as alice from the first client address; its output is appended
# to $TD_DIR/guesser.log. Foreground and bounded by timeout; the rc is the result.
guess() {
  printf '=== attempt %s\n' "$2" >>"$TD_DIR/guesser.log"
  timeout 30 ip netns exec "$TD_NS_CLIENT" openconnect --protocol=anyconnect --non-inter \
    --authenticate --servercert "$TD_PIN" --user=alice --passwd-on-stdin "$TD_URL" \
    <<<"$1" >>"$TD_DIR/guesser.log" 2>&1
}

setup_topology
add_client2_ns
add_user alice 'alice pw'
write_config
set_metrics_listen "$METRICS"
start_tandemd

step "guesser: wrong passwords for alice from $TD_CLIENT_ADDR for ${GUESS_SECONDS}s"
t0=$(td_now_ms)
attempts=0
for ((i = 1; i <= MAX_GUESSES; i++)); do
  (($(td_now_ms) - t0 < GUESS_SECONDS * 1000)) || break
  rc=0
  guess "wrong password $i" "$i" || rc=$?
  assert_eq 1 "$rc" "openconnect exit code for wrong password $i"
  attempts=$i
done
elapsed_ms=$(($(td_now_ms) - t0))
checked=$(log_count login_failed 'user=alice( |$)')
throttled=$(metric 'tandem_logins_throttled_total{scope="user_address"}')
per_min_tried=$((attempts * 60000 / elapsed_ms))
per_min_checked=$((checked * 60000 / elapsed_ms))
step "guesser: $attempts attempts in $elapsed_ms ms ($per_min_tried/min), $checked password checks" \
  "($per_min_checked/min), $throttled refused unhashed"

assert_eq "$attempts" "$((checked + throttled))" "attempts = password checks + throttled"
((checked >= 5)) || fail "only $checked password checks: the first 5 failures are free"
((checked <= MAX_CHECKED)) ||
  fail "$checked password checks in $elapsed_ms ms: the back-off did not slow the guesser"
((throttled >= 5)) || fail "only $throttled attempts throttled: the guesser was not fast enough"
assert_eq "$throttled" "$(metric 'tandem_logins_total{result="throttled"}')" "throttled logins"
assert_eq "$checked" "$(metric 'tandem_logins_total{result="failed"}')" "failed logins"

line=$(log_events login_throttled 'user=alice( |$)' | head -n1)
[[ -n $line ]] || fail "no login_throttled line for alice"
printf '    %s\n' "$line"
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "login_throttled public"
assert_eq user_address "$(field scope "$line")" "login_throttled scope"
assert_eq 5 "$(field failures "$line")" "login_throttled failures (the first refusal)"
assert_match "$(field retry_after "$line")" '^[0-9]+s$' "login_throttled retry_after"
assert_match "$(field reason "$line")" 'failed logins for this user from this address' \
  "login_throttled reason"
assert_contains "$TD_DIR/guesser.log" 'Too many failed logins\. Please try again later\.' \
  "the client's view of a throttled login"
# The log is rate-limited (a burst of 20, then one line a second), and says what it skipped.
lines=$(log_count login_throttled)
skipped=$(log_events login_throttled | sed -n 's/.* suppressed=\([0-9]*\).*/\1/p' |
  awk '{s += $1} END {print s + 0}')
step "login_throttled: $lines log lines for $throttled refusals ($skipped reported as skipped)"
((lines <= 20 + elapsed_ms / 1000 + 2)) || fail "$lines login_throttled lines in $elapsed_ms ms"
((lines + skipped <= throttled)) || fail "lines + skipped ($lines + $skipped) > $throttled"

# The right password from the guesser's address is refused unhashed while the back-off runs
# (the back-off began at the last failure and lasts 2 s * 2^(failures - 5)).
last_ms=$(log_ms "$(log_events login_failed 'user=alice( |$)' | tail -n1)")
backoff_ms=$((2000 << (checked - 5)))
((backoff_ms <= 300000)) || backoff_ms=300000
if (($(td_now_ms) + 5000 < last_ms + backoff_ms)); then
  rc=0
  guess 'alice pw' right || rc=$?
  assert_eq 1 "$rc" "openconnect exit code, right password from the throttled address"
  assert_eq "$((throttled + 1))" "$(metric 'tandem_logins_throttled_total{scope="user_address"}')" \
    "the right password from the throttled address was refused unhashed"
  assert_eq "$checked" "$(log_count login_failed)" "password checks after the right password"
  assert_eq 0 "$(log_count login_ok)" "logins from the throttled address"
  step "right password from $TD_CLIENT_ADDR during the back-off: refused unhashed"
else
  step "back-off ends within 5 s: skipping the right-password check from $TD_CLIENT_ADDR"
fi

step "the real alice from $TD_CLIENT2_ADDR"
t1=$(td_now_ms)
start_client --ns "$TD_NS_CLIENT2" real alice 'alice pw'
wait_tunnel real 30
login_ms=$(($(td_now_ms) - t1))
line=$(wait_log 5 login_ok 'user=alice( |$)')
assert_match "$(field public "$line")" '^10\.202\.0\.2:[0-9]+$' "login_ok public"
assert_eq 0 "$(log_count login_throttled 'public=10\.202\.')" "throttled lines for the second address"
((login_ms <= MAX_LOGIN_MS)) || fail "the real user took $login_ms ms to log in"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
assert_eq 1 "$(metric 'tandem_login_throttle_entries{table="trusted"}')" "trusted (user, address)"
step "RESULT: guesser $checked password checks in $((elapsed_ms / 1000)) s" \
  "($per_min_checked/min) of $attempts attempts ($per_min_tried/min); real user logged in" \
  "from the second address in $login_ms ms"
stop_client real INT
stop_tandemd
