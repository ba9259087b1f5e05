#!/usr/bin/env bash
# tandem-director against a real etcd: member records written with etcdctl under leases, two
# directors side by side, curl for each kind of answer, and the real openconnect following the
# redirect to a real tandemd member and bringing a tunnel up. Everything runs in the test's
# namespaces (etcd on the headend namespace's loopback).
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TD_DIRECTOR=$TANDEM_BUILD_DIR/director/tandem-director
[[ -x $TD_DIRECTOR ]] || fail "tandem-director not built: $TD_DIRECTOR"
command -v etcd >/dev/null || fail "etcd not installed (etcd-server)"
command -v curl >/dev/null || fail "curl not installed"

ETCD_PORT=23790
ETCD_URL=http://127.0.0.1:$ETCD_PORT
DIR1_PORT=5443
DIR2_PORT=5444
MEMBER_URL=https://$TD_SERVER_IP:$TD_PORT/  # the real tandemd: member m1
OTHER_URL=https://10.200.0.99:4443/         # m2, never connected to: only its Location is read

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd  # the member m1; its self-signed certificate is the directors' too (same pin)

hub() { ip netns exec "$TD_NS_HEADEND" "$@"; }
ectl() { hub env ETCDCTL_API=3 etcdctl --endpoints="$ETCD_URL" --command-timeout=3s "$@"; }

step "start etcd on 127.0.0.1:$ETCD_PORT in $TD_NS_HEADEND"
# Started with `ip netns exec` itself (not through a shell function), so that $! is etcd's PID.
ip netns exec "$TD_NS_HEADEND" etcd --name td --data-dir "$TD_DIR/etcd" \
  --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
  --listen-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
  --initial-advertise-peer-urls http://127.0.0.1:$((ETCD_PORT + 1)) \
  --initial-cluster td=http://127.0.0.1:$((ETCD_PORT + 1)) >"$TD_DIR/etcd.log" 2>&1 &
ETCD_PID=$!
td_track "$ETCD_PID"
wait_for 20 "etcd answers" ectl endpoint health

grant() { ectl lease grant "$1" | awk '/granted/ {print $2}'; }
record() { # ID URL SESSIONS CAPACITY DRAINING
  printf '{"id":"%s","url":"%s","sessions":"%s","capacity":"%s","draining":%s}' "$@"
}
LEASE1=$(grant 60)
LEASE2=$(grant 60)
assert_match "$LEASE1" '^[0-9a-f]+$' "lease for m1"
ectl put --lease="$LEASE1" /tandem/member/m1/record "$(record m1 "$MEMBER_URL" 0 100 false)" >/dev/null
ectl put --lease="$LEASE2" /tandem/member/m2/record "$(record m2 "$OTHER_URL" 0 100 true)" >/dev/null

start_director() { # N PORT
  local config=$TD_DIR/director$1.toml
  cat >"$config" <<EOF
[director]
listen = "$TD_SERVER_IP:$2"
metrics_listen = "127.0.0.1:$((9100 + $1))"
silent_after = "6s"

[tls]
certificate = "$TD_DIR/state/self-signed-cert.pem"
private_key = "$TD_DIR/state/self-signed-key.pem"

[arbiter]
endpoints = ["$ETCD_URL"]
EOF
  ip netns exec "$TD_NS_HEADEND" "$TD_DIRECTOR" --config "$config" >"$TD_DIR/director$1.log" 2>&1 &
  td_track $!
  eval "DIRECTOR$1_PID=$!"
  wait_for 20 "director $1 listening" grep -q ' listening ' "$TD_DIR/director$1.log"
  wait_for 20 "director $1 read the members" grep -q ' etcd_synced ' "$TD_DIR/director$1.log"
}
step "start two directors on :$DIR1_PORT and :$DIR2_PORT"
start_director 1 $DIR1_PORT
start_director 2 $DIR2_PORT

# ask PORT CURL_ARGS...: status and headers of one request from the client namespace.
ask() {
  local port=$1
  shift
  ip netns exec "$TD_NS_CLIENT" curl -sk --max-time 5 -o /dev/null -D - "$@" \
    "https://$TD_SERVER_IP:$port${PATH_QUERY:-/}" | tr -d '\r'
}
status_of() { awk 'NR == 1 {print $2}' <<<"$1"; }
header_of() { awk -v h="$2:" 'tolower($1) == tolower(h) {sub(/^[^:]*: */, ""); print; exit}' <<<"$1"; }

step "GET / and GET /profile?x=1: 302 to m1 (m2 is draining), path and query kept"
for port in $DIR1_PORT $DIR2_PORT; do
  r=$(ask $port)
  assert_eq 302 "$(status_of "$r")" "GET / on director :$port"
  assert_eq "$MEMBER_URL" "$(header_of "$r" Location)" "Location for GET / on :$port"
  r=$(PATH_QUERY='/profile?x=1' ask $port)
  assert_eq 302 "$(status_of "$r")" "GET /profile?x=1 on :$port"
  assert_eq "${MEMBER_URL%/}/profile?x=1" "$(header_of "$r" Location)" "Location keeps path+query"
done
for _ in 1 2 3 4 5 6 7 8 9 10; do
  assert_eq "$MEMBER_URL" "$(header_of "$(ask $DIR1_PORT)" Location)" "draining m2 never chosen"
done

step "CONNECT and a webvpn cookie: 503 with X-Reason, never 401"
r=$(ask $DIR1_PORT -X CONNECT --request-target /CSCOSSLC/tunnel -H 'Cookie: webvpn=abc')
assert_eq 503 "$(status_of "$r")" "CONNECT status"
assert_match "$(header_of "$r" X-Reason)" 'tunnels are served by members' "CONNECT X-Reason"
r=$(ask $DIR1_PORT -X POST -d '<x/>' -H 'Cookie: webvpn=AAAA==')
assert_eq 503 "$(status_of "$r")" "POST with a webvpn cookie"
assert_match "$(header_of "$r" X-Reason)" 'session token' "token X-Reason"

step "m2 undrains: both members are chosen"
ectl put --lease="$LEASE2" /tandem/member/m2/record "$(record m2 "$OTHER_URL" 0 100 false)" >/dev/null
both() {
  local seen=" " i
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16; do seen+="$(header_of "$(ask $DIR2_PORT)" Location) "; done
  [[ $seen == *" $MEMBER_URL "* && $seen == *" $OTHER_URL "* ]]
}
wait_for 10 "director 2 sends clients to both m1 and m2" both

step "a record whose id differs from its key is refused"
ectl put /tandem/member/m3/record "$(record m9 https://10.200.0.98/ 0 100 false)" >/dev/null
wait_for 10 "record_refused for m3" grep -q 'record_refused key=/tandem/member/m3/record' \
  "$TD_DIR/director1.log"
ectl del /tandem/member/m3/record >/dev/null

step "m2's lease revoked: m2 is no longer chosen"
ectl lease revoke "$LEASE2" >/dev/null
wait_for 10 "director 1 logs member_removed m2" grep -q 'member_removed member=m2' \
  "$TD_DIR/director1.log"
for _ in 1 2 3 4 5 6 7 8 9 10; do
  assert_eq "$MEMBER_URL" "$(header_of "$(ask $DIR1_PORT)" Location)" "only m1 after m2's lease"
done

step "the real openconnect, pointed at director 2, follows the redirect to m1 and tunnels"
TD_URL=https://$TD_SERVER_IP:$DIR2_PORT/
start_client c1 alice 'correct horse'
wait_tunnel c1
assert_contains "$(client_log c1)" "302" "openconnect saw the director's 302"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
line=$(wait_log 5 login_ok 'user=alice( |$)')
assert_match "$(field public "$line")" "$TD_CLIENT_PUBLIC_RE" "the member saw the login"
assert_contains "$TD_DIR/director2.log" ' redirect .*location=https://10\.200\.0\.1:4443/' \
  "director 2 logged the redirect"
stop_client c1 INT
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"

step "metrics count redirects and refusals"
m=$(hub curl -s --max-time 5 http://127.0.0.1:9101/metrics)
assert_match "$(grep '^tandem_director_answers_total{outcome="connect"}' <<<"$m")" ' 1$' "connect count"
assert_match "$(grep '^tandem_director_answers_total{outcome="token"}' <<<"$m")" ' 1$' "token count"
assert_match "$(grep '^tandem_director_members ' <<<"$m")" ' 1$' "members gauge"

step "no members: 503 with the reason"
ectl lease revoke "$LEASE1" >/dev/null
wait_for 10 "director 1 logs member_removed m1" grep -q 'member_removed member=m1' \
  "$TD_DIR/director1.log"
r=$(ask $DIR1_PORT)
assert_eq 503 "$(status_of "$r")" "status with no member"
assert_eq "no member is registered" "$(header_of "$r" X-Reason)" "X-Reason with no member"

step "etcd stops: the last view is kept, then after silent_after the directors refuse"
LEASE1=$(grant 60)
ectl put --lease="$LEASE1" /tandem/member/m1/record "$(record m1 "$MEMBER_URL" 0 100 false)" >/dev/null
wait_for 10 "director 1 sends to m1 again" \
  bash -c "[[ \$(ip netns exec $TD_NS_CLIENT curl -sk --max-time 5 -o /dev/null -w '%{redirect_url}' https://$TD_SERVER_IP:$DIR1_PORT/) == $MEMBER_URL ]]"
kill -STOP "$ETCD_PID"
t0=$(td_now_ms)
assert_eq 302 "$(status_of "$(ask $DIR1_PORT)")" "right after etcd stopped: still redirected"
wait_for 20 "director 1 refuses once silent" \
  bash -c "[[ \$(ip netns exec $TD_NS_CLIENT curl -sk --max-time 5 -o /dev/null -w '%{http_code}' https://$TD_SERVER_IP:$DIR1_PORT/) == 503 ]]"
waited=$(($(td_now_ms) - t0))
step "silent after ${waited} ms (silent_after 6 s, counted from the last answer: a probe every 3 s)"
((waited >= 2500)) || fail "director turned silent ${waited} ms after etcd stopped: before silent_after"
r=$(ask $DIR1_PORT)
assert_match "$(header_of "$r" X-Reason)" 'lost contact with etcd' "X-Reason while silent"
kill -CONT "$ETCD_PID"
wait_for 20 "director 1 redirects again once etcd answers" \
  bash -c "[[ \$(ip netns exec $TD_NS_CLIENT curl -sk --max-time 5 -o /dev/null -w '%{http_code}' https://$TD_SERVER_IP:$DIR1_PORT/) == 302 ]]"

step "directors stop on SIGTERM"
for pid in "$DIRECTOR1_PID" "$DIRECTOR2_PID"; do
  kill -TERM "$pid"
  wait_for 5 "director $pid exits" td_not_alive "$pid"
done
stop_tandemd
