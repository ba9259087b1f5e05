#!/usr/bin/env bash
# The TLS a client (or an auditor's scanner) meets, with `openssl s_client` from the client
# namespace against tandemd serving an RSA certificate (so that static-RSA key exchange could
# be chosen at all) that expires in 10 days:
#  1. Every TLS 1.2 suite OpenSSL knows is tried alone: only ECDHE with AEAD is accepted (CBC,
#     SHA-1 MACs, static RSA, DHE, PSK, anonymous and NULL suites are refused); the accepted
#     suites and the TLS 1.3 ones (GCM and ChaCha20, no CCM) are printed. The server's order
#     wins. TLS 1.1 (and 1.0) are refused with a protocol_version alert.
#  2. No resumption (S10): no session ticket is issued under 1.2 or 1.3, and a reconnect with
#     the saved session is a new session each time (-sess_in and -reconnect). The same probes
#     against a stock `openssl s_server` do see tickets and reuse, so they can tell.
#  3. A client-initiated renegotiation is refused.
#  4. openconnect still connects with that certificate, DTLS comes up (PSK-NEGOTIATE, an AEAD
#     suite) and pings go through.
#  5. Certificate expiry: the `certificate_expiring` warning at start (10 days left, under the
#     30-day default), tandem_certificate_expiry_seconds{certificate="tls"} about 10 days; after
#     the file is replaced by a later certificate, a reload logs `certificate_changed` and the
#     gauge still shows the certificate in use.
#  6. With the self-signed ECDSA certificate: the ECDSA AEAD suites only, and no warning.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

METRICS=$TD_SERVER_IP:9300
CERT=$TD_DIR/vpn-rsa.pem
KEY=$TD_DIR/vpn-rsa.key
REF_PORT=4444 # the reference openssl s_server, in the headend namespace
DAY=86400



# Source ports. tandemd closes first when it refuses a handshake, so the server keeps those
# connections in TIME_WAIT for a minute, and the node's SYN guard (nftables, `socket wildcard`,
# which does not match time-wait sockets) drops a new SYN that reuses such a 4-tuple: the probe
# would hang until its timeout. So each probe binds a source port of its own (from 20000 up,
# never reused within the test), and the client namespace's ephemeral ports (openconnect,
# `-reconnect`) are moved to 40000-60999, away from them.
echo 21000 >"$TD_DIR/next-port"
next_port() { # the next unused source port (the counter is a file: probes run in subshells)
  local p
  p=$(<"$TD_DIR/next-port")
  echo $((p + 1)) >"$TD_DIR/next-port"
  echo "$p"
}

# probe [PORT] S_CLIENT_ARGS...: one s_client run from the client namespace, output on stdout,
# from source port TD_BIND_PORT (default: next_port; "none": an ephemeral one). stdin stays
# open for TD_PROBE_WAIT seconds, so post-handshake messages (TLS 1.3 tickets) are read.
probe() {
  local port=$TD_PORT rc=0 out bind=${TD_BIND_PORT:-} from=()
  if [[ ${1:-} =~ ^[0-9]+$ ]]; then port=$1; shift; fi
  [[ -n $bind ]] || bind=$(next_port)
  [[ $bind == none ]] || from=(-bind "$TD_CLIENT_ADDR:$bind")
  out=$({ sleep "${TD_PROBE_WAIT:-0}"; } | timeout 10 ip netns exec "$TD_NS_CLIENT" \
    openssl s_client -connect "$TD_SERVER_IP:$port" "${from[@]}" -servername vpn.test "$@" \
    2>&1) || rc=$?
  if ((rc == 124)); then
    # A probe that hangs: keep what the sockets looked like, for the logs.
    {
      echo "=== s_client $* (port $port) timed out at $(date +%T.%N)"
      printf '%s\n' "$out"
      echo "--- client sockets"
      ip netns exec "$TD_NS_CLIENT" ss -tanoi
      echo "--- headend sockets"
      ip netns exec "$TD_NS_HEADEND" ss -tanoi
      echo "--- headend counters"
      ip netns exec "$TD_NS_HEADEND" nstat -az 2>/dev/null | grep -Ei 'listen|drop|syn|timewait|TW' || true
      echo "--- nft"
      ip netns exec "$TD_NS_HEADEND" nft list ruleset
    } >>"$TD_DIR/hung-probes.log" 2>&1
  fi
  printf '%s\n' "$out"
}

# The cipher a probe negotiated ("" when the handshake failed).
negotiated() {
  sed -n 's/^New, [^,]*, Cipher is \(.*\)$/\1/p' <<<"$1" | grep -v '^(NONE)$' | head -n1 || true
}

setup_topology
ip netns exec "$TD_NS_CLIENT" sysctl -qw net.ipv4.ip_local_port_range="40000 60999"
add_user alice 'alice pw'
step "an RSA-2048 certificate valid for 10 days"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$KEY" -out "$CERT" -days 10 \
  -subj "/CN=$TD_SERVER_IP" -addext "subjectAltName=IP:$TD_SERVER_IP" 2>"$TD_DIR/openssl.log" ||
  fail "openssl req failed (see openssl.log)"
not_after=$(date -d "$(openssl x509 -in "$CERT" -noout -enddate | cut -d= -f2)" +%s)
write_config "
[tls]
certificate = \"$CERT\"
private_key = \"$KEY\"
"
set_metrics_listen "$METRICS"
start_tandemd

# --- 5a. expiry at start ------------------------------------------------------------------------
line=$(wait_log 5 certificate_expiring 'certificate=tls( |$)')
step "log: $line"
assert_eq "$CERT" "$(field path "$line")" "certificate_expiring path"
assert_match "$(field days_left "$line")" '^(9|10)$' "days_left of a 10-day certificate"
assert_eq 30 "$(field warn_days "$line")" "warn_days (the default)"
assert_match "$line" '^[^ ]+ warn ' "certificate_expiring is a warning"
left=$(metric 'tandem_certificate_expiry_seconds{certificate="tls"}')
now=$(date +%s)
step "tandem_certificate_expiry_seconds{certificate=\"tls\"} = $left (notAfter - now = $((not_after - now)))"
((left <= not_after - now + 5 && left >= not_after - now - 5)) ||
  fail "expiry gauge $left is not notAfter - now ($((not_after - now)))"
((left > 10 * DAY - 600 && left <= 10 * DAY)) || fail "expiry gauge $left is not about 10 days"
body=$(ip netns exec "$TD_NS_HEADEND" curl -sS --max-time 5 "http://$METRICS/metrics")
grep -qx '# TYPE tandem_certificate_expiry_seconds gauge' <<<"$body" ||
  fail "no TYPE gauge line for tandem_certificate_expiry_seconds"
assert_eq 0 "$(grep -c 'certificate="peer' <<<"$body" || true)" "peer series without [peer]"

# --- 1. suites ----------------------------------------------------------------------------------
step "TLS 1.2: each suite OpenSSL knows, offered alone"
mapfile -t tls12 < <(openssl ciphers 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' | tr ':' '\n' |
  grep -v '^TLS_')
((${#tls12[@]} > 50)) || fail "openssl ciphers listed only ${#tls12[@]} TLS 1.2 suites"
# Eight probes at a time; each writes what it negotiated to suites/NAME.
mkdir -p "$TD_DIR/suites"
((${#tls12[@]} < 1000)) || fail "more TLS 1.2 suites than source ports set aside for them"
pids=()
bind=20000
for c in "${tls12[@]}"; do
  (
    export TD_BIND_PORT=$bind
    negotiated "$(probe -tls1_2 -cipher "$c:@SECLEVEL=0")" >"$TD_DIR/suites/$c"
  ) &
  bind=$((bind + 1))
  pids+=($!)
  if ((${#pids[@]} == 8)); then
    wait "${pids[@]}"
    pids=()
  fi
done
((${#pids[@]} == 0)) || wait "${pids[@]}"
accepted12=()
for c in "${tls12[@]}"; do
  [[ -f $TD_DIR/suites/$c ]] || fail "no probe result for $c"
  got=$(<"$TD_DIR/suites/$c")
  if [[ -n $got ]]; then
    assert_eq "$c" "$got" "suite negotiated when only $c is offered"
    accepted12+=("$c")
  fi
done
step "TLS 1.2 suites tried: ${#tls12[@]}; accepted: ${accepted12[*]}"
for c in "${accepted12[@]}"; do
  [[ $c =~ ^ECDHE-(RSA|ECDSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$ ]] ||
    fail "TLS 1.2 suite $c accepted: not ECDHE with an AEAD cipher"
done
assert_eq "ECDHE-RSA-AES128-GCM-SHA256 ECDHE-RSA-AES256-GCM-SHA384 ECDHE-RSA-CHACHA20-POLY1305" \
  "$(printf '%s\n' "${accepted12[@]}" | sort | xargs)" \
  "the TLS 1.2 suites accepted with an RSA certificate"
for c in ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 AES256-GCM-SHA384 AES128-SHA \
  DHE-RSA-AES256-GCM-SHA384 DES-CBC3-SHA; do
  assert_eq "" "$(negotiated "$(probe -tls1_2 -cipher "$c:@SECLEVEL=0")")" "TLS 1.2 $c"
done
step "refused as expected: CBC (ECDHE-RSA-AES128-SHA, -AES256-SHA384), static RSA (AES256-GCM-SHA384, AES128-SHA), DHE, 3DES"

accepted13=()
for c in TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256 \
  TLS_AES_128_CCM_SHA256 TLS_AES_128_CCM_8_SHA256; do
  got=$(negotiated "$(probe -tls1_3 -ciphersuites "$c")")
  [[ -z $got ]] || accepted13+=("$got")
done
step "TLS 1.3 suites accepted: ${accepted13[*]}"
assert_eq "TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256" \
  "${accepted13[*]}" "the TLS 1.3 suites accepted"
out=$(probe)
assert_eq TLS_AES_256_GCM_SHA384 "$(negotiated "$out")" "what a default client gets"
grep -q '^New, TLSv1\.3, ' <<<"$out" || fail "a default client did not get TLS 1.3: $out"

# Server preference: the client lists AES-128 first and still gets AES-256.
assert_eq ECDHE-RSA-AES256-GCM-SHA384 \
  "$(negotiated "$(probe -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384)")" \
  "suite chosen from a client preferring AES-128 (server order wins)"
assert_eq TLS_AES_256_GCM_SHA384 \
  "$(negotiated "$(probe -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384)")" \
  "TLS 1.3 suite chosen from a client preferring AES-128"

for v in tls1_1 tls1; do
  out=$(probe "-$v" -cipher 'DEFAULT:@SECLEVEL=0')
  assert_eq "" "$(negotiated "$out")" "a -$v handshake"
  assert_match "$out" 'alert protocol version' "the server's answer to -$v"
done
step "TLS 1.1 and 1.0 refused with a protocol_version alert"

# --- 2. no tickets, no resumption ---------------------------------------------------------------
# resumption_probe PORT VERSION: TICKETS (ticket lines seen by a -sess_out run), REUSED (resumed
# handshakes with -sess_in of that session, and in a -reconnect run) and RECONNECTS (handshakes
# of the -reconnect run).
resumption_probe() {
  local port=$1 version=$2 sess=$TD_DIR/sess-$1-$2 out1 out2 out3
  rm -f "$sess"
  out1=$(TD_PROBE_WAIT=1 probe "$port" "-$version" -sess_out "$sess")
  [[ -n $(negotiated "$out1") ]] || fail "-$version handshake on port $port failed: $out1"
  TICKETS=$(grep -Ec 'TLS session ticket( lifetime hint)?:|Post-Handshake New Session Ticket' \
    <<<"$out1" || true)
  REUSED=0
  if [[ -s $sess ]]; then
    out2=$(probe "$port" "-$version" -sess_in "$sess")
    grep -q '^Reused, ' <<<"$out2" && REUSED=$((REUSED + 1))
  fi
  out3=$(TD_BIND_PORT=none probe "$port" "-$version" -reconnect) # one port per reconnect
  REUSED=$((REUSED + $(grep -c '^Reused, ' <<<"$out3" || true)))
  RECONNECTS=$(grep -Ec '^(New|Reused), ' <<<"$out3" || true)
}

step "reference: a stock openssl s_server (tickets and cache on) on port $REF_PORT"
ip netns exec "$TD_NS_HEADEND" openssl s_server -accept "$TD_SERVER_IP:$REF_PORT" \
  -cert "$CERT" -key "$KEY" -www >"$TD_DIR/s_server.log" 2>&1 &
ref=$!
td_track "$ref"
wait_for 5 "openssl s_server on $REF_PORT" td_listening "$TD_NS_HEADEND" "$REF_PORT"
for v in tls1_2 tls1_3; do
  resumption_probe "$REF_PORT" "$v"
  step "reference -$v: $TICKETS ticket lines, $REUSED reused of $RECONNECTS reconnects"
  ((TICKETS > 0)) || fail "the probe saw no ticket from the reference server (-$v)"
  ((REUSED > 0)) || fail "the probe saw no resumption with the reference server (-$v)"
done
kill "$ref"
wait "$ref" 2>/dev/null || true

for v in tls1_2 tls1_3; do
  resumption_probe "$TD_PORT" "$v"
  step "tandemd -$v: $TICKETS ticket lines, $REUSED reused of $RECONNECTS reconnects"
  assert_eq 0 "$TICKETS" "session ticket lines from tandemd (-$v)"
  assert_eq 0 "$REUSED" "resumed sessions with tandemd (-$v)"
  ((RECONNECTS >= 5)) || fail "only $RECONNECTS handshakes in the -reconnect run (-$v)"
done

# --- 3. renegotiation ---------------------------------------------------------------------------
out=$({ echo R; sleep 1; } | timeout 10 ip netns exec "$TD_NS_CLIENT" \
  openssl s_client -connect "$TD_SERVER_IP:$TD_PORT" -bind "$TD_CLIENT_ADDR:$(next_port)" \
  -tls1_2 2>&1 || true)
assert_match "$out" 'RENEGOTIATING' "s_client asked to renegotiate"
assert_match "$out" 'no renegotiation' "the server's answer to a renegotiation"
step "client-initiated renegotiation refused (no_renegotiation)"

# --- 4. openconnect, with DTLS ------------------------------------------------------------------
start_client a alice 'alice pw'
wait_tunnel a
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
line=$(wait_log 5 tunnel_up "index=$index .*kind=ssl( |$)")
step "openconnect TLS: $(field encapsulation "$line") $(field cipher "$line")"
line=$(wait_log 20 tunnel_up "index=$index .*kind=dtls( |$)")
step "openconnect DTLS: $(field encapsulation "$line") $(field cipher "$line")"
assert_eq PSK-AES256-GCM-SHA384 "$(field cipher "$line")" "DTLS suite openconnect gets"
assert_contains "$(client_log a)" 'Established DTLS connection' "openconnect's DTLS"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5

# --- 5b. a renewed file waits for a restart -----------------------------------------------------
step "replace the certificate file (60 days) and reload"
openssl req -x509 -key "$KEY" -out "$CERT.new" -days 60 -subj "/CN=$TD_SERVER_IP" \
  2>>"$TD_DIR/openssl.log" || fail "openssl req (renewal) failed"
mv "$CERT.new" "$CERT"
out=$(tctl reload) || fail "tandemctl reload: $out"
line=$(wait_log 5 certificate_changed 'certificate=tls( |$)')
step "log: $line"
assert_eq 2 "$(log_count certificate_expiring 'certificate=tls( |$)')" \
  "certificate_expiring lines (start and reload: the old certificate is still in use)"
left2=$(metric 'tandem_certificate_expiry_seconds{certificate="tls"}')
((left2 <= left && left2 > left - 600)) ||
  fail "expiry gauge after the reload is $left2, not the certificate in use ($left)"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2

stop_client a INT
stop_tandemd

# --- 6. the self-signed (ECDSA P-256) certificate: the ECDSA half of the same policy -----------
write_config
start_tandemd
line=$(wait_log 5 certificate 'certificate=tls( |$)')
assert_match "$(field days_left "$line")" '^36[0-9][0-9]$' "days_left of the 10-year self-signed certificate"
assert_eq 0 "$(log_count certificate_expiring 'path=[^ ]*self-signed')" "warnings for it"
accepted=()
for c in ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 \
  ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256 ECDHE-ECDSA-AES256-SHA384 \
  ECDHE-ECDSA-AES128-CCM ECDHE-ECDSA-AES256-CCM8; do
  got=$(negotiated "$(probe -tls1_2 -cipher "$c:@SECLEVEL=0")")
  [[ -z $got ]] || accepted+=("$got")
done
step "self-signed ECDSA certificate, TLS 1.2 suites accepted: ${accepted[*]}"
assert_eq "ECDHE-ECDSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256" \
  "${accepted[*]}" "the TLS 1.2 suites accepted with an ECDSA certificate"
stop_tandemd
