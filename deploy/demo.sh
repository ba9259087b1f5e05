#!/usr/bin/env bash
# The local demo: install and build Tandem (deploy/setup.sh), then run a small cluster in network
# namespaces: one etcd, two members (m1 = nodes a and b, m2 = nodes c and d: four tandemd, each
# pair active/standby under the etcd arbiter) and one tandem-director. The real openconnect
# client logs in through the director, lands on one member, and pings a host on the inside
# network every 50 ms through the tunnel. Every node also has a second tunnel group, "company",
# on RADIUS (a FreeRADIUS on the inside host, which also takes the nodes' accounting), beside
# the default group on the users file. The demo shows what an operator sees:
#
#   1. where the director sent the client (its redirect log line), the session on that member
#      (`tandemctl show sessions`) and the member's two nodes (`tandemctl status`);
#   2. a second client logging in to the RADIUS group through the director: its session
#      (`tandemctl show sessions --detail`: auth method radius, the RADIUS Class, the
#      Acct-Session-Id), and FreeRADIUS's Access-Request and accounting Start; it stays
#      connected through the drills and is checked (same address, same session) at the end;
#   3. a planned failover drill (`tandemctl failover`) inside that member while traffic flows;
#   4. a crash failover (kill -9 of the member's active tandemd) while traffic flows;
#   5. the killed node restarting and rejoining as the standby (replication lag 0);
#   6. that the director was not involved: the client's resumes went straight to its member
#      (the director logged no request after the login, and the client never dialled it again);
#
# and after each failover: which node is active, the gap (longest silence between ping replies,
# and pings lost), that the client kept its address and session index, and that the session's
# counters went on. A summary table comes last.
#
# Everything runs on built-in defaults except what a cluster has to set (addresses, the peer
# link's mutual TLS, the shared client-facing certificate, etcd's address, each member's id and
# m2's own address pool, per-node paths so that the demo writes nothing outside its temp dir,
# and the RADIUS server with its group). All traffic stays inside namespaces this script creates; a trap stops every process it
# started and deletes the namespaces, also on failure or Ctrl-C. Run as root on Debian 12:
#   bash deploy/demo.sh
#
# Environment: TANDEM_BUILD_DIR (default <repo>/build), TANDEM_SKIP_BUILD=1 (packages only, use
# the binaries already in TANDEM_BUILD_DIR), TD_KEEP=1 keeps the logs in /tmp, TD_DEADLINE
# (seconds, default 420) bounds the run. TD_DEMO_MEMBER=m1|m2 makes the director place the client
# on that member (for trying both): the other member's standby is stopped during the login, so
# that member is degraded and not eligible, then started again.
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

section "1/8 install the dependencies and build (deploy/setup.sh)"
bash "$repo/deploy/setup.sh"

# The e2e harness brings the namespaces, the pairs, etcd, the director, openconnect, bounded
# waits and the cleanup trap. Its watchdog ends the demo (cleanly) if it ever runs over
# TD_DEADLINE seconds.
TD_DEADLINE=${TD_DEADLINE:-420}
case ${TD_DEMO_MEMBER:-} in '' | m1 | m2) ;; *)
  echo "TD_DEMO_MEMBER must be m1 or m2, not '$TD_DEMO_MEMBER'" >&2
  exit 2
  ;;
esac
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$repo/tests/e2e/lib.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_pair.sh
source "$repo/tests/e2e/lib_pair.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_cluster.sh
source "$repo/tests/e2e/lib_cluster.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_members.sh
source "$repo/tests/e2e/lib_members.sh"
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_radius.sh
source "$repo/tests/e2e/lib_radius.sh"
# Only the detail file's readers (detail_records, wait_detail, ...) of this one: the server is
# lib_radius.sh's, which writes its accounting records to RADIUS_DETAIL.
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib_radius_acct.sh
source "$repo/tests/e2e/lib_radius_acct.sh"
RADIUS_CLIENTS=10.201.0.0/24 # the inside network: any node asks, from its own or the member's address
RADIUS_DETAIL=$RADIUS_DIR/detail
TD_RADIUS_DETAIL=$RADIUS_DETAIL
RADIUS_GROUP=company

# The default port (443) rather than the tests' 4443, on the members and on the director.
TD_PORT=443
TD_DIRECTOR_PORT[1]=443
PING_MS=50

# ---------------------------------------------------------------------------------------------
# Helpers. The drills run on the client's member: its nodes are N1 and N2 (a, b or c, d).

say() { printf '  %s\n' "$*"; }

# A command as the operator types it on node N, then its output, indented.
on_node() { # NODE tandemctl-args...
  local n=$1
  shift
  printf '\n  %snode-%s# tandemctl %s%s\n' "$bold" "$n" "$*" "$plain"
  nctl "$n" "$@" | sed 's/^/    /'
}

# `tandemctl status` of the member's two nodes, side by side.
status_both() {
  local s1 s2 w
  s1=$(nctl "$N1" status 2>&1 || true)
  s2=$(nctl "$N2" status 2>&1 || true)
  w=$(awk '{ if (length($0) > w) w = length($0) } END { print w + 3 }' <<<"$s1")
  printf '\n  %s%-*s%s%s\n' "$bold" $((w + 2)) "node-$N1# tandemctl status" \
    "node-$N2# tandemctl status" "$plain"
  paste -d '\t' <(printf '%s\n' "$s1") <(printf '%s\n' "$s2") |
    awk -F'\t' -v w="$w" '{ printf "    %-*s%s\n", w, $1, $2 }'
}

# The member/arbiter fields of `tandemctl status --json` on both nodes, whatever this build
# reports (nothing is assumed about their names).
cluster_fields() {
  local n f
  for n in "$N1" "$N2"; do
    f=$(node_status "$n" | jq -c 'with_entries(select(.key | test("^(member|arbiter|lease|etcd|key|drain|capacity)")))' 2>/dev/null || true)
    if [[ -n $f && $f != '{}' ]]; then
      say "node-$n status --json, member/arbiter fields: $f"
    else
      say "node-$n status --json: no member/arbiter fields in this build"
    fi
  done
  say "etcd: /tandem/member/$M/active = $(key_holder "$M"); the record the directors read:"
  say "  $(member_record "$M")"
}

# A user's session on node N (the drills follow user demo's; the RADIUS client is alice).
user_session_json() { # NODE USER
  nctl "$1" show sessions --json | jq -c --arg u "$2" '[.sessions[] | select(.username == $u)][0] // empty'
}
session_json() { user_session_json "$1" demo; }
td_has_user_session() { [[ -n $(user_session_json "$1" "$2") ]]; }
td_has_session() { [[ -n $(session_json "$1") ]]; }
resumed_count() { count_in "$(node_log "$1")" "session_resumed index=$2 "; }
td_resumed_more() { (($(resumed_count "$1" "$2") > $3)); }
role_of() { if td_alive "${TD_NODE_PID[$1]:-0}"; then node_field "$1" role; else echo "down"; fi; }

# The director's lines about a client request (a redirect or a refusal), and the client's
# connections to the director.
DIRECTOR_LOG=
director_requests() { count_in "$DIRECTOR_LOG" '^[^ ]+ [a-z]+ (redirect|refused|bad_request|connection_refused) '; }
# TLS connections the client made to a host (the login's and every reconnect's).
client_dials() { count_in "$(client_log c1)" "Connected to HTTPS on ${1//./\\.} with"; }
client_director_dials() { client_dials "$TD_ETCD_IP"; }
member_degraded() { [[ $(member_record "$1" | jq -r '.degraded // false') == true ]]; }
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

# timeline FROM_MS TO_MS: what the member's two nodes logged about roles, the etcd key, the
# service address and the session in the window, in time order, as milliseconds after FROM_MS.
timeline() {
  local from=$1 to=$2 n
  local events='failover_requested|role_change|standing_by|service_address_released'
  events+='|service_address_taken|clients_tickled|session_resumed|tunnel_up|tunnel_down'
  events+='|standby_connected|standby_disconnected|arbiter_key_won|arbiter_key_released'
  events+='|arbiter_key_lost|arbiter_campaign_lost'
  for n in "$N1" "$N2"; do
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
summary_row() { # EVENT ACTIVE GAP LOST ADDRESS INDEX DIRECTOR COUNTERS
  SUMMARY+=("$(printf ' %-18s %-8s %-9s %-10s %-11s %-6s %-9s %s' "$@")")
}

# The default the pair runs on, read from the source so the demo never states a stale number.
default_ms() { # NAME in base/defaults.hpp
  sed -n "s/.*$1 = std::chrono::milliseconds(\([0-9]*\)).*/\1/p" "$repo/base/defaults.hpp" |
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

  printf '\n  %swhat node-%s and node-%s logged (ms after %s):%s\n' "$bold" "$N1" "$N2" "$action" \
    "$plain"
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
  # The resume went to the member, not through the director: no request line in the director's
  # log since the login, and the client dialled only the member's service address.
  local dreq ddial mdial
  dreq=$(director_requests)
  ddial=$(client_director_dials)
  mdial=$(client_dials "${TD_MEMBER_SVC[$M]}")
  assert_eq "$D_REQ_LOGIN" "$dreq" "director request lines after the $kind failover"
  assert_eq "$D_DIAL_LOGIN" "$ddial" "the client's connections to the director after the $kind failover"
  say "director        not involved: still $dreq request line(s) in its log, as after the logins"
  say "                the client's TLS connections: $mdial to ${TD_MEMBER_SVC[$M]} ($M), $ddial to the director (the login)"
  summary_row "$kind" "node-$new" "$P_GAP_MS ms" "$P_LOST/$P_SENT" "kept" "kept" "+0 req" \
    "pkts rx $rx0->$rx1, tx $tx0->$tx1"
}


# ---------------------------------------------------------------------------------------------

section "2/8 the cluster in network namespaces"
cat <<EOF
                                                +-- node-a ns  ${TD_NODE_IP[a]}, ${TD_NODE_INSIDE_IP[a]}  tandemd  \\ member m1
  client ns  $TD_CLIENT_ADDR --+                      +-- node-b ns  ${TD_NODE_IP[b]}, ${TD_NODE_INSIDE_IP[b]}  tandemd  /
  (openconnect)           +-- switch ns ------+-- node-c ns  ${TD_NODE_IP[c]}, ${TD_NODE_INSIDE_IP[c]}  tandemd  \\ member m2
  inside ns  $TD_INSIDE_IP --+   (two bridges)    +-- node-d ns  ${TD_NODE_IP[d]}, ${TD_NODE_INSIDE_IP[d]}  tandemd  /
  (ping target, FreeRADIUS)                     +-- etcd ns    $TD_ETCD_IP  etcd :2379, tandem-director :$TD_PORT

  m1 serves clients on $TD_SERVER_IP (pool $TD_POOL, inside address $TD_INSIDE_GW),
  m2 on $TD_M2_SVC (pool $TD_M2_POOL, inside address $TD_M2_GW); only a member's active node
  holds its addresses. Replication inside each member: gRPC over mutual TLS, port $TD_PEER_PORT.
  etcd decides which node of a member may be active and carries each member's record; the
  director reads the records and sends each new client to a member. FreeRADIUS on the inside
  host ($TD_INSIDE_IP, ports 1812 and 1813) checks the passwords of the "$RADIUS_GROUP" group and
  takes every node's accounting records.
EOF
setup_members_topology
step "certificates with deploy/examples/gen-pki.sh:"
say "a CA and one certificate per node for the peer links (mutual TLS), and one client-facing"
say "certificate that every node and the director present (one pin for the cluster)"
pki_args=()
for n in a b c d; do pki_args+=(--node "node-$n=${TD_NODE_IP[$n]}"); done
pki=$(bash "$repo/deploy/examples/gen-pki.sh" --out "$TD_PKI" --ca-dir "$TD_DIR/ca" "${pki_args[@]}" \
  --service-ip "$TD_SERVER_IP" --service-ip "$TD_M2_SVC" --service-ip "$TD_ETCD_IP") ||
  fail "gen-pki.sh: $pki"
TD_PIN=$(grep -o 'pin-sha256:[A-Za-z0-9+/=]*' <<<"$pki")
say "client pin: $TD_PIN"
password=$(openssl rand -base64 12)
add_user demo "$password"
step "user 'demo' added with tandemctl passwd (users file $TD_USERS, read by every node)"
write_radius_config
write_radius_secret
start_freeradius
step "FreeRADIUS config: $RADIUS_DIR (clients $RADIUS_CLIENTS; user alice, Class \"staff\"," \
  "in $RADIUS_DIR/users); accounting records to $RADIUS_DETAIL"

# Each node's config holds only what a cluster must set; everything else (m1's pool
# 10.77.0.0/24, full tunnel, policy timers, poll_interval, hold_time, lease_ttl, capacity,
# priority, the member's URL (its service address), log level) is a built-in default.
write_demo_config() { # NODE
  local n=$1 other m pool=
  other=$(other_node "$n")
  m=$(member_of_node "$n")
  if [[ $m == m2 ]]; then
    pool=$(printf '\n%s\n%s\n' "# m2's own pool: the inside network routes each member's pool to that member." \
      "[pool]"$'\n'"ipv4 = \"$TD_M2_POOL\"")
  fi
  mkdir -p "$TD_DIR/state-$n"
  TD_NODE_CONFIG[$n]=$TD_DIR/node-$n.toml # lib_pair.sh's start_node reads it
  cat >"${TD_NODE_CONFIG[$n]}" <<EOF
[node]
# Per node: its name, and files apart (all nodes run on this one machine, and the demo
# writes nothing outside its temp dir).
id = "node-$n"
admin_socket = "$TD_DIR/admin-$n.sock"
state_dir = "$TD_DIR/state-$n"
# Clients connect to the member's service address (default port). It, and the inside address
# the inside network routes the pool to, move to whichever node of the member is active.
listen = "$(node_svc "$n"):$TD_PORT"
service_address = "$(node_svc "$n")/24"
service_interface = "${TD_IFP}${n}o"
inside_address = "$(node_gw "$n")/24"
inside_interface = "${TD_IFP}${n}i"

# One client-facing certificate for the cluster (clients pin it).
[tls]
certificate = "$TD_PKI/vpn.pem"
private_key = "$TD_PKI/vpn.key"

[auth]
users_file = "$TD_USERS"
$pool
# The replication link to the other node of the member, mutual TLS.
[peer]
node_id = "node-$other"
listen = "${TD_NODE_IP[$n]}:$TD_PEER_PORT"
address = "${TD_NODE_IP[$other]}:$TD_PEER_PORT"
ca = "$TD_PKI/ca.pem"
certificate = "$TD_PKI/node-$n.pem"
private_key = "$TD_PKI/node-$n.key"

# etcd: which node of the member may be active (the member's key), and the member's record.
[arbiter]
endpoints = ["$TD_ETCD_URL"]

[member]
id = "$m"

# RADIUS: the second tunnel group checks passwords there, and every session (of both groups)
# is accounted there (port 1813), with an Interim-Update every 5 s.
[radius]
servers = ["$RADIUS_IP"]
secret_file = "$RADIUS_SECRET_FILE"
timeout = "1s"
interim_interval = "5s"

# The default group stays on the users file; clients pick this one with --authgroup.
[tunnel_group.$RADIUS_GROUP]
auth = "radius"
EOF
}
for n in a b c d; do write_demo_config "$n"; done
hold_ms=$(default_ms kHoldTime)
poll_ms=$(default_ms kPollInterval)
ttl_ms=$(default_ms kLeaseTtl)
step "node-a's config ($TD_DIR/node-a.toml; node-b's mirrors it):"
sed 's/^/    /' "${TD_NODE_CONFIG[a]}"
say "node-c and node-d (member m2) differ in their addresses, [member] id = \"m2\", and"
say "[pool] ipv4 = \"$TD_M2_POOL\". Everything else is a built-in default: full tunnel, policy"
say "timers, peer poll_interval ${poll_ms:-?} ms and hold_time ${hold_ms:-?} ms, equal priorities,"
say "etcd lease_ttl ${ttl_ms:-?} ms, member capacity $(sed -n 's/.*kMemberCapacity = \([0-9]*\).*/\1/p' "$repo/base/defaults.hpp")."

start_etcd
for n in a b c d; do start_node "$n"; done
wait_pair_up a b
wait_pair_up c d
for m in m1 m2; do
  wait_for 20 "member $m's record published in etcd, not degraded" member_open "$m"
  step "member $m: node $(member_active "$m") active ($(key_holder "$m") holds the key in etcd)"
done
start_director 1
DIRECTOR_LOG=$TD_DIR/director-1.log
step "the director's config ($TD_DIR/director-1.toml):"
sed 's/^/    /' "$TD_DIR/director-1.toml"

section "3/8 a client logs in through the director and pings the inside host every $PING_MS ms"
if [[ -n ${TD_DEMO_MEMBER:-} ]]; then
  # Only for trying both members: the other member, without its standby, is degraded, and the
  # director places no new client on a degraded member while another one is healthy.
  other_m=$([[ $TD_DEMO_MEMBER == m1 ]] && echo m2 || echo m1)
  paused=$(other_node "$(member_active "$other_m")")
  step "TD_DEMO_MEMBER=$TD_DEMO_MEMBER: node $paused ($other_m's standby) stopped during the login"
  kill -TERM "${TD_NODE_PID[$paused]}"
  wait_for 10 "node $paused to exit" td_not_alive "${TD_NODE_PID[$paused]}"
  wait "${TD_NODE_PID[$paused]}" || true
  wait_for 15 "member $other_m's record degraded" member_degraded "$other_m"
fi
TD_URL=$(director_url 1)
req0=$(director_requests)
# The login form offers both groups now; openconnect picks one by name (--authgroup).
start_client c1 demo "$password" --authgroup=default
wait_tunnel c1
CLIENT_IP=$(client_ip c1)
assert_eq $((req0 + 1)) "$(director_requests)" "request lines in the director's log after the login"
redirect=$(grep -E '^[^ ]+ [a-z]+ redirect ' "$DIRECTOR_LOG" | tail -n1)
M=$(field member "$redirect")
[[ -n ${TD_MEMBER_NODES[$M]:-} ]] || fail "the director named an unknown member: $redirect"
[[ -z ${TD_DEMO_MEMBER:-} || $M == "$TD_DEMO_MEMBER" ]] ||
  fail "TD_DEMO_MEMBER=$TD_DEMO_MEMBER but the director chose $M"
assert_contains "$(client_log c1)" "Connected to ${TD_MEMBER_SVC[$M]}:$TD_PORT\$" \
  "openconnect went on to $M's service address"
read -r N1 N2 <<<"${TD_MEMBER_NODES[$M]}"
OM=$([[ $M == m1 ]] && echo m2 || echo m1)
ACT=$(member_active "$M")
STB=$(other_node "$ACT")
wait_for 10 "the session on node $ACT" td_has_session "$ACT"
INDEX=$(session_json "$ACT" | jq -r .index)
assert_eq "$CLIENT_IP" "$(session_json "$ACT" | jq -r .assigned_ip)" "the session's address on node $ACT"
assert_eq 0 "$(node_field "$(member_active "$OM")" sessions)" "sessions on $OM"
if [[ -n ${TD_DEMO_MEMBER:-} ]]; then
  step "TD_DEMO_MEMBER: node $paused started again"
  start_node "$paused"
  wait_for 30 "node $paused following and caught up" td_caught_up "$paused"
  wait_for 15 "member $other_m's record open again" member_open "$other_m"
fi
D_REQ_LOGIN=$(director_requests)
D_DIAL_LOGIN=$(client_director_dials)
dtls=no
poll_until 10 grep -q 'Established DTLS connection' "$(client_log c1)" && dtls=yes
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" "0.$(printf '%03d' "$PING_MS")"
T_START=$(td_now_ms)
sleep 2
printf '\n  %sthe director (%s) logged:%s\n' "$bold" "$DIRECTOR_LOG" "$plain"
say "  $redirect"
say "openconnect followed the redirect to ${TD_MEMBER_SVC[$M]}:$TD_PORT: member $M (nodes $N1, $N2);"
say "$OM (nodes ${TD_MEMBER_NODES[$OM]// /, }) has no session. The drills below run on $M."
on_node "$ACT" show sessions
status_both
printf '\n  %sthe member in etcd%s\n' "$bold" "$plain"
cluster_fields
summary_row "login via director" "node-$ACT" "-" "-" "$CLIENT_IP" "$INDEX" "1 redir." "-"

section "4/8 a second client logs in to the RADIUS group \"$RADIUS_GROUP\" through the director"
# alice is FreeRADIUS's user (lib_radius.sh's users file: a password, Class "staff"), not the
# users file's; her openconnect picks the group in the login form (--authgroup) at the member
# the director sends it to. Her own client namespace keeps the two tunnels' routes apart.
dreq0=$(director_requests)
areq0=$(access_requests)
start_client --ns "$TD_NS_CLIENT2" r alice 'alice-radius-pw' --authgroup="$RADIUS_GROUP"
wait_tunnel r
R_IP=$(client_ip r)
assert_eq $((dreq0 + 1)) "$(director_requests)" "request lines in the director's log after alice's login"
r_redirect=$(grep -E '^[^ ]+ [a-z]+ redirect ' "$DIRECTOR_LOG" | tail -n1)
RM=$(field member "$r_redirect")
[[ -n ${TD_MEMBER_NODES[$RM]:-} ]] || fail "the director named an unknown member: $r_redirect"
R_ACT=$(member_active "$RM")
wait_for 10 "alice's session on node $R_ACT" td_has_user_session "$R_ACT" alice
rs=$(user_session_json "$R_ACT" alice)
R_INDEX=$(jq -r .index <<<"$rs")
R_ACCT=$(jq -r .acct_session_id <<<"$rs")
assert_eq radius "$(jq -r .auth_method <<<"$rs")" "alice's auth method"
assert_eq staff "$(jq -r .radius_class <<<"$rs")" "alice's RADIUS Class"
assert_eq "$RADIUS_GROUP" "$(jq -r .tunnel_group <<<"$rs")" "alice's tunnel group"
assert_eq "$R_IP" "$(jq -r .assigned_ip <<<"$rs")" "alice's address on node $R_ACT"
assert_match "$R_ACCT" '^[0-9A-F]{16}$' "alice's Acct-Session-Id"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
assert_eq $((areq0 + 1)) "$(access_requests)" "Access-Requests FreeRADIUS received for alice"
wait_detail 10 "$R_ACCT" Start
D_REQ_LOGIN=$(director_requests) # the director's last request: alice's login
printf '\n  %sthe director logged:%s\n' "$bold" "$plain"
say "  $r_redirect"
if [[ $RM == "$M" ]]; then
  say "alice landed on $M too, beside user demo: she stays connected through the drills below."
else
  say "alice landed on $RM (nodes ${TD_MEMBER_NODES[$RM]// /, }), not on $M: the drills below do not touch her."
fi
say "her tunnel address $R_IP; 2 pings from her namespace to $TD_INSIDE_IP answered through the tunnel"
# The session's part of the detail view (the per-tunnel blocks after it are left out here).
printf '\n  %snode-%s# tandemctl show sessions --detail --index %s%s\n' "$bold" "$R_ACT" "$R_INDEX" \
  "$plain"
nctl "$R_ACT" show sessions --detail --index "$R_INDEX" | sed -n '/^Username/,/^Acct Session/p' |
  sed 's/^/    /'
say "  (then one block per tunnel: AnyConnect-Parent, SSL-Tunnel, DTLS-Tunnel)"
printf '\n  %sFreeRADIUS (%s) received:%s\n' "$bold" "$RADIUS_LOG" "$plain"
grep -E 'Received Access-Request|Sent Access-Accept' "$RADIUS_LOG" | tail -n2 | sed 's/^/    /'
printf '\n  %sand wrote this accounting Start to its detail file (%s):%s\n' "$bold" "$RADIUS_DETAIL" \
  "$plain"
detail_records "$R_ACCT" Start | sed -e '/^$/d' -e 's/^[[:space:]]*/    /'
staff_hex=0x$(printf staff | od -An -tx1 | tr -d ' \n')
assert_eq "$staff_hex" "$(detail_values "$R_ACCT" Start Class)" "the Class in alice's accounting Start"
say "(FreeRADIUS prints the Class as octets: $staff_hex is \"staff\", echoed from the Access-Accept)"
summary_row "RADIUS login" "node-$R_ACT" "-" "-" "$R_IP" "$R_INDEX" "1 redir." \
  "alice, group $RADIUS_GROUP on $RM, Class staff"

section "5/8 planned failover drill: tandemctl failover on node-$ACT ($M)"
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
ACT=$(member_active "$M")
STB=$(other_node "$ACT")

section "6/8 crash failover: kill -9 the active tandemd (node-$ACT) while the client pings"
wait_for 15 "node $STB caught up" td_caught_up "$STB"
before=$(session_json "$ACT")
sleep 1.2 # counters reach the standby about once a second
n0=$(resumed_count "$STB" "$INDEX")
t0=$(td_now_ms)
printf '\n  %snode-%s# kill -9 %s%s   (tandemd)\n' "$bold" "$ACT" "${TD_NODE_PID[$ACT]}" "$plain"
kill -KILL "${TD_NODE_PID[$ACT]}"
{ wait "${TD_NODE_PID[$ACT]}"; } 2>/dev/null || true # reaped here: no "Killed" message
wait_for 20 "node $STB active" td_is_active "$STB"
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
  "\"$(field reason "$promoted" || echo '?')\"; etcd key now held by $(key_holder "$M")"
say "                (the dead node's lease in etcd lasts lease_ttl, ${ttl_ms:-?} ms; hold_time," \
  "${hold_ms:-?} ms, is for a peer that goes silent)"
say "dead node       service address still on node-$ACT: $vip_left (tandemd-keeper removed it);" \
  "nft table tandem_syn_guard: $guard"
KILLED=$ACT
ACT=$STB
STB=$KILLED

section "7/8 restart node-$KILLED: it rejoins $M as the standby and catches up"
start_node "$KILLED"
wait_for 30 "node $KILLED following node $ACT" td_following "$KILLED"
wait_for 15 "node $KILLED caught up (lag 0)" td_caught_up "$KILLED"
td_has_vip "$KILLED" && fail "the restarted node holds the service address"
assert_eq standby "$(node_field "$KILLED" role)" "role of the restarted node"
lag=$(node_field "$KILLED" replication_lag_seq)
sessions_b=$(node_field "$KILLED" sessions)
wait_for 15 "member $M's record open again" member_open "$M"
status_both
printf '\n  %sthe member in etcd%s\n' "$bold" "$plain"
cluster_fields
printf '\n  %sresult%s\n' "$bold" "$plain"
say "$(printf '%-15s' "node-$KILLED")" "standby, following node-$ACT, replication lag $lag records," \
  "$sessions_b session(s) in its table, no service address"
summary_row "restart node-$KILLED" "node-$ACT" "-" "-" "-" "-" "-" \
  "node-$KILLED standby, lag $lag, $sessions_b session(s) replicated"

section "8/8 the director was not involved in the resumes"
stop_ping_stream p
phase_stats "$T_START" "$(td_now_ms)"
td_alive "$(client_pid c1)" || fail "openconnect exited"
D_REQ_END=$(director_requests)
D_DIAL_END=$(client_director_dials)
M_DIAL_END=$(client_dials "${TD_MEMBER_SVC[$M]}")
RESUMES=$(jq -r .resumes <<<"$(session_json "$ACT")")
assert_eq "$D_REQ_LOGIN" "$D_REQ_END" "director request lines after the drills"
assert_eq "$D_DIAL_LOGIN" "$D_DIAL_END" "the client's connections to the director after the drills"
say "director log   $D_REQ_LOGIN request line(s) after the two logins, $D_REQ_END after the drills"
say "               (redirect, refused, bad_request, connection_refused lines)"
say "client log     TLS connections to the director $TD_ETCD_IP: $D_DIAL_END (the login);"
say "               to $M's service address ${TD_MEMBER_SVC[$M]}: $M_DIAL_END (the login's, and each resume)"
say "session        $INDEX on node-$ACT, resumed $RESUMES time(s) with its token at the member"
stop_client c1 INT

printf '\n  %sthe RADIUS client (alice, on %s)%s\n' "$bold" "$RM" "$plain"
# After a crash failover her openconnect reconnects on its own; give it the time to.
wait_for 30 "alice's tunnel up" td_client_up r
R_NOW=$(member_active "$RM")
wait_for 10 "alice's session on node $R_NOW" td_has_user_session "$R_NOW" alice
rs=$(user_session_json "$R_NOW" alice)
assert_eq "$R_IP" "$(client_ip r)" "alice's tunnel address after the drills"
assert_eq "$R_IP" "$(jq -r .assigned_ip <<<"$rs")" "alice's address on node $R_NOW"
assert_eq "$R_INDEX" "$(jq -r .index <<<"$rs")" "alice's session index on node $R_NOW"
assert_eq "$R_ACCT" "$(jq -r .acct_session_id <<<"$rs")" "alice's Acct-Session-Id on node $R_NOW"
assert_eq radius "$(jq -r .auth_method <<<"$rs")" "alice's auth method on node $R_NOW"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2
R_RESUMES=$(jq -r .resumes <<<"$rs")
assert_eq $((areq0 + 1)) "$(access_requests)" "Access-Requests after the drills (a resume asks none)"
assert_eq 1 "$(detail_count "$R_ACCT" Start)" "accounting Starts of alice's session"
R_INTERIMS=$(detail_count "$R_ACCT" Interim-Update)
((R_INTERIMS >= 1)) || fail "no Interim-Update of alice's session reached FreeRADIUS"
if [[ $RM == "$M" ]]; then
  ((R_RESUMES >= 2)) || fail "alice's session on $M resumed $R_RESUMES time(s), not after both failovers"
  R_WHERE="on $M through both failovers: resumed $R_RESUMES time(s), now on node-$R_NOW"
else
  R_WHERE="on $RM, untouched by the drills on $M (node-$R_NOW active)"
fi
say "session         $R_INDEX, $R_WHERE"
say "address         $R_IP on her tun and on node-$R_NOW: kept; 2 pings answered"
say "FreeRADIUS      still $((areq0 + 1)) Access-Request(s): no new login; accounting for Acct-Session-Id"
say "                $R_ACCT: 1 Start, $R_INTERIMS Interim-Update(s) (every 5 s) so far"
stop_client r INT
wait_detail 10 "$R_ACCT" Stop
R_CAUSE=$(detail_values "$R_ACCT" Stop Acct-Terminate-Cause)
say "logout          openconnect exited with code $TD_RC; the accounting Stop: Acct-Terminate-Cause = $R_CAUSE"
summary_row "RADIUS client end" "node-$R_NOW" "-" "-" "kept" "kept" "+0 req" \
  "$R_RESUMES resume(s), 1 Access-Req., acct 1 Start $R_INTERIMS Interim 1 Stop"
version=$(openconnect --version 2>/dev/null | sed -n '1s/^OpenConnect version //p')

line=$(printf '%.0s=' {1..108})
cat <<EOF

$line
 ${bold}Tandem demo summary$plain
 cluster     etcd $TD_ETCD_IP:2379; director https://$TD_ETCD_IP/ ($TD_DIR/director-1.log)
             m1: node-a ${TD_NODE_IP[a]}, node-b ${TD_NODE_IP[b]}, service address $TD_SERVER_IP:$TD_PORT
             m2: node-c ${TD_NODE_IP[c]}, node-d ${TD_NODE_IP[d]}, service address $TD_M2_SVC:$TD_PORT
             built-in defaults: poll_interval ${poll_ms:-?} ms, hold_time ${hold_ms:-?} ms, lease_ttl ${ttl_ms:-?} ms
 client      openconnect ${version:-?}, user demo (group default), DTLS $dtls; session $INDEX, tunnel address $CLIENT_IP
 client 2    alice (group $RADIUS_GROUP, FreeRADIUS $RADIUS_IP:1812/1813 on the inside host), on $RM,
             session $R_INDEX, $R_IP, Class staff, Acct-Session-Id $R_ACCT
 landed on   $M (nodes $N1, $N2): director "redirect member=$(field member "$redirect") location=$(field location "$redirect")";
             node-$N1/node-$N2 \`tandemctl show sessions\`: session $INDEX, user demo, $CLIENT_IP
 traffic     ping $TD_INSIDE_IP (inside host) every $PING_MS ms through the tunnel

 $(printf '%-18s %-8s %-9s %-10s %-11s %-6s %-9s %s' event active "gap" "lost" address index director counters)
 $(printf '%.0s-' {1..106})
$(printf '%s\n' "${SUMMARY[@]}")

 whole run   $P_SENT pings sent, $((P_SENT - P_LOST)) answered, $P_LOST lost; longest gap $P_GAP_MS ms
 director    $D_REQ_LOGIN request(s) in its log after the logins, $D_REQ_END after the drills: the resumes
             went straight to $M (client TLS connections: director $D_DIAL_END, $M $M_DIAL_END)
 logout      openconnect exited with code $TD_RC after SIGINT (logout)
$line
EOF
