#!/usr/bin/env bash
# S3/S10/S11/S13: the client stops answering (openconnect frozen with SIGSTOP). With a 2 s DPD
# interval the headend must tear the tunnels down within 2 x dpd (+ sweep slack) and keep the
# session waiting to resume with its address; never end it. After SIGCONT the client finds its
# TLS connection dead, reconnects with its token and gets the same session back: same index,
# same address, traffic flowing within 1 s of the wake-up (issue 11 item 1), no second login.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dpd_s=2
# The last thing heard from the client is at most one DPD exchange (dpd) before the freeze;
# the tunnel is dead 2 x dpd after it, seen by a sweep every 250 ms.
max_detect_ms=$((2 * dpd_s * 1000 + 1000))

connects() { count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200'; }
reconnected() { (($(connects) > 1)); }

setup_topology
add_user alice 'correct horse'
write_config "
[policy.default]
dpd_interval = \"${dpd_s}s\"
"
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=alice( |$)')
index=$(field index "$line")
assert_contains "$(client_log c1)" "CSTP connected\. DPD $dpd_s," "client's CSTP DPD interval"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
# Several DPD intervals of a quiet but answering client: DPD must not fire on it.
sleep $((2 * dpd_s + 1))
assert_eq 0 "$(log_count tunnel_down)" "tunnels down while the client answered DPD"

step "SIGSTOP openconnect (pid $(client_pid c1)): it stops answering DPD"
t_stop=$(td_now_ms)
kill -STOP "$(client_pid c1)"
line=$(wait_log $((4 * dpd_s + 4)) tunnel_down "index=$index .*kind=ssl")
t_down=$(log_ms "$line")
assert_eq dpd "$(field reason "$line")" "reason the SSL tunnel went down"
detect_ms=$((t_down - t_stop))
step "SSL tunnel down by DPD $detect_ms ms after SIGSTOP: $line"
((detect_ms >= dpd_s * 1000 - 500)) || fail "dead after only $detect_ms ms (< dpd: the client was fine)"
((detect_ms <= max_detect_ms)) || fail "dead only after $detect_ms ms (bound $max_detect_ms)"
line=$(wait_log 2 session_waiting "index=$index( |$)")
assert_eq dpd "$(field reason "$line")" "session_waiting reason"
assert_eq "$ip" "$(field ip "$line")" "session_waiting keeps the address"
if grep -q 'Established DTLS connection' "$(client_log c1)"; then
  line=$(wait_log 2 tunnel_down "index=$index .*kind=dtls")
  step "DTLS tunnel down with it: reason=$(field reason "$line")"
fi
# The session outlives its tunnels: still there a while later.
sleep "$dpd_s"
assert_eq 0 "$(log_count session_end)" "sessions ended by DPD"

# Issue 11 item 1: once woken, traffic flows again within 1 s. A ping stream runs across the
# wake-up; the first reply after SIGCONT is the figure.
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
step "SIGCONT openconnect"
t_cont=$(td_now_ms)
kill -CONT "$(client_pid c1)"
line=$(wait_log 30 session_resumed "index=$index( |$)")
t_res=$(log_ms "$line")
step "session_resumed $((t_res - t_cont)) ms after SIGCONT: $line"
assert_eq "$ip" "$(field ip "$line")" "session_resumed ip"
assert_eq alice "$(field user "$line")" "session_resumed user"
wait_for 15 "openconnect's CONNECT answered again" reconnected
td_alive "$(client_pid c1)" || fail "openconnect exited instead of resuming"
assert_not_contains "$(client_log c1)" 'Reconnect gave different' "client address after resume"
assert_eq "$ip" "$(client_ip c1)" "client tun address after the resume"
wait_for 10 "ping through the resumed tunnel" ping_inside "$TD_NS_CLIENT" 2
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
first_after_cont() { ping_replies p | awk -v t="$t_cont" '$2 > t {print $2; exit}'; }
replied_after_cont() { [[ -n $(first_after_cont) ]]; }
wait_for 10 "a streamed ping answered after SIGCONT" replied_after_cont
first_ms=$(($(first_after_cont) - t_cont))
stop_ping_stream p
step "first ping reply $first_ms ms after SIGCONT"
((first_ms <= 1000)) || fail "traffic flowed again only $first_ms ms after the client woke (bound 1000)"
step "client side: $(grep -Eo 'Dead Peer Detection detected dead peer|Read error on SSL session[^.]*|Server closed connection|SSL session[^.]*closed' \
  "$(client_log c1)" | sort | uniq -c | xargs || true)"

assert_eq 1 "$(log_count login_ok)" "logins (the resume must not log in again)"
assert_eq 0 "$(log_count session_end)" "sessions ended"
assert_eq 2 "$(log_count tunnel_up "index=$index .*kind=ssl")" "SSL tunnels for the session"
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
line=$(wait_log 5 session_end "index=$index( |$)")
assert_eq logout "$(field reason "$line")" "session_end reason"
stop_tandemd
