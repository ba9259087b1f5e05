# shellcheck shell=bash disable=SC2034
# A cluster of two members under one etcd, with directors; source after lib.sh, lib_pair.sh and
# lib_cluster.sh. Member m1 is lib_pair.sh's pair (nodes a, b); m2 adds nodes c, d on the same
# switches with its own service address, inside address and pool:
#
#   member  nodes (outside / inside)          service address  inside address  pool
#   m1      a .11 / .11, b .12 / .12          10.200.0.1       10.201.0.1      10.77.0.0/24
#   m2      c .13 / .13, d .14 / .14          10.200.0.21      10.201.0.21     10.78.0.0/24
#
# etcd and the directors run in the etcd namespace (10.200.0.30; directors on ports 5443, 5444).
# Client namespaces on the outside switch: 10.200.0.2, .3 (lib_pair.sh) and .4 (client3), one
# per long-running tunnel so their tunnel routes never overlap. The inside host routes each pool
# via its member's inside address.

TD_NS_NODE_C=$TD_ID-c
TD_NS_NODE_D=$TD_ID-d
TD_M2_SVC=10.200.0.21
TD_M2_GW=10.201.0.21
TD_M2_POOL=10.78.0.0/24
TD_NODE_NS+=([c]=$TD_NS_NODE_C [d]=$TD_NS_NODE_D)
TD_NODE_IP+=([c]=10.200.0.13 [d]=10.200.0.14)
TD_NODE_INSIDE_IP+=([c]=10.201.0.13 [d]=10.201.0.14)
TD_NODE_SVC+=([c]=$TD_M2_SVC [d]=$TD_M2_SVC)
TD_NODE_GW+=([c]=$TD_M2_GW [d]=$TD_M2_GW)
TD_NODE_POOL+=([c]=$TD_M2_POOL [d]=$TD_M2_POOL)
TD_NODE_PEER+=([c]=d [d]=c)
declare -A TD_MEMBER_NODES=([m1]="a b" [m2]="c d")
declare -A TD_MEMBER_SVC=([m1]=$TD_SERVER_IP [m2]=$TD_M2_SVC)
TD_NS_CLIENT3=$TD_ID-cli3
TD_CLIENT3_ADDR=10.200.0.4
TD_DIRECTOR=$TANDEM_BUILD_DIR/director/tandem-director
declare -A TD_DIRECTOR_PID=() TD_DIRECTOR_PORT=([1]=5443 [2]=5444)
# The client-facing certificate is the members' and the directors' (one pin for the cluster).
TD_VPN_SAN="IP:$TD_SERVER_IP,IP:$TD_M2_SVC,IP:$TD_ETCD_IP"

setup_members_topology() {
  setup_pair_topology
  step "second member: nodes c and d; client namespaces 2 and 3"
  local n
  for n in c d; do
    td_netns_add "${TD_NODE_NS[$n]}"
    td_pair_link "${TD_NODE_NS[$n]}" "${TD_IFP}${n}o" "${TD_NODE_IP[$n]}/24" swout
    td_pair_link "${TD_NODE_NS[$n]}" "${TD_IFP}${n}i" "${TD_NODE_INSIDE_IP[$n]}/24" swin
    ip netns exec "${TD_NODE_NS[$n]}" sysctl -qw net.ipv4.ip_forward=1
  done
  ip -n "$TD_NS_INSIDE" route add "$TD_M2_POOL" via "$TD_M2_GW"
  add_pair_client2_ns
  td_netns_add "$TD_NS_CLIENT3"
  td_pair_link "$TD_NS_CLIENT3" "${TD_IFP}g" "$TD_CLIENT3_ADDR/24" swout
}

member_of_node() { if [[ $1 == [ab] ]]; then echo m1; else echo m2; fi; }
# member_active M: the active node of member M (fails when none or both).
member_active() {
  local nodes
  read -r -a nodes <<<"${TD_MEMBER_NODES[$1]}"
  active_node "${nodes[@]}"
}

# member_record_field M JQ: a field of M's record in etcd (proto3 JSON leaves out zero values).
member_record() { ectl get --print-value-only "/tandem/member/$1/record" 2>/dev/null || true; }
member_sessions_published() { member_record "$1" | jq -r '(.sessions // "0") | tonumber'; }
member_open() { # M: a record that says neither degraded nor draining
  [[ $(member_record "$1" | jq -r '(.degraded // false) or (.draining // false)') == false ]]
}

# start_members CAPACITY [EXTRA_TOML]: both pairs with the arbiter (and EXTRA_TOML in every node's
# config), each member's key held and its record open.
start_members() {
  local cap=$1 extra=${2:-} m n nodes
  for m in m1 m2; do
    for n in ${TD_MEMBER_NODES[$m]}; do
      write_node_config "$n" "$(arbiter_config "$m" "${TD_MEMBER_SVC[$m]}" "$cap")"$'\n'"$extra"
    done
  done
  # Both pairs start together: the second pair's start-up overlaps the first's.
  for n in a b c d; do start_node "$n"; done
  wait_pair_up a b
  wait_pair_up c d
  for m in m1 m2; do
    wait_for 15 "member $m's record published, not degraded" member_open "$m"
    step "member $m: active node $(member_active "$m") ($(key_holder "$m") holds the key)"
  done
}

# start_director N: tandem-director N in the etcd namespace on TD_DIRECTOR_PORT[N], with the
# members' certificate; log $TD_DIR/director-N.log (appended to across restarts).
start_director() {
  local id=$1 config=$TD_DIR/director-$1.toml log=$TD_DIR/director-$1.log from
  [[ -x $TD_DIRECTOR ]] || fail "tandem-director not built: $TD_DIRECTOR"
  cat >"$config" <<EOF
[director]
listen = "$TD_ETCD_IP:${TD_DIRECTOR_PORT[$id]}"

[tls]
certificate = "$TD_PKI/vpn.pem"
private_key = "$TD_PKI/vpn.key"

[arbiter]
endpoints = ["$TD_ETCD_URL"]
EOF
  touch "$log"
  from=$(($(wc -l <"$log") + 1))
  step "start director $id on $(director_url "$id")"
  ip netns exec "$TD_NS_ETCD" "$TD_DIRECTOR" --config "$config" >>"$log" 2>&1 &
  TD_DIRECTOR_PID[$id]=$!
  td_track "${TD_DIRECTOR_PID[$id]}"
  wait_for 20 "director $id synced with etcd" td_director_synced "$log" "$from"
}
td_director_synced() { tail -n "+$2" "$1" | grep -q ' etcd_synced '; }
director_url() { echo "https://$TD_ETCD_IP:${TD_DIRECTOR_PORT[$1]}/"; }

stop_director() { # N: SIGTERM, a clean exit
  local pid=${TD_DIRECTOR_PID[$1]} rc=0
  step "stop director $1 (SIGTERM, pid $pid)"
  kill -TERM "$pid"
  wait_for 10 "director $1 to exit" td_not_alive "$pid"
  wait "$pid" || rc=$?
  assert_eq 0 "$rc" "director $1 exit code after SIGTERM"
}

# director_redirects N: the director's redirect lines so far.
director_redirects() { count_in "$TD_DIR/director-$1.log" ' redirect '; }
