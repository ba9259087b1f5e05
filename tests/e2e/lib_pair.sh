# shellcheck shell=bash disable=SC2034
# An active/standby pair for the failover tests; source after lib.sh.
#
#   client ns 10.200.0.2 --+                       +-- node A ns: 10.200.0.11 (+ VIP 10.200.0.1)
#                          +-- switch ns: br "swout" +-- node B ns: 10.200.0.12 (+ VIP when active)
#   inside ns 10.201.0.2 --+-- switch ns: br "swin"  +-- node A: 10.201.0.11 / node B: 10.201.0.12
#                                                      (+ inside VIP 10.201.0.1 when active)
#
# Clients connect to the service address 10.200.0.1 (the lib's TD_URL); the inside host routes
# the pool via the inside service address 10.201.0.1. Replication runs between .11 and .12.

TD_NS_SWITCH=$TD_ID-sw
TD_NS_NODE_A=$TD_ID-a
TD_NS_NODE_B=$TD_ID-b
declare -A TD_NODE_NS=([a]=$TD_NS_NODE_A [b]=$TD_NS_NODE_B)
declare -A TD_NODE_IP=([a]=10.200.0.11 [b]=10.200.0.12)
declare -A TD_NODE_INSIDE_IP=([a]=10.201.0.11 [b]=10.201.0.12)
declare -A TD_NODE_PID=() TD_NODE_CONFIG=() TD_PRIORITY=()
declare -A TD_NODE_ENV=() # NODE -> extra environment for its tandemd ("K=V K2=V2", no spaces in values)
# More than one pair (lib_members.sh): a node's member addresses, pool and peer node. Unset for a
# node means the one pair's: TD_SERVER_IP, TD_INSIDE_GW, TD_POOL, and a <-> b.
declare -A TD_NODE_SVC=() TD_NODE_GW=() TD_NODE_POOL=() TD_NODE_PEER=()
node_svc() { echo "${TD_NODE_SVC[$1]:-$TD_SERVER_IP}"; }
node_gw() { echo "${TD_NODE_GW[$1]:-$TD_INSIDE_GW}"; }
node_pool() { echo "${TD_NODE_POOL[$1]:-$TD_POOL}"; }
TD_PEER_PORT=7443
TD_PKI=$TD_DIR/pki

# Veth NAME in NS (address ADDR) with its peer on bridge BR in the switch namespace.
td_pair_link() {
  local ns=$1 name=$2 addr=$3 br=$4
  ip -n "$ns" link add "$name" type veth peer name "${name}s" netns "$TD_NS_SWITCH"
  ip -n "$TD_NS_SWITCH" link set "${name}s" master "$br" up
  ip -n "$ns" addr add "$addr" dev "$name"
  ip -n "$ns" link set "$name" up
}

setup_pair_topology() {
  step "pair topology: client, switch, nodes a and b, inside host"
  td_netns_add "$TD_NS_SWITCH"
  td_netns_add "$TD_NS_CLIENT"
  td_netns_add "$TD_NS_INSIDE"
  td_netns_add "$TD_NS_NODE_A"
  td_netns_add "$TD_NS_NODE_B"
  TD_NS_HEADEND=$TD_NS_NODE_A # lib helpers that name "the headend" use node a
  local br n
  for br in swout swin; do
    ip -n "$TD_NS_SWITCH" link add "$br" type bridge
    ip -n "$TD_NS_SWITCH" link set "$br" up
  done
  td_pair_link "$TD_NS_CLIENT" "${TD_IFP}c" "$TD_CLIENT_ADDR/24" swout
  td_pair_link "$TD_NS_INSIDE" "${TD_IFP}i" "$TD_INSIDE_IP/24" swin
  for n in a b; do
    td_pair_link "${TD_NODE_NS[$n]}" "${TD_IFP}${n}o" "${TD_NODE_IP[$n]}/24" swout
    td_pair_link "${TD_NODE_NS[$n]}" "${TD_IFP}${n}i" "${TD_NODE_INSIDE_IP[$n]}/24" swin
    ip netns exec "${TD_NODE_NS[$n]}" sysctl -qw net.ipv4.ip_forward=1
  done
  ip -n "$TD_NS_INSIDE" route add "$TD_POOL" via "$TD_INSIDE_GW"
}

# enable_pair_ipv6 (after setup_pair_topology, before write_node_config): IPv6 in the client,
# the nodes and the inside host; the nodes forward it; the inside host has fd00:201::2 and
# routes the IPv6 pool via the member's IPv6 inside address fd00:201::1 (inside_address6, held
# by the active node only); the pool gets an IPv6 network with the inside network as its route.
enable_pair_ipv6() {
  local n
  td_ipv6_on "$TD_NS_CLIENT" "$TD_NS_INSIDE" "$TD_NS_NODE_A" "$TD_NS_NODE_B"
  for n in a b; do
    ip netns exec "${TD_NODE_NS[$n]}" sysctl -qw net.ipv6.conf.all.forwarding=1
  done
  # nodad: usable at once (duplicate address detection would hold it for a second).
  ip -n "$TD_NS_INSIDE" -6 addr add "$TD_INSIDE6_IP/64" dev "${TD_IFP}i" nodad
  ip -n "$TD_NS_INSIDE" -6 route add "$TD_POOL6" via "$TD_INSIDE6_GW"
  TD_POOL_EXTRA="ipv6 = \"$TD_POOL6\"
routes6 = [\"$TD_INSIDE6_NET\"]"
  TD_NODE_EXTRA="inside_address6 = \"$TD_INSIDE6_GW/64\""
}
# td_has_inside6 NODE: the node's kernel holds the member's IPv6 inside address.
td_has_inside6() {
  [[ $(ip -n "${TD_NODE_NS[$1]}" -6 -o addr show dev "${TD_IFP}${1}i" 2>/dev/null) == \
    *" $TD_INSIDE6_GW/64 "* ]]
}
# td_inside_mac NODE: the MAC address of the node's inside interface.
td_inside_mac() { ip -n "${TD_NODE_NS[$1]}" -j link show dev "${TD_IFP}${1}i" | jq -r '.[0].address'; }
# td_inside_host_neigh6: the MAC the inside host has for the IPv6 inside address ("" for none).
td_inside_host_neigh6() {
  ip -n "$TD_NS_INSIDE" -6 -j neigh show "$TD_INSIDE6_GW" dev "${TD_IFP}i" |
    jq -r '.[0].lladdr // empty'
}

# A second client namespace on the outside switch (10.200.0.3), so two openconnect clients'
# tunnel routes never overlap.
TD_PAIR_CLIENT2_ADDR=10.200.0.3
add_pair_client2_ns() {
  td_netns_add "$TD_NS_CLIENT2"
  td_pair_link "$TD_NS_CLIENT2" "${TD_IFP}d" "$TD_PAIR_CLIENT2_ADDR/24" swout
}

# A CA, one certificate per node for the replication link (mutual TLS), and the client-facing
# certificate both nodes present (clients pin one key for the member; its subjectAltName is
# TD_VPN_SAN, default the service address). A node certificate for every node in TD_NODE_NS.
# TD_PKI_BACKDATE (a
# faketime offset such as -1d) issues them as if then, for tests that move a node's clock back.
make_pair_pki() {
  mkdir -p "$TD_PKI"
  local n
  if [[ -n ${TD_PKI_BACKDATE:-} ]]; then
    command -v faketime >/dev/null || fail "faketime is needed (apt-get install faketime)"
    openssl() { faketime -f "$TD_PKI_BACKDATE" openssl "$@"; }
  fi
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$TD_PKI/ca.key" -out "$TD_PKI/ca.pem" -subj "/CN=tandem test CA" 2>/dev/null
  for n in "${!TD_NODE_NS[@]}"; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$TD_PKI/node-$n.key" -out "$TD_PKI/node-$n.csr" -subj "/CN=node-$n" 2>/dev/null
    printf 'subjectAltName=IP:%s\n' "${TD_NODE_IP[$n]}" >"$TD_PKI/node-$n.ext"
    openssl x509 -req -in "$TD_PKI/node-$n.csr" -CA "$TD_PKI/ca.pem" -CAkey "$TD_PKI/ca.key" \
      -CAcreateserial -days 2 -extfile "$TD_PKI/node-$n.ext" -out "$TD_PKI/node-$n.pem" 2>/dev/null
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$TD_PKI/vpn.key" -out "$TD_PKI/vpn.pem" -subj "/CN=vpn.test" \
    -addext "subjectAltName=${TD_VPN_SAN:-IP:$TD_SERVER_IP}" 2>/dev/null
  TD_PIN=pin-sha256:$(openssl x509 -in "$TD_PKI/vpn.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
  [[ -z ${TD_PKI_BACKDATE:-} ]] || unset -f openssl
}

# write_node_config NODE [EXTRA TOML...]
write_node_config() {
  local n=$1 other
  other=$(other_node "$n")
  mkdir -p "$TD_DIR/state-$n"
  TD_NODE_CONFIG[$n]=$TD_DIR/node-$n.toml
  cat >"${TD_NODE_CONFIG[$n]}" <<EOF
[node]
id = "node-$n"
listen = "$(node_svc "$n"):$TD_PORT"
admin_socket = "$TD_DIR/admin-$n.sock"
state_dir = "$TD_DIR/state-$n"
tun_name = "tandem0"
service_address = "$(node_svc "$n")/24"
service_interface = "${TD_IFP}${n}o"
inside_address = "$(node_gw "$n")/24"
inside_interface = "${TD_IFP}${n}i"
${TD_NODE_EXTRA:-}

[tls]
certificate = "$TD_PKI/vpn.pem"
private_key = "$TD_PKI/vpn.key"

[auth]
users_file = "$TD_USERS"

[pool]
ipv4 = "$(node_pool "$n")"
routes = ["10.201.0.0/24"]
$TD_POOL_EXTRA

[peer]
node_id = "node-$other"
listen = "${TD_NODE_IP[$n]}:$TD_PEER_PORT"
address = "${TD_NODE_IP[$other]}:$TD_PEER_PORT"
ca = "$TD_PKI/ca.pem"
certificate = "$TD_PKI/node-$n.pem"
private_key = "$TD_PKI/node-$n.key"
priority = ${TD_PRIORITY[$n]:-100}
poll_interval = "${TD_POLL:-200ms}"
hold_time = "${TD_HOLD:-2s}"
${2:-}
EOF
}

node_log() { echo "$TD_DIR/node-$1.log"; }

start_node() {
  local n=$1
  local env_args=()
  read -r -a env_args <<<"${TD_NODE_ENV[$n]:-}"
  step "start node $n (${TD_NODE_NS[$n]})${env_args[*]:+ with ${env_args[*]}}"
  ip netns exec "${TD_NODE_NS[$n]}" env "${env_args[@]}" "$TD_TANDEMD" \
    --config "${TD_NODE_CONFIG[$n]}" >>"$(node_log "$n")" 2>&1 &
  TD_NODE_PID[$n]=$!
  td_track "${TD_NODE_PID[$n]}"
  step "node $n: pid ${TD_NODE_PID[$n]}"
}

nctl() { # NODE tandemctl-args...
  local n=$1
  shift
  ip netns exec "${TD_NODE_NS[$n]}" "$TD_TANDEMCTL" --socket "$TD_DIR/admin-$n.sock" "$@"
}
node_status() { nctl "$1" status --json 2>/dev/null; }
node_field() { node_status "$1" | jq -r ".$2 | if . == null then empty else . end"; }
td_is_active() { [[ $(node_field "$1" role) == active ]]; }
td_has_vip() { ip -n "${TD_NODE_NS[$1]}" -4 addr show | grep -q " $(node_svc "$1")/"; }
td_following() { [[ $(node_field "$1" peer_state) == following ]]; }
td_caught_up() { [[ $(node_field "$1" replication_lag_seq) == 0 ]] && td_following "$1"; }
other_node() {
  if [[ -n ${TD_NODE_PEER[$1]:-} ]]; then echo "${TD_NODE_PEER[$1]}"
  elif [[ $1 == a ]]; then echo b; else echo a; fi
}

# active_node [NODE NODE]: the active node of the pair (default a and b); fails when none or both
# say so.
active_node() {
  local n found= nodes=(a b)
  if (($# == 2)); then nodes=("$1" "$2"); fi
  for n in "${nodes[@]}"; do
    if td_alive "${TD_NODE_PID[$n]:-0}" && td_is_active "$n"; then
      [[ -z $found ]] || fail "both nodes say they are active"
      found=$n
    fi
  done
  [[ -n $found ]] || fail "no node is active"
  echo "$found"
}

# Start both nodes and wait until one is active with the address and the other follows it.
start_pair() {
  start_node a
  start_node b
  wait_pair_up a b
}
wait_pair_up() { # NODE NODE
  local n1=${1:-a} n2=${2:-b} act stb
  wait_for 20 "an active node" td_pair_has_active "$n1" "$n2"
  act=$(active_node "$n1" "$n2")
  stb=$(other_node "$act")
  wait_for 20 "node $act holding the service address" td_has_vip "$act"
  wait_for 20 "node $stb following node $act" td_following "$stb"
  step "pair up: node $act active, node $stb standby"
}
td_pair_has_active() { td_is_active "${1:-a}" || td_is_active "${2:-b}"; }

# Longest silence between consecutive ping replies (ms), from `ping -D` output in FILE.
longest_reply_gap_ms() {
  awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (prev && t - prev > max) max = t - prev; prev = t }
    END { printf "%d\n", max }' "$1"
}

# The common start of the failover tests: a pair, user alice, and client c1 connected through it
# (MODE dtls or tls). Sets TD_ACT, TD_STB (the nodes), TD_IP1 (the client's address) and
# TD_INDEX (its session index on the active).
pair_with_client() {
  setup_pair_topology
  pair_with_client_on_topology "$@"
}
pair_with_client_on_topology() { # MODE [EXTRA_CONFIG]
  local mode=${1:-dtls} extra=()
  make_pair_pki
  add_user alice secret-a
  write_node_config a "${2:-}"
  write_node_config b "${2:-}"
  start_pair
  TD_ACT=$(active_node)
  TD_STB=$(other_node "$TD_ACT")
  [[ $mode == tls ]] && extra+=(--no-dtls)
  # legacy: what Cisco Secure Client offers (docs/dtls-modes.md): no PSK-NEGOTIATE.
  [[ $mode == legacy ]] && extra+=(--dtls12-ciphers=AES256-GCM-SHA384)
  start_client c1 alice secret-a "${extra[@]}"
  wait_tunnel c1
  TD_IP1=$(client_ip c1)
  TD_INDEX=$(session_field "$TD_ACT" index)
  step "client up: $TD_IP1, session index $TD_INDEX on node $TD_ACT"
}

# session_field NODE FIELD: a field of the first session in the node's table.
session_field() { nctl "$1" show sessions --json | jq -r ".sessions[0].$2"; }

# wait_resumed NODE: the test's session resumed on NODE (logged session_resumed).
td_resumed_on() { grep -q "session_resumed index=$TD_INDEX " "$(node_log "$1")"; }
wait_resumed() { wait_for "${2:-20}" "the session resumed on node $1" td_resumed_on "$1"; }

# ---------------------------------------------------------------------------------------------
# Failover outcome (issue 9 item 4): what must hold after every failover, planned or not.
#
#   failover_begin OLD [PING_ID]          right before the event (tandemctl failover, kill, ...)
#   <the event>
#   assert_failover_outcome OLD NEW IP INDEX BOUND_MS
#
# Bounds: planned handovers TD_PLANNED_GAP_MS; crashes hold_time + 1 s (td_crash_gap_bound_ms).

TD_PLANNED_GAP_MS=${TD_PLANNED_GAP_MS:-1500}
TD_FO_SEQ=0
TD_FO_EVENT_MS=0
TD_FO_PING=p    # the ping stream (start_ping_stream) the gap is measured on
TD_FO_CLIENT=c1 # the openconnect client whose tunnel address must not change ("" for none)
TD_FO_NS=       # the namespace the fresh ping is sent from (default TD_NS_CLIENT)
TD_FO_TOLD=     # the tokens the old active had handed out at the event (a copy of a tandem-load
                # --tokens-out file made right after it): a session the old active listed may
                # be gone after a crash, and its index given to a new session, only when no
                # client was told of it (its login was still in flight)

# td_duration_ms 2s|500ms: a config duration in milliseconds.
td_duration_ms() {
  case $1 in
  *ms) echo "${1%ms}" ;;
  *s) echo $((${1%s} * 1000)) ;;
  *) fail "not a duration: $1" ;;
  esac
}
td_crash_gap_bound_ms() { echo $(($(td_duration_ms "${TD_HOLD:-2s}") + 1000)); }

# td_node_addrs NODE: which of the member's addresses the node's kernel holds ("" for none):
# "service" and/or "inside". Empty too when the namespace is gone.
td_node_addrs() {
  local ns=${TD_NODE_NS[$1]} out held=()
  [[ -e /run/netns/$ns ]] || return 0
  out=$(ip -n "$ns" -4 -o addr show 2>/dev/null) || true
  [[ $out == *" $(node_svc "$1")/"* ]] && held+=(service)
  [[ $out == *" $(node_gw "$1")/"* ]] && held+=(inside)
  echo "${held[*]}"
}
td_has_vips() { [[ $(td_node_addrs "$1") == "service inside" ]]; }
td_holds_none() { [[ -z $(td_node_addrs "$1") ]]; }

# session_map NODE: "INDEX ASSIGNED_IP USER LOGIN_TIME" for every session in the node's table,
# by index. The user and login time tell a session from another one given the same index and
# address later (a lost session's index and address handed out again).
session_map() {
  local out
  out=$(nctl "$1" show sessions --json) || fail "tandemctl show sessions --json on node $1 failed"
  jq -r '.sessions[] | "\(.index) \(.assigned_ip) \(.username) \(.login_time_unix)"' <<<"$out" |
    sort -n
}

failover_begin() { # OLD [PING_ID]
  TD_FO_SEQ=$((TD_FO_SEQ + 1))
  TD_FO_PING=${2:-p}
  session_map "$1" >"$TD_DIR/fo$TD_FO_SEQ-before.map"
  TD_FO_EVENT_MS=$(td_now_ms)
}

# assert_failover_outcome OLD NEW IP INDEX BOUND_MS, after failover_begin and the event:
#  - NEW is active and holds the service and the inside address;
#  - a fresh ping through the tunnel is answered (sent now, not the stream's history), and the
#    client (TD_FO_CLIENT) still has IP;
#  - the gap on the ping stream, from the last reply before the event to the first after it and
#    counting any later silence up to now (ping_gap_since), is at most BOUND_MS;
#  - the other node (OLD, unless the same node is active again) holds neither address, if its
#    namespace is up (within 3 s of the check: a crashed node's keeper or a stepping-down node
#    drops them at once);
#  - every session OLD listed before the event is on NEW with the same index, address, user and
#    login time (see TD_FO_TOLD), INDEX has IP there, and no address is assigned twice; if the other node runs
#    as NEW's standby, it lists the same sessions once caught up.
assert_failover_outcome() {
  local old=$1 new=$2 ip=$3 index=$4 bound=$5 before after report bad other what t0
  ((TD_FO_EVENT_MS > 0)) || fail "assert_failover_outcome: failover_begin was not called"
  before=$TD_DIR/fo$TD_FO_SEQ-before.map
  after=$TD_DIR/fo$TD_FO_SEQ-after.map
  wait_for 15 "node $new active" td_is_active "$new"
  wait_for 10 "node $new holding $(node_svc "$new") and $(node_gw "$new")" td_has_vips "$new"
  wait_for 20 "a fresh ping through the tunnel answered after the event" \
    ping_fresh "${TD_FO_NS:-$TD_NS_CLIENT}"
  step "fresh ping through the tunnel answered $(($(td_now_ms) - TD_FO_EVENT_MS)) ms after the event"
  if [[ -n $TD_FO_CLIENT ]]; then
    assert_eq "$ip" "$(client_ip "$TD_FO_CLIENT")" "client $TD_FO_CLIENT's address after the event"
  fi

  ping_gap_since "$TD_FO_PING" "$TD_FO_EVENT_MS"
  step "GAP node $old -> node $new: ${TD_GAP_MS} ms (first reply after the event ${TD_GAP_FIRST_MS} ms after the last before it; trailing silence ${TD_GAP_TRAIL_MS} ms; ${TD_GAP_AFTER} replies since; bound ${bound} ms)"
  ((TD_GAP_MS <= bound)) ||
    fail "client gap ${TD_GAP_MS} ms across the event (silence counted until now) is over the bound ${bound} ms"

  other=$(other_node "$new")
  what="node $other ($([[ $other == "$old" ]] && echo "the old active" || echo "not the old active"))"
  if [[ -e /run/netns/${TD_NODE_NS[$other]} ]]; then
    t0=$(td_now_ms)
    poll_until 3 td_holds_none "$other" ||
      fail "$what still holds: $(td_node_addrs "$other") (of $(node_svc "$other"), $(node_gw "$other"))"
    step "$what holds neither $(node_svc "$other") nor $(node_gw "$other") ($(($(td_now_ms) - t0)) ms into the check)"
  else
    step "$what: namespace gone, no address to check"
  fi

  session_map "$new" >"$after"
  report=$(awk -v told="${TD_FO_TOLD:-}" '
    BEGIN { if (told != "") while ((getline line < told) > 0) { split(line, p, "-"); t[p[1]] = 1 } }
    { v = $2 " " $3 " login " $4 }
    FNR == NR { b[$1] = v; nb++; next }
    { a[$1] = v; na++; if (++seen[$2] == 2) printf "address %s assigned twice\n", $2 }
    END {
      for (i in b) {
        untold = told != "" && !(i in t)
        if (!(i in a)) {
          if (untold) { vanished++; continue }
          printf "session %s (%s) missing\n", i, b[i]
        } else if (a[i] != b[i]) {
          if (untold) { vanished++; reused++; continue }
          printf "session %s: %s -> %s\n", i, b[i], a[i]
        }
      }
      if (told != "") for (i in t) if (!(i in a)) printf "session %s, told to a client, missing\n", i
      printf "SUMMARY %d before, %d after, %d untold (login in flight) and gone, %d of their indexes given to new sessions\n", nb, na, vanished, reused
    }' "$before" "$after")
  bad=$(grep -v '^SUMMARY' <<<"$report" || true)
  [[ -z $bad ]] || fail "sessions changed across the failover (maps in $before, $after): $(head -n 5 <<<"$bad" | tr '\n' ';')"
  grep -q "^$index $ip " "$after" || fail "session $index with $ip is not on node $new"
  step "sessions: index -> address unchanged ($(sed -n 's/^SUMMARY //p' <<<"$report"))"

  if td_alive "${TD_NODE_PID[$other]:-0}" && ! td_is_active "$other"; then
    wait_for 15 "node $other following node $new and caught up" td_caught_up "$other"
    [[ $(session_map "$other") == "$(session_map "$new")" ]] ||
      fail "node $other (standby) lists other sessions than node $new"
    step "node $other follows node $new with the same sessions"
  fi
  TD_FO_EVENT_MS=0
}

# The service address holders over time: every 100 ms, "EPOCH_MS A B" (1 = holds 10.200.0.1)
# into $TD_DIR/vip-samples.log, until the trap stops it. Besides, each node's kernel address
# events (`ip -ts monitor address`) into $TD_DIR/vip-events-NODE.log, for exact times
# (vip_overlap_events).
start_vip_sampler() {
  local n
  for n in a b; do
    echo "$(td_now_ms) initial $([[ $(td_node_addrs "$n") == *service* ]] && echo 1 || echo 0)" \
      >"$TD_DIR/vip-initial-$n.log"
    ip -n "${TD_NODE_NS[$n]}" -ts -4 monitor address >"$TD_DIR/vip-events-$n.log" 2>/dev/null &
    td_track $!
  done
  (
    set +e
    while :; do
      t=$(td_now_ms) a=0 b=0
      [[ $(ip -n "$TD_NS_NODE_A" -4 -o addr show 2>/dev/null) == *" $TD_SERVER_IP/"* ]] && a=1
      [[ $(ip -n "$TD_NS_NODE_B" -4 -o addr show 2>/dev/null) == *" $TD_SERVER_IP/"* ]] && b=1
      echo "$t $a $b"
      sleep 0.1
    done
  ) >"$TD_DIR/vip-samples.log" 2>/dev/null &
  td_track $!
}

# vip_overlap FROM_MS [TO_MS]: over the samples in that window sets TD_OVERLAP_MS (time both
# nodes held the service address: the spans between consecutive samples both showing it),
# TD_OVERLAP_FIRST_MS / TD_OVERLAP_LAST_MS (first and last such sample, 0 if none),
# TD_OVERLAP_SAMPLES, TD_SAMPLES and TD_SAMPLE_EVERY_MS (the mean interval actually achieved:
# on a loaded machine each sample costs two `ip` runs, so it can be well over 100 ms).
vip_overlap() {
  local out
  out=$(awk -v from="$1" -v to="${2:-0}" '
    $1 < from || (to > 0 && $1 > to) { next }
    { n++
      if ($2 == 1 && $3 == 1) { k++; if (!first) first = $1; last = $1
        if (pboth) ms += $1 - pt }
      pboth = ($2 == 1 && $3 == 1); pt = $1 }
    n == 1 { t0 = $1 }
    END { printf "%d %.0f %.0f %d %d %d\n", ms, first, last, k, n, (n > 1 ? (pt - t0) / (n - 1) : 0) }' \
    "$TD_DIR/vip-samples.log")
  read -r TD_OVERLAP_MS TD_OVERLAP_FIRST_MS TD_OVERLAP_LAST_MS TD_OVERLAP_SAMPLES TD_SAMPLES \
    TD_SAMPLE_EVERY_MS <<<"$out"
}

# vip_overlap_events FROM_MS TO_MS: from the address events, TD_EV_OVERLAP_MS (time both nodes held
# the service address within the window) and TD_EV_LIST ("node +MS add|del" per event of the
# service address, MS from FROM_MS).
vip_overlap_events() {
  local from=$1 to=$2 n line ts ms kind
  {
    for n in a b; do
      read -r ms _ kind <"$TD_DIR/vip-initial-$n.log"
      echo "$ms $n $kind"
      while IFS= read -r line; do
        [[ $line == *" $TD_SERVER_IP/"* && $line =~ ^\[([^]]+)\] ]] || continue
        ts=${BASH_REMATCH[1]}
        ms=$(date -d "$ts" +%s%3N)
        [[ $line == *"] Deleted "* ]] && kind=0 || kind=1
        echo "$ms $n $kind"
      done <"$TD_DIR/vip-events-$n.log"
    done
  } | sort -n -k1,1 >"$TD_DIR/vip-events.sorted"
  read -r TD_EV_OVERLAP_MS TD_EV_LIST < <(awk -v from="$from" -v to="$to" '
    function acc(t) { if (ha && hb) { s = (pt > from ? pt : from); e = (t < to ? t : to); if (e > s) ov += e - s } pt = t }
    { t = $1; acc(t)
      if ($2 == "a") ha = $3; else hb = $3
      if ($1 >= from && $1 <= to) list = list sprintf("%s +%d %s; ", $2, $1 - from, $3 ? "add" : "del") }
    END { acc(to); printf "%d %s\n", ov, list }' "$TD_DIR/vip-events.sorted")
}
