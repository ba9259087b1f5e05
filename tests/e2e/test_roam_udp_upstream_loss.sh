#!/usr/bin/env bash
# Roaming: upstream-only UDP loss, see test_roam_udp_downstream_loss.sh.
exec bash "$(dirname "$0")/test_roam_udp_downstream_loss.sh" up
