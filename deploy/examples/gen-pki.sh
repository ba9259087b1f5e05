#!/usr/bin/env bash
# Certificates for a Tandem pair (EC P-256, made with openssl):
#
#   ca.pem (ca.key)       a private CA for the replication link only (its key in --ca-dir). Both nodes trust it
#                         ([peer] ca) and present a certificate it signed (mutual TLS).
#   NAME.pem, NAME.key    one per node (--node NAME=IP): the node's replication certificate,
#                         for TLS server and client use. Its subjectAltName is IP:IP, the
#                         address the *other* node dials ([peer] address), which the TLS
#                         client checks.
#   vpn.pem, vpn.key      the client-facing certificate ([tls]), the same on both nodes so that
#   vpn.csr               clients see one identity for the member. Self-signed here, with the
#                         service name and/or address as subjectAltName; its pin-sha256 is
#                         printed for `openconnect --servercert`. To use a public CA instead,
#                         have it sign vpn.csr (same key, so the pin does not change) and
#                         replace vpn.pem.
#
# The CA's key never goes to --out (the directory copied to the nodes): it lives in --ca-dir
# (default ./tandem-ca, created 0700), on the machine where certificates are made; --out gets only
# the CA certificate (ca.pem), which is all a node needs at run time. A --ca-dir inside --out is
# refused. Existing files are kept (run it again to add a node: the CA is reused); --force makes
# new node and client-facing keys and certificates (the pin changes), never a new CA.
#
# Example (the pair of tandemd-a.toml and tandemd-b.toml):
#   bash gen-pki.sh --out /etc/tandem/pki --node node-a=10.10.0.11 --node node-b=10.10.0.12 \
#     --service vpn.example.com --service-ip 192.0.2.10
# then copy the directory to the other node (its key files stay 0600, owned by root).
set -euo pipefail

out=/etc/tandem/pki
ca_dir=./tandem-ca
days_ca=3650
days=825
force=0
nodes=()
service_names=()
service_ips=()

usage() {
  cat <<EOF
usage: $0 --node NAME=IP [--node NAME=IP ...] (--service DNS | --service-ip IP)...
          [--out DIR] [--days N] [--force]
  --node NAME=IP    a node's replication certificate NAME.pem, for IP (its [peer] listen address)
  --service DNS     a DNS name clients use for the member (subjectAltName of vpn.pem)
  --service-ip IP   the member's service address (subjectAltName of vpn.pem)
  --out DIR         where the node files go (default $out)
  --ca-dir DIR      where the CA's key is kept, never on a node (default $ca_dir)
  --days N          validity of node and client-facing certificates (default $days; CA $days_ca)
  --force           new keys and certificates for the nodes and clients (never a new CA)
EOF
}

die() {
  printf 'gen-pki: %s\n' "$*" >&2
  exit 1
}

is_ipv4() {
  local re='^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$' i
  [[ $1 =~ $re ]] || return 1
  for i in 1 2 3 4; do ((BASH_REMATCH[i] <= 255)) || return 1; done
}

while (($#)); do
  case $1 in
    --node)
      [[ ${2:-} =~ ^([A-Za-z0-9_.-]{1,64})=(.+)$ ]] || die "--node expects NAME=IP, got '${2:-}'"
      is_ipv4 "${2#*=}" || die "--node ${2%%=*}: '${2#*=}' is not an IPv4 address"
      nodes+=("$2")
      shift 2
      ;;
    --service)
      [[ ${2:-} =~ ^[A-Za-z0-9.-]{1,253}$ ]] || die "--service expects a DNS name, got '${2:-}'"
      service_names+=("$2")
      shift 2
      ;;
    --service-ip)
      is_ipv4 "${2:-}" || die "--service-ip expects an IPv4 address, got '${2:-}'"
      service_ips+=("$2")
      shift 2
      ;;
    --out)
      [[ -n ${2:-} ]] || die "--out needs a directory"
      out=$2
      shift 2
      ;;
    --ca-dir)
      [[ -n ${2:-} ]] || die "--ca-dir needs a directory"
      ca_dir=$2
      shift 2
      ;;
    --days)
      [[ ${2:-} =~ ^[1-9][0-9]{0,4}$ ]] || die "--days expects a number of days, got '${2:-}'"
      days=$2
      shift 2
      ;;
    --force)
      force=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      die "unknown argument '$1'"
      ;;
  esac
done
((${#nodes[@]} > 0)) || {
  usage >&2
  die "name at least one --node"
}
((${#service_names[@]} + ${#service_ips[@]} > 0)) || {
  usage >&2
  die "name the service with --service and/or --service-ip"
}
command -v openssl >/dev/null || die "openssl is needed (apt-get install openssl)"

umask 077
mkdir -p "$out" "$ca_dir"
chmod 0755 "$out"
chmod 0700 "$ca_dir"
out_real=$(cd "$out" && pwd -P)
ca_real=$(cd "$ca_dir" && pwd -P)
if [[ $ca_real/ == "$out_real"/* ]]; then
  die "--ca-dir $ca_dir is inside --out $out: the CA key must never be copied to a node"
fi
if [[ -e $out/ca.key ]]; then
  die "$out/ca.key exists: move it into --ca-dir ($ca_dir), off the nodes"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

quiet() { "$@" >/dev/null 2>"$work/openssl.err" || die "$* failed: $(cat "$work/openssl.err")"; }

new_key() { quiet openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

pin_of() {
  printf 'pin-sha256:%s\n' "$(openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | base64)"
}

# keep FILE: true when FILE exists and is to be kept.
keep() { [[ -e $1 ]] && ((force == 0)); }

# The CA: key and certificate in --ca-dir, the certificate alone copied to --out.
if [[ -e $ca_dir/ca.pem && -e $ca_dir/ca.key ]]; then
  echo "CA         $ca_dir/ca.pem (kept; signing with it)"
elif [[ -e $ca_dir/ca.pem || -e $out/ca.pem ]]; then
  die "a CA certificate exists without its key in $ca_dir: cannot sign with it (restore ca.key there, or remove ca.pem)"
else
  new_key "$ca_dir/ca.key"
  quiet openssl req -x509 -new -key "$ca_dir/ca.key" -sha256 -days "$days_ca" \
    -subj "/CN=Tandem replication CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out "$ca_dir/ca.pem"
  echo "CA         $ca_dir/ca.pem (new; its key stays in $ca_dir, never on a node)"
fi
cp "$ca_dir/ca.pem" "$out/ca.pem"
chmod 0644 "$out/ca.pem"

# One replication certificate per node.
for spec in "${nodes[@]}"; do
  name=${spec%%=*}
  ip=${spec#*=}
  if keep "$out/$name.pem"; then
    echo "node       $out/$name.pem (kept; --force replaces it)"
    continue
  fi
  new_key "$out/$name.key"
  quiet openssl req -new -key "$out/$name.key" -subj "/CN=$name" -out "$work/$name.csr"
  cat >"$work/$name.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:$ip
EOF
  quiet openssl x509 -req -in "$work/$name.csr" -CA "$ca_dir/ca.pem" -CAkey "$ca_dir/ca.key" \
    -CAcreateserial -CAserial "$work/ca.srl" -sha256 -days "$days" -extfile "$work/$name.ext" \
    -out "$out/$name.pem"
  chmod 0644 "$out/$name.pem"
  quiet openssl verify -CAfile "$out/ca.pem" "$out/$name.pem"
  echo "node       $out/$name.pem (IP:$ip), key $out/$name.key"
done

# The client-facing certificate, shared by both nodes.
san=()
for n in "${service_names[@]}"; do san+=("DNS:$n"); done
for i in "${service_ips[@]}"; do san+=("IP:$i"); done
san_text=$(IFS=,; echo "${san[*]}")
cn=${service_names[0]:-${service_ips[0]}}
if keep "$out/vpn.pem"; then
  echo "client     $out/vpn.pem (kept; --force replaces it)"
else
  [[ -e $out/vpn.key && $force == 0 ]] || new_key "$out/vpn.key"
  quiet openssl req -new -key "$out/vpn.key" -subj "/CN=$cn" -addext "subjectAltName=$san_text" \
    -out "$out/vpn.csr"
  quiet openssl req -x509 -new -key "$out/vpn.key" -sha256 -days "$days" -subj "/CN=$cn" \
    -addext "subjectAltName=$san_text" -addext "extendedKeyUsage=serverAuth" -out "$out/vpn.pem"
  chmod 0644 "$out/vpn.pem" "$out/vpn.csr"
  echo "client     $out/vpn.pem ($san_text), key $out/vpn.key, request $out/vpn.csr"
fi
echo "clients    openconnect --protocol=anyconnect --servercert $(pin_of "$out/vpn.pem") https://$cn/"
