#!/usr/bin/env bash
# Scenario 2: a bulk TCP transfer (12 MiB each way) between the client and the inside host
# through the tunnel, checked with sha256. If DTLS carried the first run, a second client with
# --no-dtls repeats it so the CSTP data path is covered too. The TUN device has its TCP offloads
# on (the default, docs/data-plane.md "TUN offloads"): the downloads arrive from the kernel as
# super-packets that tandemd cuts itself, and none of its reads may be refused as malformed; the
# uploads' segments are joined into super-packets for the kernel, and none of those writes may
# be refused.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bytes=$((12 * 1024 * 1024))
METRICS=$TD_SERVER_IP:9300

# check_offloads SUPERS JOINED: since the metrics were SUPERS and JOINED, the download came as
# super-packets and the upload went as joined writes; nothing dropped or refused.
check_offloads() {
  local supers segments joined packets
  supers=$(metric tandem_tun_super_packets_total)
  segments=$(metric tandem_tun_segments_total)
  ((supers > $1)) || fail "no TCP super-packet read from the TUN during the transfer"
  ((segments > supers)) || fail "super-packets were not cut ($segments segments from $supers)"
  assert_eq 0 "$(metric tandem_tun_reads_dropped_total)" "TUN reads dropped as malformed"
  step "the TUN handed over $((supers - $1)) super-packets; $segments segments so far"
  joined=$(metric tandem_tun_joined_writes_total)
  packets=$(metric tandem_tun_joined_packets_total)
  ((joined > $2)) || fail "no client packets were joined into a TUN write during the upload"
  ((packets >= 2 * joined)) || fail "joined writes hold fewer than 2 packets ($packets in $joined)"
  assert_eq 0 "$(metric tandem_tun_write_failures_total)" "joined TUN writes refused"
  step "the upload went as $((joined - $2)) joined writes; $packets packets in them so far"
}

setup_topology
add_user alice 'correct horse'
write_config
set_metrics_listen "$METRICS"
start_tandemd
ip -n "$TD_NS_HEADEND" -d link show tandem0 | grep -q 'vnet_hdr on' ||
  fail "tandem0 has no virtio-net header: $(ip -n "$TD_NS_HEADEND" -d link show tandem0)"

start_client c1 alice 'correct horse'
wait_tunnel c1
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
supers=$(metric tandem_tun_super_packets_total)
joined=$(metric tandem_tun_joined_writes_total)
transfer_roundtrip "$TD_NS_CLIENT" "$bytes"
td_alive "$(client_pid c1)" || fail "client c1 died during the transfer"
check_offloads "$supers" "$joined"

if grep -q 'Established DTLS connection' "$(client_log c1)"; then
  step "that went over DTLS; again over CSTP only"
  stop_client c1 INT
  start_client c2 alice 'correct horse' --no-dtls
  wait_tunnel c2
  supers=$(metric tandem_tun_super_packets_total)
  joined=$(metric tandem_tun_joined_writes_total)
  transfer_roundtrip "$TD_NS_CLIENT" "$bytes"
  td_alive "$(client_pid c2)" || fail "client c2 died during the transfer"
  check_offloads "$supers" "$joined"
  stop_client c2 INT
else
  step "no DTLS: the transfer used CSTP"
  stop_client c1 INT
fi
assert_eq 0 "$TD_RC" "openconnect exit code after SIGINT"
td_alive "$TD_TANDEMD_PID" || fail "tandemd died"
stop_tandemd
