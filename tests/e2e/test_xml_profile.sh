#!/usr/bin/env bash
# Cisco Secure Client compatibility at the front door (docs/cisco-clients.md), with the real
# openconnect and curl:
#  1. Tunnel group "eng" has an XML profile. `openconnect --authenticate --xmlconfig FILE` logs
#     in, finds the profile announced in the login success (URI + SHA-1), fetches it with its
#     session cookie, checks the SHA-1 and writes FILE: FILE is byte for byte the operator's
#     file, and tandemd logged profile_served with that SHA-1.
#  2. openconnect given the profile's HostName instead of an address: it looks the host up in
#     FILE (address and UserGroup from the HostEntry), logs in to group eng, gets the tunnel and
#     pings. The hash it holds matches, so it does not fetch the profile again. The CONNECT
#     answer carries eng's policy: X-CSTP-Client-Bypass-Protocol and -Disable-Always-On-VPN true.
#  3. curl on the profile URI: with the session's cookie the exact bytes; no cookie, a forged
#     token: 401; another group's profile, traversal shapes: 404; each refusal logged.
#  4. Cisco headers: a login POST and a CONNECT as Cisco Secure Client sends them (platform,
#     X-CSTP-Protocol, quoted cookie) are taken and the platform logged; hostile values and a
#     webvpnc-only cookie are refused with the reason logged.
#  5. A reload with a changed profile: the next login announces the new hash and openconnect
#     fetches it again. A reload with a broken profile is refused naming the file; the running
#     profile is still the one served.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v curl >/dev/null || fail "curl not installed"
PROFILE=$TD_DIR/eng-profile.xml
SALES_PROFILE=$TD_DIR/sales-profile.xml
CLIENT_XML=$TD_DIR/client-profile.xml # what openconnect writes (--xmlconfig)
HOSTNAME_IN_PROFILE="Tandem Engineering"

write_profile() { # FILE HOSTNAME USERGROUP
  cat >"$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<AnyConnectProfile xmlns="http://schemas.xmlsoap.org/encoding/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <ClientInitialization>
    <AutoReconnect UserControllable="false">true
      <AutoReconnectBehavior UserControllable="false">ReconnectAfterResume</AutoReconnectBehavior>
    </AutoReconnect>
  </ClientInitialization>
  <ServerList>
    <HostEntry>
      <HostName>$2</HostName>
      <HostAddress>$TD_SERVER_IP:$TD_PORT</HostAddress>
      <UserGroup>$3</UserGroup>
      <BackupServerList>
        <HostAddress>10.200.0.9:$TD_PORT</HostAddress>
      </BackupServerList>
    </HostEntry>
  </ServerList>
</AnyConnectProfile>
EOF
}

sha1_upper() { sha1sum "$1" | awk '{print toupper($1)}'; }

# curl from the client namespace; prints the HTTP status. Extra args passed through.
http_status() {
  ip netns exec "$TD_NS_CLIENT" curl -sk --http1.1 --max-time 5 -o "$TD_DIR/curl-body" \
    -w '%{http_code}' "$@" || true
}

setup_topology
add_user alice 'correct horse'
write_profile "$PROFILE" "$HOSTNAME_IN_PROFILE" eng
write_profile "$SALES_PROFILE" "Tandem Sales" sales
write_config "
[policy.eng]
client_bypass_protocol = true
disable_always_on_vpn = true

[tunnel_group.eng]
policy = \"eng\"
profile = \"$PROFILE\"

[tunnel_group.sales]
profile = \"$SALES_PROFILE\"
"
METRICS=127.0.0.1:9109 # inside the headend namespace
sed -i "/^\[node\]\$/a metrics_listen = \"$METRICS\"" "$TD_CONFIG"
start_tandemd
SHA=$(sha1_upper "$PROFILE")
line=$(wait_log 5 profile_loaded 'tunnel_group=eng( |$)')
assert_eq "$SHA" "$(field sha1 "$line")" "profile_loaded sha1 at start"
assert_eq "$HOSTNAME_IN_PROFILE" "$(field hosts "$line")" "profile_loaded hosts"
assert_eq "10.200.0.9:$TD_PORT" "$(field backup_hosts "$line")" "profile_loaded backup hosts"

# --- 1. the download --------------------------------------------------------------------------
# Three groups make the form a group list: --authgroup answers it (--non-inter cannot). The
# HTTP dump shows the profile request as openconnect sends it.
authenticate c1 alice 'correct horse' --authgroup=eng --xmlconfig="$CLIENT_XML" --dump-http-traffic
# What 9.01 really sends: the URI with ":<port>" appended (port not 443), the webvpn cookie only.
assert_contains "$(client_log c1)" "> GET /CACHE/stc/profiles/eng.xml:$TD_PORT HTTP/1.1" \
  "openconnect's profile request line"
assert_contains "$(client_log c1)" "> Cookie: webvpn=$TD_TOKEN\$" "openconnect's profile cookie"
grep -q 'Downloaded new XML profile' "$(client_log c1)" ||
  fail "openconnect did not report 'Downloaded new XML profile' (see $(client_log c1))"
[[ -f $CLIENT_XML ]] || fail "openconnect wrote no $CLIENT_XML"
cmp -s "$PROFILE" "$CLIENT_XML" || fail "the downloaded profile differs from the operator's file"
line=$(wait_log 5 profile_served 'user=alice( |$)')
assert_eq "$SHA" "$(field sha1 "$line")" "profile_served sha1 vs sha1sum of the file"
assert_eq eng "$(field tunnel_group "$line")" "profile_served tunnel group"
assert_eq "$(stat -c %s "$PROFILE")" "$(field bytes "$line")" "profile_served bytes"
line=$(log_events login_ok 'user=alice( |$)' | tail -n1)
assert_eq eng "$(field tunnel_group "$line")" "login_ok tunnel group of the first login"

# --- 2. the host list -------------------------------------------------------------------------
step "client c2: openconnect --xmlconfig with the profile's HostName"
td_launch c2 "$TD_NS_CLIENT" 'correct horse' --user=alice --passwd-on-stdin --authgroup=eng \
  --xmlconfig="$CLIENT_XML" "$HOSTNAME_IN_PROFILE"
wait_tunnel c2
assert_contains "$(client_log c2)" \
  "Host \"$HOSTNAME_IN_PROFILE\" has address \"$TD_SERVER_IP:$TD_PORT\"" \
  "openconnect found the host in the downloaded profile"
assert_contains "$(client_log c2)" "Host \"$HOSTNAME_IN_PROFILE\" has UserGroup \"eng\"" \
  "openconnect took the UserGroup from the profile"
assert_contains "$(client_log c2)" "POST https://$TD_SERVER_IP:$TD_PORT/eng" \
  "openconnect posted to the UserGroup path"
line=$(wait_log 5 login_ok 'user=alice( |$)' 2)
assert_eq eng "$(field tunnel_group "$line")" "login_ok tunnel group of the HostName login"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3
assert_eq 1 "$(log_count profile_served)" "profile fetches (the second client's hash matched)"
assert_not_contains "$(client_log c2)" 'Downloaded new XML profile' \
  "the second client downloaded the profile again"
assert_contains "$(client_log c2)" 'X-CSTP-Client-Bypass-Protocol: true' \
  "CONNECT answer: eng's client_bypass_protocol"
assert_contains "$(client_log c2)" 'X-CSTP-Disable-Always-On-VPN: true' \
  "CONNECT answer: eng's disable_always_on_vpn"
stop_client c2 INT

# --- 3. the URI with curl ---------------------------------------------------------------------
URI=https://$TD_SERVER_IP:$TD_PORT/CACHE/stc/profiles/eng.xml
assert_eq 200 "$(http_status -H "Cookie: webvpn=$TD_TOKEN" "$URI")" "profile with the cookie"
assert_eq "$SHA" "$(sha1_upper "$TD_DIR/curl-body")" "sha1 of the profile curl got"
assert_eq 401 "$(http_status "$URI")" "profile without a cookie"
forged=${TD_TOKEN%?}
[[ ${TD_TOKEN: -1} == x ]] && forged+=y || forged+=x
assert_eq 401 "$(http_status -H "Cookie: webvpn=$forged" "$URI")" "profile, forged token"
assert_eq 404 "$(http_status -H "Cookie: webvpn=$TD_TOKEN" \
  "https://$TD_SERVER_IP:$TD_PORT/CACHE/stc/profiles/sales.xml")" "another group's profile"
for t in '/CACHE/stc/profiles/../../../etc/passwd' '/CACHE/stc/profiles/..%2f..%2fusers.xml' \
  '/CACHE/stc/profiles/eng.xml/../sales.xml'; do
  assert_eq 404 "$(http_status --path-as-is -H "Cookie: webvpn=$TD_TOKEN" \
    "https://$TD_SERVER_IP:$TD_PORT$t")" "traversal shape $t"
done
assert_eq 6 "$(log_count profile_refused)" "profile_refused log lines (2 x 401, 4 x 404)"
log_events profile_refused 'status=401' | grep -Eq 'reason="?no session token' ||
  fail "no profile_refused line says 'no session token'"

# --- 4. Cisco Secure Client's headers ----------------------------------------------------------
login_body='<?xml version="1.0" encoding="UTF-8"?><config-auth client="vpn" type="auth-reply" aggregate-auth-version="2"><version who="vpn">5.1.2.42</version><device-id>win</device-id><group-access>https://'$TD_SERVER_IP:$TD_PORT'/eng</group-access><auth><username>alice</username><password>correct horse</password></auth></config-auth>'
cisco_login() { # PLATFORM
  http_status -X POST -H 'User-Agent: AnyConnect Windows 5.1.2.42' -H 'X-Transcend-Version: 1' \
    -H 'X-Aggregate-Auth: 1' -H "X-AnyConnect-Platform: $1" \
    -H 'Content-Type: application/x-www-form-urlencoded' --data-binary "$login_body" \
    "https://$TD_SERVER_IP:$TD_PORT/"
}
assert_eq 200 "$(cisco_login win)" "Cisco-shaped login"
grep -q '<session-token>' "$TD_DIR/curl-body" || fail "no session-token in the Cisco login answer"
grep -q '<uri>/CACHE/stc/profiles/eng.xml</uri>' "$TD_DIR/curl-body" ||
  fail "the Cisco login (group from <group-access>) did not announce eng's profile"
line=$(wait_log 5 login_ok 'user=alice .*platform=win( |$)')
assert_eq eng "$(field tunnel_group "$line")" "group chosen from <group-access>"
CISCO_TOKEN=$(sed -n 's:.*<session-token>\([^<]*\)</session-token>.*:\1:p' "$TD_DIR/curl-body")
assert_eq 400 "$(cisco_login 'win<script>')" "login with a hostile X-AnyConnect-Platform"
wait_log 5 input_refused 'X-AnyConnect-Platform' >/dev/null

cisco_connect() { # COOKIE_HEADER PROTOCOL: CONNECT as Cisco sends it; prints the status line
  ip netns exec "$TD_NS_CLIENT" curl -sk --http1.1 --max-time 3 -o /dev/null -D - -X CONNECT \
    -H 'User-Agent: AnyConnect Windows 5.1.2.42' -H "Cookie: $1" -H 'X-CSTP-Version: 1' \
    -H "X-CSTP-Protocol: $2" -H 'X-AnyConnect-Platform: win' -H 'X-CSTP-Hostname: laptop' \
    -H 'X-CSTP-Base-MTU: 1500' -H 'X-CSTP-Address-Type: IPv4' \
    "https://$TD_SERVER_IP:$TD_PORT/CSCOSSLC/tunnel" 2>/dev/null | head -n1 | tr -d '\r' || true
}
COPYRIGHT='Copyright (c) 2004 Cisco Systems, Inc.'
status=$(cisco_connect "webvpnc=bu:/&p:t; webvpn=\"$CISCO_TOKEN\"" "$COPYRIGHT")
assert_match "$status" '^HTTP/1.1 200 CONNECTED' "CONNECT with a quoted webvpn cookie"
wait_log 5 tunnel_up 'kind=ssl .*platform=win( |$)' >/dev/null
status=$(cisco_connect "webvpn=$CISCO_TOKEN" "$(printf 'x%.0s' {1..200})")
assert_match "$status" '^HTTP/1.1 400' "CONNECT with a 200-byte X-CSTP-Protocol"
wait_log 5 connect_refused 'X-CSTP-Protocol' >/dev/null
status=$(cisco_connect "webvpnc=bu:/&p:t" "$COPYRIGHT")
assert_match "$status" '^HTTP/1.1 401' "CONNECT with only webvpnc"
wait_log 5 connect_refused 'webvpnc' >/dev/null
status=$(cisco_connect "webvpn=a; webvpn=$CISCO_TOKEN" "$COPYRIGHT")
assert_match "$status" '^HTTP/1.1 401' "CONNECT with two different webvpn cookies"
wait_log 5 connect_refused 'two different webvpn cookies' >/dev/null

# --- 5. reloads: a changed profile is announced and fetched again; a broken one is refused -----
write_profile "$PROFILE" "Tandem Engineering 2" eng
SHA2=$(sha1_upper "$PROFILE")
assert_ne "$SHA" "$SHA2" "sha1 of the changed profile"
step "SIGHUP with a changed profile"
kill -HUP "$TD_TANDEMD_PID"
wait_log 5 reloaded >/dev/null
line=$(wait_log 5 profile_loaded 'tunnel_group=eng( |$)' 2)
assert_eq "$SHA2" "$(field sha1 "$line")" "profile_loaded sha1 after the reload"
authenticate c3 alice 'correct horse' --authgroup=eng --xmlconfig="$CLIENT_XML"
grep -q 'Downloaded new XML profile' "$(client_log c3)" ||
  fail "openconnect did not fetch the changed profile (see $(client_log c3))"
cmp -s "$PROFILE" "$CLIENT_XML" || fail "the client's file is not the changed profile"
line=$(wait_log 5 profile_served 'user=alice( |$)' 3)
assert_eq "$SHA2" "$(field sha1 "$line")" "profile_served sha1 after the reload"
SHA=$SHA2

printf '<AnyConnectProfile><ServerList>' >"$PROFILE"
step "SIGHUP with a broken profile"
kill -HUP "$TD_TANDEMD_PID"
line=$(wait_log 5 reload_refused)
[[ $line == *"$PROFILE"* ]] || fail "reload_refused does not name $PROFILE: $line"
[[ $line == *tunnel_group.eng.profile* ]] || fail "reload_refused does not name the key: $line"
assert_eq 200 "$(http_status -H "Cookie: webvpn=$TD_TOKEN" "$URI")" "profile after the refused reload"
assert_eq "$SHA" "$(sha1_upper "$TD_DIR/curl-body")" "the running profile is still served"

# Served: c1, curl, c3, curl; refused: the six of part 3.
m=$(ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics") ||
  fail "metrics scrape failed"
assert_eq 4 "$(sed -n 's/^tandem_profile_downloads_total{result="served"} //p' <<<"$m")" \
  "tandem_profile_downloads_total served"
assert_eq 6 "$(sed -n 's/^tandem_profile_downloads_total{result="refused"} //p' <<<"$m")" \
  "tandem_profile_downloads_total refused"
stop_tandemd
