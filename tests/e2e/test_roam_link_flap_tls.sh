#!/usr/bin/env bash
# Roaming, TLS-only client (--no-dtls): see test_roam_link_flap.sh.
exec bash "$(dirname "$0")/test_roam_link_flap.sh" tls
