#!/usr/bin/env bash
# Roaming, client on legacy DTLS 1.2 (Cisco's mode): see test_roam_link_flap.sh.
exec bash "$(dirname "$0")/test_roam_link_flap.sh" legacy
