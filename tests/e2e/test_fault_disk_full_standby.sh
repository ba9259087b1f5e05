#!/usr/bin/env bash
# The full-disk drill on the standby: the active goes on serving, degraded; the standby says why.
exec bash "$(dirname "$0")/test_fault_disk_full.sh" standby
