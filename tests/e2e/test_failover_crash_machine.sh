#!/usr/bin/env bash
# The crash failover drill: client mode and kind of crash = dtls machine.
exec bash "$(dirname "$0")/test_failover_crash.sh" dtls machine
