#!/usr/bin/env bash
# Scenario 2: a bulk TCP transfer (12 MiB each way) between the client and the inside host
# through the tunnel, checked with sha256. If DTLS carried the first run, a second client with
# --no-dtls repeats it so the CSTP data path is covered too.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bytes=$((12 * 1024 * 1024))

setup_topology
add_user alice 'correct horse'
write_config
start_tandemd

start_client c1 alice 'correct horse'
wait_tunnel c1
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
transfer_roundtrip "$TD_NS_CLIENT" "$bytes"
td_alive "$(client_pid c1)" || fail "client c1 died during the transfer"

if grep -q 'Established DTLS connection' "$(client_log c1)"; then
  step "that went over DTLS; again over CSTP only"
  stop_client c1 INT
  start_client c2 alice 'correct horse' --no-dtls
  wait_tunnel c2
  transfer_roundtrip "$TD_NS_CLIENT" "$bytes"
  td_alive "$(client_pid c2)" || fail "client c2 died during the transfer"
  stop_client c2 INT
else
  step "no DTLS: the transfer used CSTP"
  stop_client c1 INT
fi
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
stop_tandemd
