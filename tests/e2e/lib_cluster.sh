# shellcheck shell=bash disable=SC2034
# A pair under an arbiter (docs/arbiter.md); source after lib.sh and lib_pair.sh.
#
#   etcd ns 10.200.0.30:2379 --+-- switch ns: br "swout" (the pair's outside network)
#
# Both nodes get [arbiter] endpoints = [that etcd] and [member] id = "m1". The cut helpers drop
# traffic with nftables inside a node's namespace: between the two nodes only (the link between
# them), or between a node and both its peer and etcd (the node isolated; clients still reach it).

TD_NS_ETCD=$TD_ID-etcd
TD_ETCD_IP=10.200.0.30
# TD_ETCD_TLS=1: etcd serves https and requires a client certificate from its own CA
# ($TD_DIR/etcd-pki); the nodes' [arbiter] and etcdctl present one.
if [[ -n ${TD_ETCD_TLS:-} ]]; then TD_ETCD_SCHEME=https; else TD_ETCD_SCHEME=http; fi
TD_ETCD_URL=$TD_ETCD_SCHEME://$TD_ETCD_IP:2379
TD_ETCD_PKI=$TD_DIR/etcd-pki
TD_TTL=${TD_TTL:-2s}
TD_ETCD_PID=

# make_etcd_pki: a CA, etcd's server certificate (for TD_ETCD_IP) and one client certificate.
make_etcd_pki() {
  local k=$TD_ETCD_PKI
  mkdir -p "$k"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$k/ca.key" -out "$k/ca.pem" -subj "/CN=tandem test etcd CA" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$k/server.key" \
    -out "$k/server.csr" -subj "/CN=etcd" 2>/dev/null
  # clientAuth too: etcd's JSON gateway (which the keeper's lease revoke uses) reaches etcd's own
  # gRPC port with this certificate as its client certificate (docs/arbiter.md).
  printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$TD_ETCD_IP" \
    >"$k/server.ext"
  openssl x509 -req -in "$k/server.csr" -CA "$k/ca.pem" -CAkey "$k/ca.key" -CAcreateserial \
    -days 2 -extfile "$k/server.ext" -out "$k/server.pem" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$k/client.key" \
    -out "$k/client.csr" -subj "/CN=tandem" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$k/client.ext"
  openssl x509 -req -in "$k/client.csr" -CA "$k/ca.pem" -CAkey "$k/ca.key" -CAcreateserial \
    -days 2 -extfile "$k/client.ext" -out "$k/client.pem" 2>/dev/null
  [[ -s $k/client.pem && -s $k/server.pem ]] || fail "could not make etcd's certificates"
}
td_etcd_tls_args() { # etcd's own TLS flags, or none
  [[ $TD_ETCD_SCHEME == https ]] || return 0
  printf '%s\n' --cert-file "$TD_ETCD_PKI/server.pem" --key-file "$TD_ETCD_PKI/server.key" \
    --client-cert-auth --trusted-ca-file "$TD_ETCD_PKI/ca.pem"
}

start_etcd() {
  if [[ -z ${TD_ETCD_NS_MADE:-} ]]; then
    td_netns_add "$TD_NS_ETCD"
    td_pair_link "$TD_NS_ETCD" "${TD_IFP}e" "$TD_ETCD_IP/24" swout
    TD_ETCD_NS_MADE=1
  fi
  step "start etcd on $TD_ETCD_URL"
  if [[ $TD_ETCD_SCHEME == https && ! -s $TD_ETCD_PKI/client.pem ]]; then make_etcd_pki; fi
  local tls_args
  mapfile -t tls_args < <(td_etcd_tls_args)
  # Started with `ip netns exec` itself (not through a function), so that $! is etcd's PID.
  ip netns exec "$TD_NS_ETCD" etcd --name td --data-dir "$TD_DIR/etcd" "${tls_args[@]}" \
    --listen-client-urls "$TD_ETCD_URL" --advertise-client-urls "$TD_ETCD_URL" \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster td=http://127.0.0.1:2380 >>"$TD_DIR/etcd.log" 2>&1 &
  TD_ETCD_PID=$!
  td_track "$TD_ETCD_PID"
  wait_for 20 "etcd answers" ectl endpoint health
}
stop_etcd() {
  step "stop etcd (kill -9, pid $TD_ETCD_PID)"
  kill -9 "$TD_ETCD_PID" 2>/dev/null || true
  wait "$TD_ETCD_PID" 2>/dev/null || true
}
ectl() {
  local tls=()
  [[ $TD_ETCD_SCHEME == http ]] || tls=(--cacert "$TD_ETCD_PKI/ca.pem"
    --cert "$TD_ETCD_PKI/client.pem" --key "$TD_ETCD_PKI/client.key")
  ip netns exec "$TD_NS_ETCD" env ETCDCTL_API=3 etcdctl --endpoints="$TD_ETCD_URL" "${tls[@]}" \
    --command-timeout=3s "$@"
}
# key_holder [MEMBER]: the node id holding the member's (default m1) active key, or nothing.
key_holder() { ectl get --print-value-only "/tandem/member/${1:-m1}/active" 2>/dev/null || true; }

# arbiter_config [MEMBER [SERVICE_IP [CAPACITY]]]: defaults m1, TD_SERVER_IP, 100.
arbiter_config() {
  cat <<EOT
[arbiter]
endpoints = ["$TD_ETCD_URL"]
lease_ttl = "$TD_TTL"
$(arbiter_tls_keys)

[member]
id = "${1:-m1}"
url = "https://${2:-$TD_SERVER_IP}:$TD_PORT/"
capacity = ${3:-100}
EOT
}

arbiter_tls_keys() {
  [[ $TD_ETCD_SCHEME == https ]] || return 0
  printf 'ca = "%s"\ncertificate = "%s"\nprivate_key = "%s"\n' "$TD_ETCD_PKI/ca.pem" \
    "$TD_ETCD_PKI/client.pem" "$TD_ETCD_PKI/client.key"
}

# A pair with the arbiter, user alice and client c1 (as pair_with_client).
arbitrated_pair_with_client() {
  setup_pair_topology
  start_etcd
  pair_with_client_on_topology "${1:-dtls}" "$(arbiter_config)"
  wait_for 10 "node $TD_ACT holds the member's key" td_holds_key "$TD_ACT"
}
td_holds_key() { [[ $(key_holder) == "node-$1" ]]; }

# cut_between_nodes: node a drops everything to and from node b (both networks).
cut_between_nodes() {
  step "CUT: traffic between node a and node b dropped (both still reach clients and etcd)"
  td_nft_drop a "${TD_NODE_IP[b]}" "${TD_NODE_INSIDE_IP[b]}"
}
# isolate_node N: N drops everything to and from its peer and etcd.
isolate_node() {
  local n=$1 o
  o=$(other_node "$n")
  step "ISOLATE: node $n cut from node $o and from etcd (clients still reach it)"
  td_nft_drop "$n" "${TD_NODE_IP[$o]}" "${TD_NODE_INSIDE_IP[$o]}" "$TD_ETCD_IP"
}
td_nft_drop() {
  local n=$1 set
  shift
  set=$(IFS=,; echo "$*")
  ip netns exec "${TD_NODE_NS[$n]}" nft -f - <<EOT
table inet td_cut {
  chain in { type filter hook input priority -10; ip saddr { $set } drop; }
  chain out { type filter hook output priority -10; ip daddr { $set } drop; }
}
EOT
}
heal() {
  local n
  step "HEAL: the cuts removed"
  for n in a b; do ip netns exec "${TD_NODE_NS[$n]}" nft delete table inet td_cut 2>/dev/null || true; done
}

# assert_keeper_revoked LOG: the dead node's keeper revoked its etcd lease once the daemon was
# gone (docs/arbiter.md, "A process crash"), so the key did not wait for the lease's TTL.
assert_keeper_revoked() {
  wait_for 5 "the keeper's lease revoke in $1" grep -q ' keeper_lease_revoked ' "$1"
  step "keeper: $(grep ' keeper_lease_revoked ' "$1" | tail -n1)"
}
