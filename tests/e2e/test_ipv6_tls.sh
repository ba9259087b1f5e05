#!/usr/bin/env bash
# IPv6 inside the tunnel over TLS only (openconnect --no-dtls).
exec bash "$(dirname "$0")/test_ipv6.sh" tls
