#!/usr/bin/env bash
# The local demo: install and build Tandem (deploy/setup.sh), then run an active/standby pair of
# tandemd nodes in network namespaces, with the real openconnect client pinging a host on the
# inside network every 50 ms through the tunnel, and show what an operator sees:
#
#   1. the session (`tandemctl show sessions`) and both nodes (`tandemctl status`);
#   2. a planned failover drill (`tandemctl failover`) while traffic flows;
#   3. a crash failover (kill -9 of the active tandemd) while traffic flows;
#   4. the killed node restarting and rejoining as the standby (replication lag 0);
#
# and after each failover: which node is active, the gap (longest silence between ping replies,
# and pings lost), that the client kept its address and session index, and that the session's
# counters went on. A summary table comes last.
#
# The nodes run on built-in defaults except for what a pair has to set (addresses, the peer
# link's mutual TLS, the shared client-facing certificate, and per-node paths so that the demo
# writes nothing outside its temp dir). All traffic stays inside namespaces this script
# creates; a trap stops every process it started and deletes the namespaces, also on failure
# or Ctrl-C. Run as root on Debian 12:  bash deploy/demo.sh
#
# Environment: TANDEM_BUILD_DIR (default <repo>/build), TD_KEEP=1 keeps the logs in /tmp.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TANDEM_BUILD_DIR=${TANDEM_BUILD_DIR:-$repo/build}

bold=
plain=
if [[ -t 1 ]]; then
  bold=$(tput bold 2>/dev/null || true)
  plain=$(tput sgr0 2>/dev/null || true)
fi
section() { printf '\n%s== %s ==%s\n' "$bold" "$*" "$plain"; }

section "1/6 install the dependencies and build (deploy/setup.sh)"
bash "$repo/deploy/setup.sh"

# The e2e harness brings the namespaces, the pair, openconnect, bounded waits and the cleanup
# trap. Its watchdog ends the demo (cleanly) if it ever runs over TD_DEADLINE seconds.
TD_DEADLINE=${TD_DEADLINE:-300}
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$repo/tests/e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_pair.sh
source "$repo/tests/e2e/lib_pair.sh"

# The default port (443) rather than the tests' 4443.
TD_PORT=443
# shellcheck disable=SC2034  # used by lib.sh's start_client
TD_URL=https://$TD_SERVER_IP/
PING_MS=50

# ---------------------------------------------------------------------------------------------
# Helpers

say() { printf '  %s\n' "$*"; }

# A command as the operator types it on node N, then its output, indented.
on_node() { # NODE tandemctl-args...
  local n=$1
  shift
  printf '\n  %snode-%s# tandemctl %s%s\n' "$bold" "$n" "$*" "$plain"
  nctl "$n" "$@" | sed 's/^/    /'
}

# `tandemctl status` of both nodes, side by side.
status_both() {
  local a b
  a=$(nctl a status 2>&1 || true)
  b=$(nctl b status 2>&1 || true)
  local w
  w=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 3 }' <<<"$a")
  printf '\n  %s%-*s%s%s\n' "$bold" $((w + 2)) "node-a# tandemctl status" \
    "node-b# tandemctl status" "$plain"
  paste -d '\t' <(printf '%s\n' "$a") <(printf '%s\n' "$b") |
    awk -F'\t' -v w="$w" '{ printf "    %-*s%s\n", w, $1, $2 }'
}

session_json() { nctl "$1" show sessions --json | jq -c '.sessions[0] // empty'; }
td_has_session() { [[ -n $(session_json "$1") ]]; }
resumed_count() { count_in "$(node_log "$1")" "session_resumed index=$2 "; }
td_resumed_more() { (($(resumed_count "$1" "$2") > $3)); }
role_of() { if td_alive "${TD_NODE_PID[$1]:-0}"; then node_field "$1" role; else echo "down"; fi; }

# phase_stats FROM_MS TO_MS: the ping replies that arrived in the window. Sets P_SENT (echoes
# from the first to the last one answered), P_LOST, P_GAP_MS (the longest silence between two
# consecutive replies) and P_GAP_AT_MS (when that silence began).
phase_stats() {
  local out
  out=$(ping_replies p | awk -v a="$1" -v b="$2" '
    $2 >= a && $2 <= b {
      n++; got[$1] = 1
      if (n == 1 || $1 < lo) lo = $1
      if (n == 1 || $1 > hi) hi = $1
      if (n > 1 && $2 - prev > gap) { gap = $2 - prev; gap_at = prev }
      prev = $2
    }
    END {
      if (n == 0) { print "0 0 0 0"; exit }
      lost = 0
      for (s = lo; s <= hi; s++) if (!(s in got)) lost++
      printf "%d %d %.0f %.0f\n", hi - lo + 1, lost, gap, gap_at  # (%d is 32-bit in mawk)
    }')
  read -r P_SENT P_LOST P_GAP_MS P_GAP_AT_MS <<<"$out"
}

# timeline FROM_MS TO_MS: what both nodes logged about roles, the service address and the
# session in the window, in time order, as milliseconds after FROM_MS.
timeline() {
  local from=$1 to=$2 n
  local events='failover_requested|role_change|standing_by|service_address_released'
  events+='|service_address_taken|clients_tickled|session_resumed|tunnel_up|tunnel_down'
  events+='|standby_connected|standby_disconnected'
  for n in a b; do
    # Log times are UTC ISO 8601; compare times of day in ms (the window is seconds long).
    awk -v node="node-$n" -v from="$from" -v to="$to" -v re="^($events)\$" '
      $3 ~ re {
        split(substr($1, 12, 12), t, ":")
        ms = ((t[1] * 60 + t[2]) * 60 + t[3]) * 1000
        off = ms - from % 86400000
        if (off < -43200000) off += 86400000
        if (off < -200 || off > to - from) next
        rest = $3; for (i = 4; i <= NF; i++) if ($i !~ /^(node|cipher|encapsulation)=/) rest = rest " " $i
        printf "%d\t%s\t%s\n", off, node, substr(rest, 1, 88)
      }' "$(node_log "$n")"
  done | sort -n -k1,1 | awk -F'\t' '{ printf "    %+6d ms  %s  %s\n", $1, $2, $3 }'
}

# One line per failover for the summary table.
declare -a SUMMARY=()
summary_row() { # EVENT ACTIVE GAP LOST ADDRESS INDEX COUNTERS
  SUMMARY+=("$(printf ' %-18s %-8s %-9s %-10s %-11s %-6s %s' "$@")")
}

# The default the pair runs on, read from the source so the demo never states a stale number.
default_ms() { # NAME in node/config/defaults.hpp
  sed -n "s/.*$1 = std::chrono::milliseconds(\([0-9]*\)).*/\1/p" "$repo/node/config/defaults.hpp" |
    head -n1
}

# report_failover KIND ACTION OLD NEW T0 BEFORE_JSON: everything the operator wants to know
# after a failover, plus a summary row.
report_failover() {
  local kind=$1 action=$2 old=$3 new=$4 t0=$5 before=$6 now after ip_now
  now=$(td_now_ms)
  after=$(session_json "$new")
  [[ -n $after ]] || fail "no session on node $new after the $kind failover"
  ip_now=$(client_ip c1)
  phase_stats $((t0 - 1000)) "$now"

  printf '\n  %swhat both nodes logged (ms after %s):%s\n' "$bold" "$action" "$plain"
  timeline "$t0" "$now"
  on_node "$new" show sessions
  printf '\n  %sresult%s\n' "$bold" "$plain"
  say "active now      node-$new (epoch $(node_field "$new" epoch)); node-$old is $(role_of "$old")"
  say "gap             longest silence between ping replies: $P_GAP_MS ms" \
    "$(printf '(from %+d to %+d ms; pings every %d ms)' $((P_GAP_AT_MS - t0)) \
      $((P_GAP_AT_MS + P_GAP_MS - t0)) "$PING_MS")"
  say "lost pings      $P_LOST of $P_SENT"
  local idx0 idx1 rx0 rx1 tx0 tx1 res
  idx0=$(jq -r .index <<<"$before")
  idx1=$(jq -r .index <<<"$after")
  rx0=$(jq -r .packets_rx <<<"$before")
  rx1=$(jq -r .packets_rx <<<"$after")
  tx0=$(jq -r .packets_tx <<<"$before")
  tx1=$(jq -r .packets_tx <<<"$after")
  res=$(jq -r .resumes <<<"$after")
  assert_eq "$CLIENT_IP" "$ip_now" "client tunnel address after the $kind failover"
  assert_eq "$CLIENT_IP" "$(jq -r .assigned_ip <<<"$after")" "assigned address on node $new"
  assert_eq "$INDEX" "$idx1" "session index on node $new"
  ((rx1 > rx0 && tx1 > tx0)) ||
    fail "counters did not continue: packets from the client $rx0 -> $rx1, to it $tx0 -> $tx1"
  say "client address  $ip_now on the client's tun, $(jq -r .assigned_ip <<<"$after") on node-$new: kept"
  say "session index   $idx0 -> $idx1: kept (same token, no new login; resumes so far: $res)"
  say "counters        packets from the client $rx0 -> $rx1, to the client $tx0 -> $tx1: continuing"
  summary_row "$kind" "node-$new" "$P_GAP_MS ms" "$P_LOST/$P_SENT" "kept" "kept" \
    "pkts rx $rx0->$rx1, tx $tx0->$tx1"
}

# ---------------------------------------------------------------------------------------------

section "2/6 the pair in network namespaces"
cat <<EOF
  client ns  $TD_CLIENT_ADDR --+                         +-- node-a ns  ${TD_NODE_IP[a]}, ${TD_NODE_INSIDE_IP[a]}  tandemd
  (openconnect)           +-- switch ns (bridges) --+
  inside ns  $TD_INSIDE_IP --+                         +-- node-b ns  ${TD_NODE_IP[b]}, ${TD_NODE_INSIDE_IP[b]}  tandemd
  (ping target)

  service addresses: $TD_SERVER_IP (clients connect here) and $TD_INSIDE_GW (the inside
  host's route to the client pool); only the active node holds them.
  replication: node-a <-> node-b, gRPC over mutual TLS, port $TD_PEER_PORT.
EOF
setup_pair_topology
step "certificates with deploy/examples/gen-pki.sh:"
say "a CA and one certificate per node for the peer link (mutual TLS), and one"
say "client-facing certificate that both nodes present"
pki=$(bash "$repo/deploy/examples/gen-pki.sh" --out "$TD_PKI" --ca-dir "$TD_DIR/ca" --node "node-a=${TD_NODE_IP[a]}" \
  --node "node-b=${TD_NODE_IP[b]}" --service-ip "$TD_SERVER_IP") || fail "gen-pki.sh: $pki"
TD_PIN=$(grep -o 'pin-sha256:[A-Za-z0-9+/=]*' <<<"$pki")
say "client pin: $TD_PIN"
password=$(openssl rand -base64 12)
add_user demo "$password"
step "user 'demo' added with tandemctl passwd (users file $TD_USERS)"

# Each node's config holds only what a pair must set; everything else (pool 10.77.0.0/24,
# full tunnel, policy timers, poll_interval, hold_time, priority, log level) is a built-in
# default.
write_demo_config() { # NODE
  local n=$1 other
  other=$(other_node "$n")
  mkdir -p "$TD_DIR/state-$n"
  TD_NODE_CONFIG[$n]=$TD_DIR/node-$n.toml # lib_pair.sh's start_node reads it
  cat >"${TD_NODE_CONFIG[$n]}" <<EOF
[node]
# Per node: its name, and files apart (both nodes run on this one machine, and the demo
# writes nothing outside its temp dir).
id = "node-$n"
admin_socket = "$TD_DIR/admin-$n.sock"
state_dir = "$TD_DIR/state-$n"
# Clients connect to the service address (default port). It, and the inside address the
# inside network routes the pool to, move to whichever node is active.
listen = "$TD_SERVER_IP:$TD_PORT"
service_address = "$TD_SERVER_IP/24"
service_interface = "${TD_IFP}${n}o"
inside_address = "$TD_INSIDE_GW/24"
inside_interface = "${TD_IFP}${n}i"

# One client-facing certificate for both nodes (clients pin it).
[tls]
certificate = "$TD_PKI/vpn.pem"
private_key = "$TD_PKI/vpn.key"

[auth]
users_file = "$TD_USERS"

# The replication link to the other node, mutual TLS.
[peer]
node_id = "node-$other"
listen = "${TD_NODE_IP[$n]}:$TD_PEER_PORT"
address = "${TD_NODE_IP[$other]}:$TD_PEER_PORT"
ca = "$TD_PKI/ca.pem"
certificate = "$TD_PKI/node-$n.pem"
private_key = "$TD_PKI/node-$n.key"
EOF
}
write_demo_config a
write_demo_config b
hold_ms=$(default_ms kHoldTime)
poll_ms=$(default_ms kPollInterval)
step "node-a's config ($TD_DIR/node-a.toml; node-b's mirrors it):"
sed 's/^/    /' "${TD_NODE_CONFIG[a]}"
say "Everything else is a built-in default: pool 10.77.0.0/24 (full tunnel), policy timers,"
say "peer poll_interval ${poll_ms:-?} ms and hold_time ${hold_ms:-?} ms, equal priorities."

start_pair
ACT=$(active_node)
STB=$(other_node "$ACT")

section "3/6 a client connects and pings the inside host every $PING_MS ms"
start_client c1 demo "$password"
wait_tunnel c1
CLIENT_IP=$(client_ip c1)
wait_for 10 "the session on node $ACT" td_has_session "$ACT"
INDEX=$(session_json "$ACT" | jq -r .index)
dtls=no
poll_until 10 grep -q 'Established DTLS connection' "$(client_log c1)" && dtls=yes
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" "0.$(printf '%03d' "$PING_MS")"
T_START=$(td_now_ms)
sleep 2
on_node "$ACT" show sessions
status_both
summary_row "start" "node-$ACT" "-" "-" "$CLIENT_IP" "$INDEX" "-"

section "4/6 planned failover drill: tandemctl failover on node-$ACT"
before=$(session_json "$ACT")
n0=$(resumed_count "$STB" "$INDEX")
t0=$(td_now_ms)
printf '\n  %snode-%s# tandemctl failover%s\n' "$bold" "$ACT" "$plain"
# Judged by what follows (the other node active, the session resumed there); the answer is shown.
out=$(nctl "$ACT" failover 2>&1) || out="(exit $?) $out"
say "  $out ($(($(td_now_ms) - t0)) ms)"
wait_for 15 "node $STB active" td_is_active "$STB"
wait_for 20 "the session resumed on node $STB" td_resumed_more "$STB" "$INDEX" "$n0"
wait_for 15 "node $ACT following node $STB" td_following "$ACT"
sleep 2.5 # let pings flow, and the counters reach the new active's table
report_failover "planned failover" "tandemctl failover" "$ACT" "$STB" "$t0" "$before"
ACT=$(active_node)
STB=$(other_node "$ACT")

section "5/6 crash failover: kill -9 the active tandemd (node-$ACT) while the client pings"
wait_for 15 "node $STB caught up" td_caught_up "$STB"
before=$(session_json "$ACT")
sleep 1.2 # counters reach the standby about once a second
n0=$(resumed_count "$STB" "$INDEX")
t0=$(td_now_ms)
printf '\n  %snode-%s# kill -9 %s%s   (tandemd)\n' "$bold" "$ACT" "${TD_NODE_PID[$ACT]}" "$plain"
kill -KILL "${TD_NODE_PID[$ACT]}"
{ wait "${TD_NODE_PID[$ACT]}"; } 2>/dev/null || true # reaped here: no "Killed" message
wait_for 15 "node $STB active" td_is_active "$STB"
wait_for 20 "the session resumed on node $STB" td_resumed_more "$STB" "$INDEX" "$n0"
sleep 2.5
vip_left=yes
td_has_vip "$ACT" || vip_left=no
guard=absent
ip netns exec "${TD_NODE_NS[$ACT]}" nft list table inet tandem_syn_guard >/dev/null 2>&1 &&
  guard=present
report_failover "crash (kill -9)" "the kill -9" "$ACT" "$STB" "$t0" "$before"
promoted=$(grep -E '^[^ ]+ [a-z]+ role_change .*role=active' "$(node_log "$STB")" | tail -n1)
say "promotion       node-$STB at +$(($(log_ms "$promoted") - t0)) ms:" \
  "\"$(field reason "$promoted" || echo '?')\" (its replication port refused)"
say "                (hold_time, ${hold_ms:-?} ms, is for a peer that goes silent: a dead machine)"
say "dead node       service address still on node-$ACT: $vip_left (tandemd-keeper removed it);" \
  "nft table tandem_syn_guard: $guard"
KILLED=$ACT
ACT=$STB
STB=$KILLED

section "6/6 restart node-$KILLED: it rejoins as the standby and catches up"
start_node "$KILLED"
wait_for 30 "node $KILLED following node $ACT" td_following "$KILLED"
wait_for 15 "node $KILLED caught up (lag 0)" td_caught_up "$KILLED"
td_has_vip "$KILLED" && fail "the restarted node holds the service address"
assert_eq standby "$(node_field "$KILLED" role)" "role of the restarted node"
lag=$(node_field "$KILLED" replication_lag_seq)
sessions_b=$(node_field "$KILLED" sessions)
status_both
printf '\n  %sresult%s\n' "$bold" "$plain"
say "$(printf '%-15s' "node-$KILLED")" "standby, following node-$ACT, replication lag $lag records," \
  "$sessions_b session(s) in its table, no service address"
summary_row "restart node-$KILLED" "node-$ACT" "-" "-" "-" "-" \
  "node-$KILLED standby, lag $lag, $sessions_b session(s) replicated"

stop_ping_stream p
phase_stats "$T_START" "$(td_now_ms)"
td_alive "$(client_pid c1)" || fail "openconnect exited"
stop_client c1 INT
version=$(openconnect --version 2>/dev/null | sed -n '1s/^OpenConnect version //p')

line=$(printf '%.0s=' {1..100})
cat <<EOF

$line
 ${bold}Tandem demo summary$plain
 pair        node-a ${TD_NODE_IP[a]} and node-b ${TD_NODE_IP[b]}; service address $TD_SERVER_IP:$TD_PORT
             built-in defaults: poll_interval ${poll_ms:-?} ms, hold_time ${hold_ms:-?} ms, policy "default"
 client      openconnect ${version:-?}, user demo, DTLS $dtls; session $INDEX, tunnel address $CLIENT_IP
 traffic     ping $TD_INSIDE_IP (inside host) every $PING_MS ms through the tunnel

 $(printf '%-18s %-8s %-9s %-10s %-11s %-6s %s' event active "gap" "lost" address index counters)
 $(printf '%.0s-' {1..98})
$(printf '%s\n' "${SUMMARY[@]}")

 whole run   $P_SENT pings sent, $((P_SENT - P_LOST)) answered, $P_LOST lost; longest gap $P_GAP_MS ms
 logout      openconnect exited with code $TD_RC after SIGINT (logout)
$line
EOF
