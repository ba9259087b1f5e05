#!/usr/bin/env bash
# Reload (SIGHUP and `tandemctl reload`) with a client connected and pinging every 50 ms:
#  1. A user added to the users file cannot log in before the reload (tandemd read the file at
#     start).
#  2. SIGHUP after changing a policy (dpd_interval), adding a policy and a tunnel group and the
#     user: the connected client keeps its session (same index, no resume, no tunnel_down, pings
#     go on); the new user logs in to the new tunnel group and gets the new policy's DPD; the
#     default policy's new DPD reaches new logins.
#  3. `tandemctl reload` after another user and a pool change: it reports the counts and that
#     pool.ipv4 needs a restart (the running value stays).
#  4. A config with an unknown key: SIGHUP and `tandemctl reload` are refused with the key named,
#     tandemd logs reload_refused, and everything running stays: logins work, the user added
#     with the bad config is not loaded, the reloaded policies still apply.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PING_MS=50

# The config of this test: the lib's, plus POLICY_TOML (new tables only).
write_reload_config() { # POOL POLICY_TOML
  write_config "$2"
  sed -i "s|^ipv4 = .*|ipv4 = \"$1\"|" "$TD_CONFIG"
}

# A login with openconnect --authenticate (no tunnel); its exit code goes to TD_RC.
try_login() { # ID USER PASSWORD [OPENCONNECT ARGS...]
  local id=$1 user=$2 pass=$3
  shift 3
  step "client $id: openconnect --authenticate as $user${*:+ ($*)}"
  td_launch "$id" "$TD_NS_CLIENT2" "$pass" --authenticate --user="$user" --passwd-on-stdin \
    "$@" "$TD_URL"
  client_wait_exit "$id" 30
}

hup() {
  step "SIGHUP to tandemd"
  kill -HUP "$TD_TANDEMD_PID"
}

setup_topology
add_client2_ns
add_user alice secret-a
write_reload_config "$TD_POOL" '
[policy.default]
dpd_interval = "30s"
'
start_tandemd

# --- a connected client, pinging --------------------------------------------------------------
start_client c1 alice secret-a
wait_tunnel c1
ip1=$(client_ip c1)
index=$(field index "$(wait_log 5 login_ok 'user=alice( |$)')")
assert_contains "$(client_log c1)" 'X-CSTP-DPD: 30$' "DPD of the first login"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
ping_t0=$(td_now_ms)
sleep 1

# --- 1. a user only in the file cannot log in yet ---------------------------------------------
add_user bob secret-b
try_login early bob secret-b
assert_eq 1 "$TD_RC" "openconnect exit code for bob before the reload"
wait_log 5 login_failed 'user=bob( |$)' >/dev/null

# --- 2. SIGHUP ----------------------------------------------------------------------------------
write_reload_config "$TD_POOL" '
[policy.default]
dpd_interval = "17s"

[policy.engineering]
dpd_interval = "11s"
idle_timeout = "2h"

[tunnel_group.engineering]
policy = "engineering"
'
hup
line=$(wait_log 10 reloaded)
assert_match "$(field detail "$line")" \
  "^reloaded $TD_CONFIG: 2 policies, 2 tunnel groups, 2 users\$" "reload detail after SIGHUP"
step "reloaded: $(field detail "$line")"

start_client --ns "$TD_NS_CLIENT2" c2 bob secret-b --authgroup=engineering
wait_tunnel c2
assert_contains "$(client_log c2)" 'X-CSTP-DPD: 11$' "DPD of bob's session (policy engineering)"
wait_log 5 login_ok 'user=bob .*tunnel_group=engineering policy=engineering( |$)' >/dev/null
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 3
stop_client c2 INT
try_login c3 alice secret-a --authgroup=default # two groups now: the client must pick
assert_eq 0 "$TD_RC" "alice's second login"
start_client --ns "$TD_NS_CLIENT2" c4 alice secret-a --authgroup=default
wait_tunnel c4
assert_contains "$(client_log c4)" 'X-CSTP-DPD: 17$' "DPD of a new default-policy session"
stop_client c4 INT

# --- 3. tandemctl reload ------------------------------------------------------------------------
add_user carol secret-c
write_reload_config 10.78.0.0/24 '
[policy.default]
dpd_interval = "17s"

[policy.engineering]
dpd_interval = "11s"
idle_timeout = "2h"

[tunnel_group.engineering]
policy = "engineering"
'
out=$(tctl reload) || fail "tandemctl reload: $out"
step "tandemctl reload: $out"
assert_match "$out" \
  "^reloaded $TD_CONFIG: 2 policies, 2 tunnel groups, 3 users; needs a restart, running value kept: pool\\.ipv4\$" \
  "tandemctl reload output"
try_login c5 carol secret-c --authgroup=default
assert_eq 0 "$TD_RC" "carol's login after tandemctl reload"
assert_eq 2 "$(log_count reloaded)" "reloaded log lines"

# The connected client saw none of it.
sleep 1
view=$(tctl show sessions --index "$index" --json) || fail "show sessions --index $index"
assert_eq "$ip1" "$(jq -r '.sessions[0].assigned_ip' <<<"$view")" "c1's address after two reloads"
assert_eq 0 "$(jq -r '.sessions[0].resumes' <<<"$view")" "c1's resumes after two reloads"
assert_eq active "$(jq -r '.sessions[0].state' <<<"$view")" "c1's state after two reloads"
assert_eq "$ip1" "$(client_ip c1)" "c1's tun address"
assert_not_contains "$TD_TANDEMD_LOG" " tunnel_down index=$index " "c1's tunnels during the reloads"
assert_eq 1 "$(count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200')" \
  "c1's CONNECTs (a reconnect would add one)"

# --- 4. an invalid config is refused and changes nothing -------------------------------------
add_user dave secret-d
cp "$TD_CONFIG" "$TD_DIR/good.toml"
printf '\n[policy.broken]\ndpd_intervall = "5s"\n' >>"$TD_CONFIG"
hup
line=$(wait_log 10 reload_refused)
assert_match "$(field reason "$line")" "unknown key 'policy\\.broken\\.dpd_intervall'" \
  "reload_refused reason after SIGHUP"
step "SIGHUP refused: $(field reason "$line")"
rc=0
out=$(tctl reload 2>&1) || rc=$?
assert_eq 1 "$rc" "tandemctl reload exit code with an invalid config"
assert_match "$out" \
  "^tandemctl: configuration refused, the running one stays: .*unknown key 'policy\\.broken\\.dpd_intervall'" \
  "tandemctl reload refusal"
step "tandemctl reload refused: $out"
assert_eq 2 "$(log_count reload_refused)" "reload_refused log lines"
assert_eq 2 "$(log_count reloaded)" "reloaded log lines after the refusals"

try_login c6 dave secret-d --authgroup=default
assert_eq 1 "$TD_RC" "dave's login (added with the refused config: not loaded)"
try_login c7 carol secret-c --authgroup=default
assert_eq 0 "$TD_RC" "carol's login after the refused reloads"
start_client --ns "$TD_NS_CLIENT2" c8 bob secret-b --authgroup=engineering
wait_tunnel c8
assert_contains "$(client_log c8)" 'X-CSTP-DPD: 11$' "bob's DPD after the refused reloads"
stop_client c8 INT
tctl status >/dev/null || fail "tandemctl status after the refused reloads"

# --- the first client, all along ----------------------------------------------------------------
stop_ping_stream p
expected=$((($(td_now_ms) - ping_t0) / PING_MS))
ping_stream_stats p "$PING_MS"
step "c1 pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost, longest gap ${TD_PING_GAP_MS} ms"
((TD_PING_SENT * 10 >= expected * 8)) ||
  fail "only $TD_PING_SENT pings answered from first to last, $expected expected: the stream stalled"
assert_eq 0 "$TD_PING_LOST" "pings lost by the connected client"
((TD_PING_GAP_MS < 500)) || fail "a ${TD_PING_GAP_MS} ms silence in c1's pings"
view=$(tctl show sessions --index "$index" --json) || fail "show sessions --index $index"
assert_eq 0 "$(jq -r '.sessions[0].resumes' <<<"$view")" "c1's resumes at the end"
assert_not_contains "$TD_TANDEMD_LOG" " tunnel_down index=$index " "c1's tunnels at the end"
stop_client c1 INT
stop_tandemd
