#!/usr/bin/env bash
# The planned failover drill with the client in TLS-only mode (--no-dtls).
exec bash "$(dirname "$0")/test_failover_planned.sh" tls
