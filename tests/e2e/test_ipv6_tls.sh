#!/usr/bin/env bash
# IPv6 inside the tunnel over TLS only (openconnect --no-dtls), with tandemd running as the
# [process] user after start-up.
exec bash "$(dirname "$0")/test_ipv6.sh" tls user
