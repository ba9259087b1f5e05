#!/usr/bin/env bash
# The lagging-standby crash failover, with the standby stopped (SIGSTOP) for longer than the
# active waits for an acknowledgement instead of slowed.
exec bash "$(dirname "$0")/manual/test_fault_standby_lag.sh" stopped
