#!/usr/bin/env bash
# The local demo: build Tandem, run tandemd in a network namespace on its built-in defaults,
# connect the real openconnect from another namespace, and show a login, traffic to a host on
# the inside network, a 10 MiB transfer each way, and a session resume after the client's TCP
# connection is killed. Everything runs inside namespaces this script creates and removes.
# Run as root on Debian 12:  bash deploy/demo.sh
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TANDEM_BUILD_DIR=${TANDEM_BUILD_DIR:-$repo/build}

bash "$repo/deploy/setup.sh"

# The e2e harness brings the namespaces, the client helper and the cleanup trap.
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
source "$repo/tests/e2e/lib.sh"

setup_topology

# Only what must differ from the built-in defaults: an address inside the demo namespace and
# files under a temp dir instead of /var/lib/tandem, /etc/tandem and /run/tandem. Pool, timers
# and policy are the defaults (full tunnel: the client routes everything through Tandem).
cat >"$TD_DIR/demo.toml" <<EOF
[node]
listen = "$TD_SERVER_IP:$TD_PORT"
state_dir = "$TD_DIR/state"
admin_socket = "$TD_DIR/admin.sock"

[auth]
users_file = "$TD_USERS"
EOF
mkdir -p "$TD_DIR/state"
step "config (everything else is a built-in default):"
sed 's/^/    /' "$TD_DIR/demo.toml"

password=$(openssl rand -base64 12)
add_user demo "$password"
step "user 'demo' created with tandemctl passwd"
start_tandemd "$TD_DIR/demo.toml"

start_client c1 demo "$password"
wait_tunnel c1
ip=$(client_ip c1)
line=$(wait_log 5 login_ok 'user=demo( |$)')
index=$(field index "$line")

assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 5
rtt=$(ip netns exec "$TD_NS_CLIENT" ping -n -q -c 3 -i 0.2 -W 2 "$TD_INSIDE_IP" | tail -n1)

bytes=$((10 * 1024 * 1024))
transfer_roundtrip "$TD_NS_CLIENT" "$bytes"

step "killing the client's TCP connection (ss -K); openconnect reconnects with its token"
connects() { count_in "$(client_log c1)" 'Got CONNECT response: HTTP/1.1 200'; }
reconnected() { (($(connects) > $1)); }
before=$(connects)
kill_client_tcp "$TD_NS_CLIENT"
resumed=$(wait_log 30 session_resumed "index=$index( |$)")
wait_for 30 "openconnect to reconnect" reconnected "$before"
ip_after=$(client_ip c1)
assert_eq "$ip" "$ip_after" "address after the resume"
assert_eq "$ip" "$(field ip "$resumed")" "session_resumed ip"
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 3

stop_client c1 INT
ended=$(wait_log 5 session_end "index=$index( |$)")
stop_tandemd

mbps() { echo $((bytes * 8 / 1000 / ($1 > 0 ? $1 : 1))); }
version=$(openconnect --version 2>/dev/null | sed -n '1s/^OpenConnect version //p')
events=$(grep -E ' (listening|login_ok|tunnel_up|tunnel_down|session_resumed|session_end) ' \
  "$TD_TANDEMD_LOG" | cut -c1-150 | sed 's/^/   /')
cat <<EOF

================================ Tandem demo summary ================================
 headend      tandemd in netns $TD_NS_HEADEND, listening on $TD_SERVER_IP:$TD_PORT
 certificate  self-signed, $TD_PIN
 client       openconnect $version in netns $TD_NS_CLIENT
 login        user demo -> session index $index, tunnel address $ip
 traffic      ping $TD_INSIDE_IP (inside host): $rtt
 transfer     $((bytes / 1024 / 1024)) MiB each way, sha256 equal both ways
              up in ${TD_UP_MS} ms (~$(mbps "$TD_UP_MS") Mbit/s)
              down in ${TD_DOWN_MS} ms (~$(mbps "$TD_DOWN_MS") Mbit/s)
 resume       TCP killed -> same index $index, same address $ip_after
 logout       SIGINT -> session_end reason=$(field reason "$ended")
 headend log  (events):
$events
=====================================================================================
EOF
