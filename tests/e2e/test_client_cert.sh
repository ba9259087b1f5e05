#!/usr/bin/env bash
# Client certificates (docs/client-certificates.md), with the real openconnect --certificate /
# --sslkey and a PKI made here with openssl: CA, alice and carol (good), bob (revoked in the CRL),
# mallory (CN=alice, from another CA).
#   [tunnel_group.certs] certificate = "required"; [tunnel_group.both] = "with_password".
#  1. A password client without any certificate logs in to the default group (the node asks
#     every client for a certificate, and one without must still get in) and keeps pinging
#     through everything below.
#  2. alice's certificate logs in to certs with no username and no password asked (login_ok
#     auth=certificate user=alice), the tunnel pings, `show sessions --detail` says Certificate.
#     The same with the group picked by --authgroup instead of the URL path, and from a TLS 1.2
#     client (openssl s_client -tls1_2 posting the init).
#  3. Refused like a wrong password, each with its logged reason: bob's revoked certificate
#     (client_cert_revoked), mallory's from another CA (client_cert_untrusted), none at all
#     (client_cert_missing); no session for any of them.
#  4. with_password: alice's certificate and alice's password logs in (certificate+password);
#     alice's certificate with bob's name and bob's right password is client_cert_user_mismatch.
#  5. (dave logs out.) carol's certificate is revoked, the CRL reloaded (tandemctl reload); carol's live session
#     loses its TCP connection, and her client's reconnect (token and revoked certificate) is
#     refused (resume_certificate_refused reason=client_cert_revoked), the session ends
#     (certificate_revoked). alice's certificate session resumes after the same cut.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_client_cert.sh"

TD_CPKI=$TD_DIR/client-pki
cert_args() { echo "--certificate=$TD_CPKI/$1.pem" "--sslkey=$TD_CPKI/$1.key"; }

# try_cert ID CERT GROUP [USER PASSWORD]: openconnect --authenticate presenting CERT (or "none").
try_cert() {
  local id=$1 cert=$2 group=$3 user=${4:-} pass=${5:-} args=() url=${TD_URL}$3
  [[ $cert == none ]] || read -r -a args <<<"$(cert_args "$cert")"
  # With a form to fill (a password group), openconnect needs the group named to stay
  # non-interactive; a certificate-only group is chosen by the URL path alone.
  [[ -z $user ]] || { args+=(--user="$user" --passwd-on-stdin --authgroup="$group"); url=$TD_URL; }
  step "client $id: --authenticate, certificate $cert, group $group${user:+, as $user}"
  td_launch "$id" "$TD_NS_CLIENT" "$pass" --authenticate "${args[@]}" "$url"
  client_wait_exit "$id" 30
}

# assert_refused ID REASON: the attempt got no token and tandemd logged login_failed REASON.
assert_refused() {
  local line
  assert_ne 0 "$TD_RC" "openconnect exit code for $1"
  assert_not_contains "$(client_log "$1")" 'webvpn=[0-9a-zA-Z]' "a token for $1"
  line=$(wait_log 5 login_failed "reason=$2( |\$)")
  step "log: $line"
}

setup_topology
add_client2_ns
make_client_pki "$TD_CPKI"
add_user alice 'alice pw'
add_user bob 'bob pw'
add_user dave 'dave pw'
write_config "
[tls]
client_ca = \"$TD_CPKI/ca.pem\"
client_crl = \"$TD_CPKI/crl.pem\"

[tunnel_group.certs]
certificate = \"required\"

[tunnel_group.both]
certificate = \"with_password\"
"
start_tandemd
line=$(wait_log 5 client_trust)
assert_eq 1 "$(field crls "$line")" "CRLs loaded"

# --- 1. no certificate, password group ---------------------------------------------------------
start_client --ns "$TD_NS_CLIENT2" d dave 'dave pw' --authgroup=default
wait_tunnel d
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
line=$(wait_log 5 login_ok 'user=dave( |$)')
assert_eq password "$(field auth "$line")" "dave's auth method"

# --- 2. alice by certificate alone ---------------------------------------------------------------
read -r -a alice_args <<<"$(cert_args alice)"
step "client a: openconnect with alice's certificate to ${TD_URL}certs, no user, no password"
td_launch a "$TD_NS_CLIENT" "" "${alice_args[@]}" "${TD_URL}certs"
wait_tunnel a
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
line=$(wait_log 5 login_ok 'user=alice( |$)')
step "log: $line"
assert_eq certificate "$(field auth "$line")" "alice's auth method"
assert_eq certs "$(field tunnel_group "$line")" "alice's tunnel group"
assert_match "$(field cert_subject "$line")" 'CN=alice' "alice's certificate subject"
index_a=$(field index "$line")
assert_not_contains "$(client_log a)" 'Enter|[Pp]assword:' "a prompt for alice"
detail=$(tctl show sessions --detail --index "$index_a") || fail "show sessions --detail: $detail"
assert_match "$detail" 'Auth Mode +: Certificate' "Auth Mode of alice's session"
assert_eq Certificate "$(sessions_jq ".sessions[] | select(.index == \"$index_a\") | .tunnels[0].auth_mode")" \
  "auth_mode in show sessions --json"

# The group chosen in the form (--authgroup, <group-select>) rather than by the URL: the same.
step "client a2: openconnect --authenticate with alice's certificate, --authgroup=certs"
td_launch a2 "$TD_NS_CLIENT" "" --authenticate "${alice_args[@]}" --authgroup=certs "$TD_URL"
client_wait_exit a2 30
assert_eq 0 "$TD_RC" "alice's certificate login with --authgroup=certs"
line=$(wait_log 5 login_ok 'user=alice .*tunnel_group=certs( |$)' 2)
assert_eq certificate "$(field auth "$line")" "auth method with --authgroup=certs"
assert_not_contains "$(client_log a2)" 'Enter|[Pp]assword:' "a prompt for alice (a2)"

# TLS 1.2 asks for the certificate in its own way (CertificateRequest in the first flight):
# openssl s_client capped at 1.2 posts an init to /certs and gets the session token.
body='<?xml version="1.0" encoding="UTF-8"?><config-auth client="vpn" type="init"><version who="vpn">9.01</version></config-auth>'
reply=$(printf 'POST /certs HTTP/1.1\r\nHost: %s\r\nContent-Type: text/xml\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "$TD_SERVER_IP" "${#body}" "$body" |
  timeout 10 ip netns exec "$TD_NS_CLIENT" openssl s_client -quiet -tls1_2 \
    -connect "$TD_SERVER_IP:$TD_PORT" -cert "$TD_CPKI/alice.pem" -key "$TD_CPKI/alice.key" 2>/dev/null) ||
  true
assert_match "$reply" '<session-token>[0-9]+-' "session token for a TLS 1.2 certificate login"
line=$(wait_log 5 login_ok 'user=alice .*tunnel_group=certs( |$)' 3)
assert_eq certificate "$(field auth "$line")" "auth method of the TLS 1.2 login"
# Those two sessions go: the policy allows alice 3 at once, and she logs in again below.
for n in 2 3; do
  index=$(field index "$(log_events login_ok 'user=alice .*tunnel_group=certs( |$)' | sed -n "${n}p")")
  out=$(tctl logoff --index "$index") || fail "tandemctl logoff --index $index: $out"
done

# --- 3. refused certificates -------------------------------------------------------------------
try_cert r1 bob certs
assert_refused r1 client_cert_revoked
try_cert r2 mallory certs
assert_refused r2 client_cert_untrusted
try_cert r3 none certs
assert_refused r3 client_cert_missing
# A wrong password reads the same to the client: a refused certificate gets the same form.
try_cert r4 none default alice 'wrong pw'
assert_refused r4 '"wrong password"'
assert_eq 0 "$(log_count login_ok 'user=(bob|mallory)( |$)')" "logins of refused certificates"
assert_eq 2 "$(sessions_jq '.sessions | length')" "sessions after the refusals (dave, alice)"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

# --- 4. certificate and password -----------------------------------------------------------------
try_cert w1 alice both alice 'alice pw'
assert_eq 0 "$TD_RC" "alice's certificate+password login"
line=$(wait_log 5 login_ok 'user=alice .*tunnel_group=both( |$)')
assert_eq certificate+password "$(field auth "$line")" "auth method of the with_password login"
try_cert w2 alice both bob 'bob pw'
assert_refused w2 client_cert_user_mismatch
line=$(log_events login_failed 'reason=client_cert_user_mismatch' | tail -n1)
assert_eq bob "$(field user "$line")" "user of the mismatch"
assert_match "$(field detail "$line")" 'names alice' "detail of the mismatch"
try_cert w3 none both alice 'alice pw'
assert_refused w3 client_cert_missing
assert_eq 0 "$(log_count login_ok 'user=bob( |$)')" "bob's logins"

# --- 5. revocation at reconnect ----------------------------------------------------------------
# carol takes client2's namespace: two clients' routes in one namespace would overlap.
stop_client d INT
read -r -a carol_args <<<"$(cert_args carol)"
step "client c: carol's certificate to ${TD_URL}certs (from client2)"
td_launch c "$TD_NS_CLIENT2" "" "${carol_args[@]}" "${TD_URL}certs"
wait_tunnel c
index_c=$(field index "$(wait_log 5 login_ok 'user=carol( |$)')")
revoke_client_cert "$TD_CPKI" carol
out=$(tctl reload) || fail "tandemctl reload: $out"
step "reload: $out"
wait_log 5 client_trust "crls=1" 2 >/dev/null
step "cut carol's and alice's TCP connections: their clients reconnect with token and certificate"
resumes_a=$(log_count session_resumed "index=$index_a( |$)")
kill_client_tcp "$TD_NS_CLIENT2"
kill_client_tcp "$TD_NS_CLIENT"
line=$(wait_log 20 resume_certificate_refused "index=$index_c( |$)")
step "log: $line"
assert_eq client_cert_revoked "$(field reason "$line")" "reason carol's resume was refused"
line=$(wait_log 5 session_end "index=$index_c( |$)")
assert_eq certificate_revoked "$(field reason "$line")" "end reason of carol's session"
wait_log 5 connect_refused 'reason=client_cert_revoked' >/dev/null
client_wait_exit c 60
step "carol's client gave up (exit $TD_RC)"
wait_log 20 session_resumed "index=$index_a( |\$)" $((resumes_a + 1)) >/dev/null
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
listed "$index_a" || fail "alice's certificate session is gone"
listed "$index_c" && fail "carol's session outlived her revoked certificate"

stop_client a INT
stop_tandemd
