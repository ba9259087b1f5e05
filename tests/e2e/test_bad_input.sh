#!/usr/bin/env bash
# Scenario 8: hostile input on the TLS port while a real client keeps pinging through the
# tunnel. Each probe must be refused and logged (input_refused, or connect_refused/tunnel_down
# with a reason); the pinging client may lose at most a couple of echoes, and tandemd's memory
# must stay bounded.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

max_rss_kb=65536
max_lost=2
peak_rss=0

refusals() {
  echo $(($(log_count input_refused) + $(log_count connect_refused) +
    $(log_count tunnel_down 'reason=')))
}
refusals_above() { (($(refusals) > $1)); }

# probe NAME FUNCTION [EXPECTED_REFUSALS]: run one attack, then wait for its log lines.
probe() {
  local name=$1 fn=$2 want=${3:-1} before rss line
  before=$(refusals)
  step "probe: $name"
  "$fn"
  wait_for 15 "tandemd to log the refusal of: $name" refusals_above $((before + want - 1))
  while IFS= read -r line; do
    printf '    %s\n' "$line"
    assert_match "$(field reason "$line" || true)" '.' "reason in the refusal of $name"
    if [[ $line != *' tunnel_down '* ]]; then
      assert_match "$(field public "$line" || true)" "$TD_CLIENT_PUBLIC_RE" \
        "public address in the refusal of $name"
    fi
  done < <(grep -E '^[^ ]+ [a-z]+ (input_refused|connect_refused|tunnel_down) ' "$TD_TANDEMD_LOG" |
    tail -n "$(($(refusals) - before))")
  td_alive "$TD_TANDEMD_PID" || fail "tandemd died after: $name"
  td_alive "$(client_pid c1)" || fail "the pinging client died after: $name"
  rss=$(tandemd_rss_kb)
  ((rss > peak_rss)) && peak_rss=$rss
  ((rss < max_rss_kb)) || fail "tandemd RSS ${rss} kB after $name (limit $max_rss_kb kB)"
}

in_client() { ip netns exec "$TD_NS_CLIENT" "$@"; }

tls_probe() { # FILE SECONDS: send FILE over TLS; the server must close within SECONDS
  local rc=0
  timeout "$2" ip netns exec "$TD_NS_CLIENT" openssl s_client -quiet \
    -connect "$TD_SERVER_IP:$TD_PORT" <"$1" >"$1.out" 2>&1 || rc=$?
  ((rc != 124)) || fail "server kept the connection open for ${2}s after $(basename "$1")"
}

garbage() {
  # Starts with bytes no TLS record can start with, then noise.
  { printf '\x00\xff\x13\x37 not TLS at all\r\n\r\n'; head -c 4096 /dev/urandom; } \
    >"$TD_DIR/garbage"
  timeout 10 ip netns exec "$TD_NS_CLIENT" socat -u "OPEN:$TD_DIR/garbage" \
    "TCP:$TD_SERVER_IP:$TD_PORT" 2>/dev/null || true
}

plain_http() {
  printf 'GET / HTTP/1.1\r\nHost: %s\r\n\r\n' "$TD_SERVER_IP" >"$TD_DIR/plain"
  timeout 10 ip netns exec "$TD_NS_CLIENT" socat -u "OPEN:$TD_DIR/plain" \
    "TCP:$TD_SERVER_IP:$TD_PORT" 2>/dev/null || true
}

huge_headers() {
  local i
  {
    printf 'POST / HTTP/1.1\r\nHost: %s\r\n' "$TD_SERVER_IP"
    for ((i = 0; i < 2000; i++)); do printf 'X-Padding-%04d: %044d\r\n' "$i" 0; done
    printf 'Content-Length: 0\r\n\r\n'
  } >"$TD_DIR/headers"
  (($(stat -c %s "$TD_DIR/headers") > 100000)) || fail "header probe is not over 100 KB"
  tls_probe "$TD_DIR/headers" 15
}

xml_bomb() {
  local body
  body='<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<config-auth client="vpn" type="auth-reply" aggregate-auth-version="2">
<version who="vpn">v9.01</version>
<auth><username>&lol9;</username><password>&lol9;</password></auth>
</config-auth>'
  {
    printf 'POST / HTTP/1.1\r\nHost: %s\r\n' "$TD_SERVER_IP"
    printf 'User-Agent: Open AnyConnect VPN Agent v9.01\r\n'
    printf 'X-Transcend-Version: 1\r\nX-Aggregate-Auth: 1\r\nX-Support-HTTP-Auth: true\r\n'
    printf 'Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s' \
      "${#body}" "$body"
  } >"$TD_DIR/bomb"
  # The server may answer and keep the connection alive; the log line is what counts here.
  timeout 5 ip netns exec "$TD_NS_CLIENT" openssl s_client -quiet \
    -connect "$TD_SERVER_IP:$TD_PORT" <"$TD_DIR/bomb" >"$TD_DIR/bomb.out" 2>&1 || true
}

# Two slow requests at once over TLS: one stalls after part of its head, one trickles a header
# line per second. The request timeout (10 s) must close both, within 15 s.
slowloris() {
  local fifo_s=$TD_DIR/stall.fifo fifo_t=$TD_DIR/trickle.fifo fd_s fd_t pid_s pid_t t0 now
  local closed_s=0 closed_t=0 i
  mkfifo "$fifo_s" "$fifo_t"
  in_client openssl s_client -quiet -connect "$TD_SERVER_IP:$TD_PORT" <"$fifo_s" \
    >"$TD_DIR/stall.out" 2>&1 &
  pid_s=$!
  td_track "$pid_s"
  in_client openssl s_client -quiet -connect "$TD_SERVER_IP:$TD_PORT" <"$fifo_t" \
    >"$TD_DIR/trickle.out" 2>&1 &
  pid_t=$!
  td_track "$pid_t"
  # Read-write opens never block, and a write after the server closed cannot raise SIGPIPE.
  exec {fd_s}<>"$fifo_s" {fd_t}<>"$fifo_t"
  t0=$(td_now_ms)
  printf 'POST / HTTP/1.1\r\nHost: %s\r\nX-Stall: ' "$TD_SERVER_IP" >&"$fd_s"
  printf 'POST / HTTP/1.1\r\nHost: %s\r\n' "$TD_SERVER_IP" >&"$fd_t"
  for ((i = 1; i <= 200; i++)); do # 20 s at most
    sleep 0.1
    now=$(($(td_now_ms) - t0))
    if ((closed_s == 0)) && ! td_alive "$pid_s"; then closed_s=$now; fi
    if ((closed_t == 0)) && ! td_alive "$pid_t"; then closed_t=$now; fi
    ((closed_s == 0 || closed_t == 0)) || break
    if ((closed_t == 0 && i % 10 == 0)); then printf 'X-Trickle-%d: x\r\n' "$i" >&"$fd_t"; fi
  done
  exec {fd_s}>&- {fd_t}>&-
  step "stalled request closed after ${closed_s} ms, trickling one after ${closed_t} ms"
  ((closed_s > 0 && closed_s <= 15000)) || fail "stalled request not closed within 15 s"
  ((closed_t > 0 && closed_t <= 15000)) || fail "trickling request not closed within 15 s"
}

# A valid CONNECT with bob's token, then a CSTP data frame whose length field (0xffff) is far
# larger than what follows and than any legal frame.
lying_cstp() {
  local fifo=$TD_DIR/cstp.fifo fd pid
  mkfifo "$fifo"
  in_client openssl s_client -quiet -connect "$TD_SERVER_IP:$TD_PORT" <"$fifo" \
    >"$TD_DIR/cstp.out" 2>&1 &
  pid=$!
  td_track "$pid"
  exec {fd}<>"$fifo"
  printf 'CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\nHost: %s\r\n' "$TD_SERVER_IP" >&"$fd"
  printf 'User-Agent: Open AnyConnect VPN Agent v9.01\r\nCookie: webvpn=%s\r\n' "$bob_token" >&"$fd"
  printf 'X-CSTP-Version: 1\r\nX-CSTP-Hostname: probe\r\nX-CSTP-MTU: 1400\r\n' >&"$fd"
  printf 'X-CSTP-Base-MTU: 1400\r\nX-CSTP-Address-Type: IPv4\r\n\r\n' >&"$fd"
  wait_for 10 "200 CONNECTED for the probe's CONNECT" grep -qs '^HTTP/1.1 200' "$TD_DIR/cstp.out"
  wait_log 5 tunnel_up "index=$bob_index( |$)" >/dev/null
  { printf 'STF\x01\xff\xff\x00\x00'; head -c 64 /dev/urandom; } >&"$fd"
  poll_until 10 td_not_alive "$pid" || fail "server kept the tunnel open after a lying CSTP length"
  exec {fd}>&-
}

setup_topology
add_user alice 'alice pw'
add_user bob 'bob pw'
write_config
start_tandemd

start_client c1 alice 'alice pw'
wait_tunnel c1
ip=$(client_ip c1)
authenticate tok bob 'bob pw'
bob_token=$TD_TOKEN
bob_index=${TD_TOKEN%%-*}
peak_rss=$(tandemd_rss_kb)
step "tandemd RSS at start: $peak_rss kB"

# Bounded by count and deadline; SIGINT at the end makes it print its summary.
ip netns exec "$TD_NS_CLIENT" ping -n -i 0.2 -W 1 -c 1000 -w 200 "$TD_INSIDE_IP" \
  >"$TD_DIR/ping.log" 2>&1 &
pinger=$!
td_track "$pinger"
wait_for 5 "first echo reply" grep -q 'bytes from' "$TD_DIR/ping.log"

probe "garbage bytes on the TLS port" garbage
probe "plain HTTP on the TLS port" plain_http
probe "100 KB of headers over TLS" huge_headers
probe "slowloris (stalled and trickling requests)" slowloris 2
probe "CSTP frame with a lying length" lying_cstp
probe "XML bomb as the auth body" xml_bomb

kill -INT "$pinger"
wait_for 5 "pinger summary" td_not_alive "$pinger"
summary=$(grep -E 'packets transmitted' "$TD_DIR/ping.log" || true)
[[ $summary =~ ([0-9]+)\ packets\ transmitted,\ ([0-9]+)\ received ]] ||
  fail "no ping summary in $TD_DIR/ping.log"
sent=${BASH_REMATCH[1]}
lost=$((sent - BASH_REMATCH[2]))
step "pings during the probes: $summary"
((sent >= 25)) || fail "only $sent pings were sent during the probes"
((lost <= max_lost)) || fail "the tunnel lost $lost of $sent pings during the probes"

assert_eq "$ip" "$(client_ip c1)" "pinging client's address"
assert_eq 0 "$(log_count session_end "user=alice( |$)")" "alice's session ended"
step "tandemd peak RSS during the probes: $peak_rss kB (limit $max_rss_kb kB)"
stop_client c1 INT
stop_tandemd
