#!/usr/bin/env bash
# The crash failover drill with the client on legacy DTLS 1.2 (Cisco Secure Client's mode).
exec bash "$(dirname "$0")/test_failover_crash.sh" legacy process
