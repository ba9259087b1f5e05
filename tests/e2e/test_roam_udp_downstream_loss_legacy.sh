#!/usr/bin/env bash
# Downstream UDP loss with the client on legacy DTLS 1.2: see test_roam_udp_downstream_loss.sh.
exec bash "$(dirname "$0")/test_roam_udp_downstream_loss.sh" down legacy
