# shellcheck shell=bash
# Client-certificate PKI for the client certificate tests (docs/client-certificates.md); source
# after lib.sh. make_client_pki DIR makes, with the openssl command line:
#   DIR/ca.pem          the CA client certificates must chain to ([tls] client_ca)
#   DIR/crl.pem         its CRL ([tls] client_crl), revoking bob's certificate
#   DIR/NAME.{pem,key}  alice and carol (good), bob (revoked), and mallory: CN=alice from
#                       another CA
# revoke_client_cert DIR NAME revokes one more and rewrites DIR/crl.pem.

td_client_ca_conf() { # DIR
  cat >"$1/ca.cnf" <<EOF
[ca]
default_ca = tca
[tca]
database = $1/index.txt
crlnumber = $1/crlnumber
default_md = sha256
default_crl_days = 1
EOF
  : >"$1/index.txt"
  echo 01 >"$1/crlnumber"
}

td_client_cert() { # DIR NAME CN SERIAL CA_PREFIX
  local d=$1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$d/$2.key" \
    -out "$d/$2.csr" -subj "/O=tandem test/CN=$3" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n' >"$d/client.ext"
  openssl x509 -req -in "$d/$2.csr" -CA "$d/$5.pem" -CAkey "$d/$5.key" -set_serial "$4" \
    -days 2 -extfile "$d/client.ext" -out "$d/$2.pem" 2>/dev/null
  [[ -s $d/$2.pem ]] || fail "could not issue the client certificate $2"
}

make_client_pki() { # DIR
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$d/ca.key" -out "$d/ca.pem" -subj "/CN=tandem client CA" 2>/dev/null
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$d/other-ca.key" -out "$d/other-ca.pem" -subj "/CN=some other CA" 2>/dev/null
  td_client_ca_conf "$d"
  td_client_cert "$d" alice alice 4097 ca
  td_client_cert "$d" bob bob 4098 ca
  td_client_cert "$d" carol carol 4099 ca
  td_client_cert "$d" mallory alice 4097 other-ca
  revoke_client_cert "$d" bob
}

revoke_client_cert() { # DIR NAME
  local d=$1 serial
  openssl ca -config "$d/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.pem" -revoke "$d/$2.pem" \
    >>"$d/ca.log" 2>&1 || fail "openssl ca -revoke $2 failed: $(tail -n3 "$d/ca.log")"
  openssl ca -config "$d/ca.cnf" -keyfile "$d/ca.key" -cert "$d/ca.pem" -gencrl \
    -out "$d/crl.pem.new" >>"$d/ca.log" 2>&1 || fail "openssl ca -gencrl failed"
  mv "$d/crl.pem.new" "$d/crl.pem"
  serial=$(openssl x509 -in "$d/$2.pem" -noout -serial | cut -d= -f2)
  openssl crl -in "$d/crl.pem" -noout -text | grep -q "Serial Number: $serial" ||
    fail "the CRL does not list $2's certificate (serial $serial)"
}
