#!/usr/bin/env bash
# The crash failover drill: client mode and kind of crash = tls process.
exec bash "$(dirname "$0")/test_failover_crash.sh" tls process
