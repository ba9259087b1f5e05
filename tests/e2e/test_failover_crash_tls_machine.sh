#!/usr/bin/env bash
# The crash failover drill: client mode and kind of crash = tls machine.
exec bash "$(dirname "$0")/test_failover_crash.sh" tls machine
