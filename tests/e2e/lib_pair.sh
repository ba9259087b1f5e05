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

# A CA, one certificate per node for the replication link (mutual TLS), and the client-facing
# certificate both nodes present (clients pin one key for the member).
make_pair_pki() {
  mkdir -p "$TD_PKI"
  local n
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$TD_PKI/ca.key" -out "$TD_PKI/ca.pem" -subj "/CN=tandem test CA" 2>/dev/null
  for n in a b; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$TD_PKI/node-$n.key" -out "$TD_PKI/node-$n.csr" -subj "/CN=node-$n" 2>/dev/null
    printf 'subjectAltName=IP:%s\n' "${TD_NODE_IP[$n]}" >"$TD_PKI/node-$n.ext"
    openssl x509 -req -in "$TD_PKI/node-$n.csr" -CA "$TD_PKI/ca.pem" -CAkey "$TD_PKI/ca.key" \
      -CAcreateserial -days 2 -extfile "$TD_PKI/node-$n.ext" -out "$TD_PKI/node-$n.pem" 2>/dev/null
  done
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$TD_PKI/vpn.key" -out "$TD_PKI/vpn.pem" -subj "/CN=vpn.test" \
    -addext "subjectAltName=IP:$TD_SERVER_IP" 2>/dev/null
  TD_PIN=pin-sha256:$(openssl x509 -in "$TD_PKI/vpn.pem" -pubkey -noout |
    openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
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
listen = "$TD_SERVER_IP:$TD_PORT"
admin_socket = "$TD_DIR/admin-$n.sock"
state_dir = "$TD_DIR/state-$n"
tun_name = "tandem0"
service_address = "$TD_SERVER_IP/24"
service_interface = "${TD_IFP}${n}o"
inside_address = "$TD_INSIDE_GW/24"
inside_interface = "${TD_IFP}${n}i"

[tls]
certificate = "$TD_PKI/vpn.pem"
private_key = "$TD_PKI/vpn.key"

[auth]
users_file = "$TD_USERS"

[pool]
ipv4 = "$TD_POOL"
routes = ["10.201.0.0/24"]

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
  step "start node $n (${TD_NODE_NS[$n]})"
  ip netns exec "${TD_NODE_NS[$n]}" "$TD_TANDEMD" --config "${TD_NODE_CONFIG[$n]}" \
    >>"$(node_log "$n")" 2>&1 &
  TD_NODE_PID[$n]=$!
  td_track "${TD_NODE_PID[$n]}"
}

nctl() { # NODE tandemctl-args...
  local n=$1
  shift
  ip netns exec "${TD_NODE_NS[$n]}" "$TD_TANDEMCTL" --socket "$TD_DIR/admin-$n.sock" "$@"
}
node_status() { nctl "$1" status --json 2>/dev/null; }
node_field() { node_status "$1" | jq -r ".$2 | if . == null then empty else . end"; }
td_is_active() { [[ $(node_field "$1" role) == active ]]; }
td_has_vip() { ip -n "${TD_NODE_NS[$1]}" -4 addr show | grep -q " $TD_SERVER_IP/"; }
td_following() { [[ $(node_field "$1" peer_state) == following ]]; }
td_caught_up() { [[ $(node_field "$1" replication_lag_seq) == 0 ]] && td_following "$1"; }
other_node() { if [[ $1 == a ]]; then echo b; else echo a; fi; }

# The active node (a or b); fails when none or both say so.
active_node() {
  local n found=
  for n in a b; do
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
  wait_for 20 "an active node" td_pair_has_active
  local act stb
  act=$(active_node)
  stb=$(other_node "$act")
  wait_for 20 "node $act holding the service address" td_has_vip "$act"
  wait_for 20 "node $stb following node $act" td_following "$stb"
  step "pair up: node $act active, node $stb standby"
}
td_pair_has_active() { td_is_active a || td_is_active b; }

# Longest silence between consecutive ping replies (ms), from `ping -D` output in FILE.
longest_reply_gap_ms() {
  awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (prev && t - prev > max) max = t - prev; prev = t }
    END { printf "%d\n", max }' "$1"
}

# The common start of the failover tests: a pair, user alice, and client c1 connected through it
# (MODE dtls or tls). Sets TD_ACT, TD_STB (the nodes), TD_IP1 (the client's address) and
# TD_INDEX (its session index on the active).
pair_with_client() {
  local mode=${1:-dtls} extra=()
  setup_pair_topology
  make_pair_pki
  add_user alice secret-a
  write_node_config a "${2:-}"
  write_node_config b "${2:-}"
  start_pair
  TD_ACT=$(active_node)
  TD_STB=$(other_node "$TD_ACT")
  [[ $mode == tls ]] && extra+=(--no-dtls)
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
