# shellcheck shell=bash disable=SC2034  # (variables here are used by the sourcing tests)
# Shared harness for tests/e2e/test_*.sh: network namespaces, tandemd, the real openconnect,
# bounded waits and assertions. Source it first thing; it sets `set -euo pipefail` and a trap
# that stops everything the test started and deletes its namespaces, even on failure.
#
# Topology (all addresses live only inside namespaces this test creates):
#
#   client ns            headend ns                    inside ns
#   10.200.0.2/24 --veth-- 10.200.0.1/24 (tandemd)
#                          10.201.0.1/24 --veth------- 10.201.0.2/24, 10.77.0.0/24 via 10.201.0.1
#   client2 ns (optional, add_client2_ns)
#   10.202.0.2/24 --veth-- 10.202.0.1/24
#
# Environment: TANDEM_BUILD_DIR (default <repo>/build), TD_KEEP=1 keeps the temp dir even on
# success, TD_DEADLINE (seconds, default 240) bounds the whole test (ctest's timeout is 300).
# Functions that start processes must run in the test's main shell (not in $(...)), so the
# PIDs they record are the ones the trap kills.

set -euo pipefail
set -o errtrace
shopt -s inherit_errexit

TD_TEST=$(basename "${0%.sh}")
TD_TEST=${TD_TEST#test_}
TANDEM_SOURCE_DIR=${TANDEM_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TANDEM_BUILD_DIR=${TANDEM_BUILD_DIR:-$TANDEM_SOURCE_DIR/build}
TD_TANDEMD=$TANDEM_BUILD_DIR/node/tandemd
TD_TANDEMCTL=$TANDEM_BUILD_DIR/node/tandemctl

# Fixed addressing of the topology.
TD_SERVER_IP=10.200.0.1
TD_PORT=4443
TD_URL=https://$TD_SERVER_IP:$TD_PORT/
TD_CLIENT_ADDR=10.200.0.2
TD_CLIENT_PUBLIC_RE='^10\.200\.0\.2:[0-9]+$'  # the client ns as the headend logs it
TD_CLIENT2_ADDR=10.202.0.2
TD_INSIDE_GW=10.201.0.1
TD_INSIDE_IP=10.201.0.2
TD_POOL=10.77.0.0/24
TD_POOL_GW=10.77.0.1
# IPv6 inside the tunnel (enable_ipv6, docs/ipv6.md): the pool and the inside link's network.
TD_POOL6=fd00:77::/64
TD_POOL6_GW=fd00:77::1
TD_INSIDE6_NET=fd00:201::/64
TD_INSIDE6_GW=fd00:201::1
TD_INSIDE6_IP=fd00:201::2
TD_POOL_EXTRA=  # more [pool] keys for write_config (and lib_pair's write_node_config)
# Config for tests driven by tandem-load: many sessions of one user, all from one address. That
# is a load client, not users behind a NAT, so the per-user and per-address caps
# (docs/limits.md) are off; the login throttle stays on (every login succeeds).
TD_LOAD_CLIENT_CONFIG='[policy.default]
simultaneous_logins = 0
[limits]
connections_per_address = 0
tls_handshakes_per_address = 0
logins_in_flight_per_address = 0'

# Names: namespaces carry the test name and our PID (no length limit worth worrying about);
# interface names are created directly inside the namespaces and must fit 15 characters,
# so they use "td<pid>" (at most 9) plus a short role suffix.
TD_ID="td-${TD_TEST:0:20}-$$"
TD_IFP="td$$"
TD_NS_CLIENT=$TD_ID-cli
TD_NS_CLIENT2=$TD_ID-cli2
TD_NS_HEADEND=$TD_ID-hub
TD_NS_INSIDE=$TD_ID-in

TD_DIR=$(mktemp -d "/tmp/$TD_ID.XXXXXX")
TD_TANDEMD_LOG=$TD_DIR/tandemd.log
TD_TANDEMD_PID=
TD_USERS=$TD_DIR/users
TD_CONFIG=
TD_PIN=
TD_VPNC_SCRIPT=$TD_DIR/vpnc-script
TD_RC=0
TD_COOKIE=
TD_TOKEN=
TD_UP_MS=0
TD_DOWN_MS=0

TD_PIDS=()   # every background process we started, in start order
TD_NETNS=()  # every namespace we created
TD_CLEANUP_CMDS=()  # td_on_cleanup: run by the trap after our processes are gone, newest first
TD_CLIENT_SEQ=0
declare -A TD_CLIENT_PID=() TD_CLIENT_LOG=() TD_CLIENT_IF=() TD_CLIENT_NS=()

TD_T0=${EPOCHREALTIME/./}

# ---------------------------------------------------------------------------------------------
# Output, failure, cleanup

td_now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

step() {
  local ms=$(($(td_now_ms) - TD_T0 / 1000))
  printf '[%s +%d.%03ds] %s\n' "$TD_TEST" $((ms / 1000)) $((ms % 1000)) "$*"
}

fail() {
  printf '[%s] ASSERTION FAILED: %s\n' "$TD_TEST" "$*" >&2
  exit 1
}

td_on_err() {
  printf '[%s] command failed (rc=%s) at %s line %s: %s\n' \
    "$TD_TEST" "$1" "${BASH_SOURCE[1]:-?}" "$2" "$3" >&2
}

td_alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# A recorded PID is only signalled while it is still our child: never someone else's process
# that happened to get a recycled PID.
td_is_ours() {
  local ppid
  ppid=$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ $ppid == "$$" ]]
}

td_track() { TD_PIDS+=("$1"); }

# td_on_cleanup CMD [ARGS...]: the trap runs CMD once every process this test started has been
# stopped and before the namespaces go (unmount a tmpfs, delete a qdisc, ...); newest first.
td_on_cleanup() { TD_CLEANUP_CMDS+=("$(printf '%q ' "$@")"); }

td_dump_logs() {
  local f
  for f in "$TD_TANDEMD_LOG" "$TD_DIR"/node-*.log "$TD_DIR"/client-*.log; do
    [[ -s $f ]] || continue
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# Sanitizer builds (tests/sanitize.sh): a report in a log of one of our processes fails the test,
# also when nobody saw the process die: a node the trap stopped (its exit code is not checked), a
# leak report at exit, a standby that crashed unnoticed. etcd's log is left out: it is Go, and a
# Go panic prints "runtime error:" too without being ours.
TD_SANITIZER_RE='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer'
td_check_sanitizer_reports() {
  local f found=0
  while IFS= read -r -d '' f; do
    if grep -Eq "$TD_SANITIZER_RE" "$f"; then
      found=1
      printf '[%s] SANITIZER REPORT in %s:\n' "$TD_TEST" "$f" >&2
      grep -E -A12 -m1 "$TD_SANITIZER_RE" "$f" >&2
    fi
  done < <(find "$TD_DIR" -maxdepth 2 -name '*.log' ! -name 'etcd*' -print0 2>/dev/null)
  ((found == 0))
}

td_cleanup() {
  local rc=$? i pid ns deadline
  set +e
  trap - EXIT INT TERM ERR
  for ((i = ${#TD_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${TD_PIDS[i]}
    # CONT after TERM: a test may leave a process stopped (SIGSTOP); it must still get to exit.
    td_alive "$pid" && td_is_ours "$pid" && kill -TERM "$pid" 2>/dev/null &&
      kill -CONT "$pid" 2>/dev/null
  done
  deadline=$(($(td_now_ms) + 5000))
  for pid in "${TD_PIDS[@]}"; do
    while td_alive "$pid" && (($(td_now_ms) < deadline)); do sleep 0.05; done
    td_alive "$pid" && td_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  # Backstop: whatever still runs inside one of our namespaces was started by this test.
  for ns in "${TD_NETNS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${TD_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ((i = ${#TD_CLEANUP_CMDS[@]} - 1; i >= 0; i--)); do
    eval "${TD_CLEANUP_CMDS[i]}" >/dev/null 2>&1 ||
      printf '[%s] warning: cleanup step failed: %s\n' "$TD_TEST" "${TD_CLEANUP_CMDS[i]}" >&2
  done
  for ((i = ${#TD_NETNS[@]} - 1; i >= 0; i--)); do
    ip netns del "${TD_NETNS[i]}" 2>/dev/null ||
      printf '[%s] warning: could not delete netns %s\n' "$TD_TEST" "${TD_NETNS[i]}" >&2
  done
  td_check_sanitizer_reports || { ((rc != 0)) || rc=1; }
  if ((rc == 0)); then
    [[ ${TD_KEEP:-0} == 1 ]] || rm -rf "$TD_DIR"
    printf 'PASS %s\n' "$TD_TEST"
  else
    td_dump_logs
    printf '[%s] logs kept in %s\n' "$TD_TEST" "$TD_DIR" >&2
    printf 'FAIL %s (exit %d)\n' "$TD_TEST" "$rc"
  fi
  exit "$rc"
}

trap 'td_on_err $? $LINENO "$BASH_COMMAND"' ERR
trap td_cleanup EXIT
trap 'fail "interrupted by a signal"' INT TERM

if [[ $(id -u) -ne 0 ]]; then
  fail "e2e tests need root (network namespaces, tun devices)"
fi

# Watchdog: bound the whole test below ctest's timeout so the trap still gets to clean up.
(
  s=
  trap '[[ -n $s ]] && kill "$s" 2>/dev/null; exit 0' TERM
  sleep "${TD_DEADLINE:-240}" &
  s=$!
  wait "$s"
  echo "[$TD_TEST] watchdog: test exceeded ${TD_DEADLINE:-240}s" >&2
  kill -TERM $$
) &
td_track $!

# ---------------------------------------------------------------------------------------------
# Waiting and assertions

# poll_until SECONDS CMD [ARGS...]: run CMD every 0.1 s until it succeeds (0) or time is up (1).
poll_until() {
  local deadline=$(($(td_now_ms) + $1 * 1000))
  shift
  while true; do
    if "$@"; then return 0; fi
    (($(td_now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

# wait_for SECONDS DESCRIPTION CMD [ARGS...]: like poll_until, but a timeout fails the test.
wait_for() {
  local secs=$1 what=$2
  shift 2
  poll_until "$secs" "$@" || fail "timed out after ${secs}s waiting for: $what"
}

assert_eq() { # EXPECTED ACTUAL MESSAGE
  [[ $1 == "$2" ]] || fail "$3: expected '$1', got '$2'"
}

assert_ne() { # UNEXPECTED ACTUAL MESSAGE
  [[ $1 != "$2" ]] || fail "$3: did not expect '$2'"
}

assert_match() { # STRING ERE MESSAGE
  [[ $1 =~ $2 ]] || fail "$3: '$1' does not match /$2/"
}

assert_contains() { # FILE ERE MESSAGE
  grep -Eq -- "$2" "$1" 2>/dev/null || fail "$3: no line matching /$2/ in $1"
}

assert_not_contains() { # FILE ERE MESSAGE
  if grep -Eq -- "$2" "$1" 2>/dev/null; then
    fail "$3: unexpected line in $1: $(grep -Em1 -- "$2" "$1")"
  fi
}

# ---------------------------------------------------------------------------------------------
# Topology

td_netns_add() {
  ip netns add "$1"
  TD_NETNS+=("$1")
  ip -n "$1" link set lo up
}

setup_topology() {
  step "topology: $TD_NS_CLIENT -- $TD_NS_HEADEND -- $TD_NS_INSIDE"
  td_netns_add "$TD_NS_HEADEND"
  td_netns_add "$TD_NS_CLIENT"
  td_netns_add "$TD_NS_INSIDE"
  # Both veth ends are created inside their namespaces; the host never sees them.
  ip -n "$TD_NS_CLIENT" link add "${TD_IFP}c1" type veth \
    peer name "${TD_IFP}h1" netns "$TD_NS_HEADEND"
  ip -n "$TD_NS_HEADEND" link add "${TD_IFP}hi" type veth \
    peer name "${TD_IFP}in" netns "$TD_NS_INSIDE"
  ip -n "$TD_NS_CLIENT" addr add "$TD_CLIENT_ADDR/24" dev "${TD_IFP}c1"
  ip -n "$TD_NS_HEADEND" addr add "$TD_SERVER_IP/24" dev "${TD_IFP}h1"
  ip -n "$TD_NS_HEADEND" addr add "$TD_INSIDE_GW/24" dev "${TD_IFP}hi"
  ip -n "$TD_NS_INSIDE" addr add "$TD_INSIDE_IP/24" dev "${TD_IFP}in"
  ip -n "$TD_NS_CLIENT" link set "${TD_IFP}c1" up
  ip -n "$TD_NS_HEADEND" link set "${TD_IFP}h1" up
  ip -n "$TD_NS_HEADEND" link set "${TD_IFP}hi" up
  ip -n "$TD_NS_INSIDE" link set "${TD_IFP}in" up
  ip -n "$TD_NS_INSIDE" route add "$TD_POOL" via "$TD_INSIDE_GW"
  ip netns exec "$TD_NS_HEADEND" sysctl -qw net.ipv4.ip_forward=1
}

# td_ipv6_on NS...: IPv6 enabled in each namespace (it is by default; a host may say otherwise).
td_ipv6_on() {
  local ns
  for ns in "$@"; do
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
      net.ipv6.conf.default.disable_ipv6=0
  done
}

# ensure_service_user NAME: the system user tandemd drops to ([process] user, docs/
# privileges.md), created if missing and then removed at the end. Its gid in TD_SERVICE_GID.
ensure_service_user() {
  if ! id -u "$1" >/dev/null 2>&1; then
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin \
      --user-group "$1" || fail "useradd $1 failed"
    td_on_cleanup userdel "$1"
    step "created system user $1 (removed at the end)"
  fi
  TD_SERVICE_GID=$(id -g "$1")
}

# enable_ipv6: IPv6 on setup_topology's namespaces (call after it, before write_config): the
# headend forwards IPv6, the inside link has fd00:201::1 (headend) and fd00:201::2 (inside
# host), the inside host routes the IPv6 pool via the headend, and write_config gives the pool
# an IPv6 network with the inside network as its IPv6 split-include route.
enable_ipv6() {
  td_ipv6_on "$TD_NS_CLIENT" "$TD_NS_HEADEND" "$TD_NS_INSIDE"
  ip netns exec "$TD_NS_HEADEND" sysctl -qw net.ipv6.conf.all.forwarding=1
  # nodad: usable at once (duplicate address detection would hold them for a second).
  ip -n "$TD_NS_HEADEND" -6 addr add "$TD_INSIDE6_GW/64" dev "${TD_IFP}hi" nodad
  ip -n "$TD_NS_INSIDE" -6 addr add "$TD_INSIDE6_IP/64" dev "${TD_IFP}in" nodad
  ip -n "$TD_NS_INSIDE" -6 route add "$TD_POOL6" via "$TD_INSIDE6_GW"
  TD_POOL_EXTRA="ipv6 = \"$TD_POOL6\"
routes6 = [\"$TD_INSIDE6_NET\"]"
}

# A second client namespace with its own link into the headend (10.202.0.0/24), so two
# clients' tun routes never overlap.
add_client2_ns() {
  td_netns_add "$TD_NS_CLIENT2"
  ip -n "$TD_NS_CLIENT2" link add "${TD_IFP}c2" type veth \
    peer name "${TD_IFP}h2" netns "$TD_NS_HEADEND"
  ip -n "$TD_NS_CLIENT2" addr add "$TD_CLIENT2_ADDR/24" dev "${TD_IFP}c2"
  ip -n "$TD_NS_HEADEND" addr add 10.202.0.1/24 dev "${TD_IFP}h2"
  ip -n "$TD_NS_CLIENT2" link set "${TD_IFP}c2" up
  ip -n "$TD_NS_HEADEND" link set "${TD_IFP}h2" up
  ip -n "$TD_NS_CLIENT2" route add 10.200.0.0/24 via 10.202.0.1
}

# ---------------------------------------------------------------------------------------------
# tandemd

# write_config [EXTRA_TOML]: a config for the topology, path in TD_CONFIG. EXTRA_TOML is
# appended verbatim (new tables only: TOML forbids repeating [node], [auth] or [pool]).
write_config() {
  mkdir -p "$TD_DIR/state"
  TD_CONFIG=$TD_DIR/tandemd.toml
  cat >"$TD_CONFIG" <<EOF
[node]
id = "$TD_ID"
listen = "$TD_SERVER_IP:$TD_PORT"
admin_socket = "$TD_DIR/admin.sock"
state_dir = "$TD_DIR/state"
log_level = "info"
tun_name = "tandem0"
${TD_DATA_THREADS:+data_threads = $TD_DATA_THREADS}

[auth]
users_file = "$TD_USERS"

[pool]
ipv4 = "$TD_POOL"
routes = ["10.201.0.0/24"]
$TD_POOL_EXTRA
${1:-}
EOF
}

# add_user USER PASSWORD: through tandemctl, password on stdin.
add_user() {
  [[ -x $TD_TANDEMCTL ]] || fail "tandemctl not built: $TD_TANDEMCTL (run deploy/setup.sh)"
  printf '%s\n' "$2" | "$TD_TANDEMCTL" passwd --users-file "$TD_USERS" "$1" >/dev/null ||
    fail "tandemctl passwd $1 failed"
  grep -q "^$1:" "$TD_USERS" || fail "tandemctl passwd did not write $1 to $TD_USERS"
}

td_tandemd_ready() {
  td_alive "$TD_TANDEMD_PID" || fail "tandemd exited during start-up"
  grep -Eq '^[^ ]+ [a-z]+ listening( |$)' "$TD_TANDEMD_LOG"
}

# start_tandemd [CONFIG]: start in the headend namespace, wait for `listening`, set TD_PIN.
start_tandemd() {
  local config=${1:-$TD_CONFIG} line state_dir cert
  [[ -x $TD_TANDEMD ]] || fail "tandemd not built: $TD_TANDEMD (run deploy/setup.sh)"
  step "start tandemd --config $config"
  : >"$TD_TANDEMD_LOG"
  ip netns exec "$TD_NS_HEADEND" "$TD_TANDEMD" --config "$config" >>"$TD_TANDEMD_LOG" 2>&1 &
  TD_TANDEMD_PID=$!
  td_track "$TD_TANDEMD_PID"
  wait_for 20 "tandemd 'listening' log line" td_tandemd_ready
  line=$(log_events tls_self_signed | tail -n1)
  TD_PIN=$(field pin "$line" || true)
  if [[ -z $TD_PIN ]]; then
    # Configured certificate (no self-signed line): pin its public key ourselves.
    state_dir=$(sed -n 's/^state_dir *= *"\(.*\)"/\1/p' "$config")
    cert=$(sed -n 's/^certificate *= *"\(.*\)"/\1/p' "$config")
    cert=${cert:-$state_dir/self-signed-cert.pem}
    [[ -r $cert ]] || fail "no tls_self_signed pin in the log and no certificate at $cert"
    TD_PIN=pin-sha256:$(openssl x509 -in "$cert" -pubkey -noout | openssl pkey -pubin -outform der |
      openssl dgst -sha256 -binary | base64)
  fi
  assert_match "$TD_PIN" '^pin-sha256:[A-Za-z0-9+/]{43}=$' "certificate pin"
  step "tandemd pid $TD_TANDEMD_PID listening; $TD_PIN"
}

tandemd_rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$TD_TANDEMD_PID/status"; }

# stop_tandemd: SIGTERM must give a clean exit 0 (daemon contract).
stop_tandemd() {
  local rc=0
  step "stop tandemd (SIGTERM)"
  td_alive "$TD_TANDEMD_PID" || fail "tandemd is not running any more"
  kill -TERM "$TD_TANDEMD_PID"
  wait_for 10 "tandemd to exit after SIGTERM" td_not_alive "$TD_TANDEMD_PID"
  wait "$TD_TANDEMD_PID" || rc=$?
  assert_eq 0 "$rc" "tandemd exit code after SIGTERM"
}

td_not_alive() { ! td_alive "$1"; }

# Lines of the tandemd log whose event is EVENT, optionally filtered by an ERE.
log_events() {
  local lines
  lines=$(grep -E "^[^ ]+ [a-z]+ $1( |\$)" "$TD_TANDEMD_LOG" || true)
  [[ -n $lines ]] || return 0
  if [[ -n ${2:-} ]]; then
    grep -E -- "$2" <<<"$lines" || true
  else
    printf '%s\n' "$lines"
  fi
}

log_count() { log_events "$@" | grep -c . || true; }

# field KEY LINE: the value of key=value in a log line (quotes removed).
field() {
  local re=' '"$1"'=("([^"\\]|\\.)*"|[^ ]*)' v
  [[ " $2" =~ $re ]] || return 1
  v=${BASH_REMATCH[1]}
  if [[ $v == \"*\" ]]; then
    v=${v:1:${#v}-2}
    v=${v//\\\"/\"}
    v=${v//\\\\/\\}
  fi
  printf '%s\n' "$v"
}

td_log_count_above() { (($(log_count "$1" "${3:-}") > $2)); }

# wait_log SECONDS EVENT [ERE] [MIN_COUNT]: wait until at least MIN_COUNT (default 1) matching
# lines are in the log; prints the last one.
wait_log() {
  local secs=$1 ev=$2 re=${3:-} n=${4:-1}
  wait_for "$secs" "tandemd log: $ev ${re:+/$re/} (x$n)" td_log_count_above "$ev" $((n - 1)) "$re"
  log_events "$ev" "$re" | tail -n1
}

# set_metrics_listen ADDRESS: serve the metrics scrape there (into TD_CONFIG's [node]).
set_metrics_listen() {
  sed -i "/^\[node\]\$/a metrics_listen = \"$1\"" "$TD_CONFIG"
  grep -q "^metrics_listen = \"$1\"\$" "$TD_CONFIG" || fail "metrics_listen not set in $TD_CONFIG"
}

# metric SERIES: the value of one series in tandemd's scrape at $METRICS (headend namespace);
# fails the test when the scrape fails or has no such series.
metric() {
  local body value
  body=$(ip netns exec "$TD_NS_HEADEND" curl -sS --fail --max-time 5 "http://$METRICS/metrics") ||
    fail "scrape of http://$METRICS/metrics failed"
  value=$(awk -v s="$1" '$1 == s {print $2}' <<<"$body")
  [[ -n $value ]] || fail "no series $1 in the scrape"
  printf '%s\n' "$value"
}

# ---------------------------------------------------------------------------------------------
# openconnect

td_write_vpnc_script() {
  [[ -e $TD_VPNC_SCRIPT ]] && return 0
  {
    echo '#!/bin/sh'
    echo "LOG_DIR='$TD_DIR'"
    cat <<'EOF'
# Minimal vpnc-script for namespace tests (anyconnect-protocol.md section 9.3): records the
# environment and sets up only the tun device and routes; never touches DNS.
LOG="$LOG_DIR/vpnc-${TUNDEV:-none}.log"
{ echo "=== reason=$reason $(date +%T)"
  env | grep -E '^(reason|TUNDEV|VPNGATEWAY|INTERNAL_IP4_|INTERNAL_IP6_|CISCO_|IDLE_TIMEOUT)' | sort
} >>"$LOG"
case "$reason" in
  connect)
    ip link set dev "$TUNDEV" up mtu "$INTERNAL_IP4_MTU"
    ip addr add "$INTERNAL_IP4_ADDRESS/32" peer "$INTERNAL_IP4_ADDRESS" dev "$TUNDEV"
    # Like the stock script: the tunnel network itself when a netmask was sent.
    if [ -n "${INTERNAL_IP4_NETMASKLEN:-}" ] && [ -n "${INTERNAL_IP4_NETADDR:-}" ]; then
      ip route replace "$INTERNAL_IP4_NETADDR/$INTERNAL_IP4_NETMASKLEN" dev "$TUNDEV"
    fi
    if [ "${CISCO_SPLIT_INC:-0}" -gt 0 ]; then
      i=0
      while [ "$i" -lt "$CISCO_SPLIT_INC" ]; do
        eval NET=\$CISCO_SPLIT_INC_${i}_ADDR
        eval LEN=\$CISCO_SPLIT_INC_${i}_MASKLEN
        ip route replace "$NET/$LEN" dev "$TUNDEV"
        i=$((i + 1))
      done
    else
      # Full tunnel. The gateway stays reachable: it is on the namespace's own link.
      ip route replace default dev "$TUNDEV"
    fi
    # IPv6 (docs/ipv6.md): "addr/len" as the headend sent it, then its routes, or all of IPv6.
    if [ -n "${INTERNAL_IP6_NETMASK:-}" ]; then
      ip -6 addr add "$INTERNAL_IP6_NETMASK" dev "$TUNDEV" nodad
      if [ "${CISCO_IPV6_SPLIT_INC:-0}" -gt 0 ]; then
        i=0
        while [ "$i" -lt "$CISCO_IPV6_SPLIT_INC" ]; do
          eval NET=\$CISCO_IPV6_SPLIT_INC_${i}_ADDR
          eval LEN=\$CISCO_IPV6_SPLIT_INC_${i}_MASKLEN
          ip -6 route replace "$NET/$LEN" dev "$TUNDEV"
          i=$((i + 1))
        done
      else
        ip -6 route replace default dev "$TUNDEV"
      fi
    fi
    ;;
  disconnect)
    ip link set dev "$TUNDEV" down 2>/dev/null || true
    ;;
esac
exit 0
EOF
  } >"$TD_VPNC_SCRIPT"
  chmod 0755 "$TD_VPNC_SCRIPT"
}

# td_launch ID NS STDIN_TEXT OPENCONNECT_ARGS...: background openconnect, PID recorded.
td_launch() {
  local id=$1 ns=$2 input=$3 ifname
  shift 3
  [[ -z ${TD_CLIENT_PID[$id]:-} ]] || fail "client id '$id' used twice"
  [[ -n $TD_PIN ]] || fail "no server pin: start_tandemd first"
  td_write_vpnc_script
  TD_CLIENT_SEQ=$((TD_CLIENT_SEQ + 1))
  ifname=${TD_IFP}t$TD_CLIENT_SEQ
  TD_CLIENT_LOG[$id]=$TD_DIR/client-$id.log
  TD_CLIENT_IF[$id]=$ifname
  TD_CLIENT_NS[$id]=$ns
  ip netns exec "$ns" openconnect --protocol=anyconnect --non-inter \
    --servercert "$TD_PIN" --script "$TD_VPNC_SCRIPT" --interface "$ifname" \
    --timestamp -v "$@" >"${TD_CLIENT_LOG[$id]}" 2>&1 <<<"$input" &
  TD_CLIENT_PID[$id]=$!
  td_track "${TD_CLIENT_PID[$id]}"
}

# start_client [--ns NS] ID USER PASSWORD [EXTRA_OPENCONNECT_ARGS...]
start_client() {
  local ns=$TD_NS_CLIENT
  if [[ $1 == --ns ]]; then ns=$2; shift 2; fi
  local id=$1 user=$2 pass=$3
  shift 3
  step "client $id: openconnect as $user from $ns${*:+ ($*)}"
  td_launch "$id" "$ns" "$pass" --user="$user" --passwd-on-stdin "$@" "$TD_URL"
}

# start_client_cookie [--ns NS] ID COOKIE [EXTRA_OPENCONNECT_ARGS...]; COOKIE is "webvpn=..."
start_client_cookie() {
  local ns=$TD_NS_CLIENT
  if [[ $1 == --ns ]]; then ns=$2; shift 2; fi
  local id=$1 cookie=$2
  shift 2
  step "client $id: openconnect --cookie-on-stdin from $ns${*:+ ($*)}"
  td_launch "$id" "$ns" "$cookie" --cookie-on-stdin "$@" "$TD_URL"
}

# authenticate [--ns NS] ID USER PASSWORD [EXTRA_OPENCONNECT_ARGS...]: `openconnect
# --authenticate`; sets TD_COOKIE (the printed COOKIE string, for --cookie-on-stdin) and
# TD_TOKEN (the webvpn cookie's value).
authenticate() {
  local ns=$TD_NS_CLIENT
  if [[ $1 == --ns ]]; then ns=$2; shift 2; fi
  local id=$1
  step "client $id: openconnect --authenticate as $2${4:+ (${*:4})}"
  td_launch "$id" "$ns" "$3" --authenticate --user="$2" --passwd-on-stdin "${@:4}" "$TD_URL"
  client_wait_exit "$id" 30
  assert_eq 0 "$TD_RC" "exit code of openconnect --authenticate ($id)"
  TD_COOKIE=$(sed -n "s/^COOKIE='\{0,1\}\([^']*\)'\{0,1\}\$/\1/p" "${TD_CLIENT_LOG[$id]}" |
    tail -n1)
  assert_match "$TD_COOKIE" '(^|; *)webvpn=[^;]+' \
    "webvpn in the COOKIE printed by --authenticate ($id)"
  TD_TOKEN=$(tr ';' '\n' <<<"$TD_COOKIE" | sed -n 's/^ *webvpn=//p' | head -n1)
}

client_pid() { echo "${TD_CLIENT_PID[$1]}"; }
client_log() { echo "${TD_CLIENT_LOG[$1]}"; }

# The IPv4 address on the client's tun device ("" if none).
client_ip() {
  { ip -n "${TD_CLIENT_NS[$1]}" -4 -o addr show dev "${TD_CLIENT_IF[$1]}" 2>/dev/null || true; } |
    awk '{split($4, a, "/"); print a[1]; exit}'
}

# The global IPv6 address on the client's tun device ("" if none).
client_ip6() {
  { ip -n "${TD_CLIENT_NS[$1]}" -6 -o addr show dev "${TD_CLIENT_IF[$1]}" scope global \
    2>/dev/null || true; } | awk '{split($4, a, "/"); print a[1]; exit}'
}
td_client_has_ip6() { [[ -n $(client_ip6 "$1") ]]; }

# client_connects ID: the CONNECTs answered with 200 in the client's log.
client_connects() { count_in "$(client_log "$1")" 'Got CONNECT response: HTTP/1.1 200'; }
td_connects_above() { (($(client_connects "$1") > $2)); }

# force_resume ID INDEX IP: SIGUSR2 makes openconnect drop its TLS connection and CONNECT again
# with its token. Waits for tandemd's next session_resumed of INDEX and the client's next 200,
# and checks that both say IP and that openconnect lives on.
force_resume() {
  local id=$1 index=$2 ip=$3 before n line
  before=$(client_connects "$id")
  n=$(($(log_count session_resumed "index=$index( |$)") + 1))
  kill -USR2 "$(client_pid "$id")"
  line=$(wait_log 30 session_resumed "index=$index( |$)" "$n")
  assert_eq "$ip" "$(field ip "$line")" "client $id: session_resumed ip"
  wait_for 30 "client $id: CONNECT answered again" td_connects_above "$id" "$before"
  td_alive "$(client_pid "$id")" || fail "client $id: openconnect exited instead of resuming"
  assert_eq "$ip" "$(client_ip "$id")" "client $id: tun address after the resume"
}

td_client_up() {
  td_alive "${TD_CLIENT_PID[$1]}" || fail "client $1 exited before the tunnel came up"
  grep -q 'Configured as ' "${TD_CLIENT_LOG[$1]}" && [[ -n $(client_ip "$1") ]]
}

# wait_tunnel ID [SECONDS]: openconnect reported the tunnel and the tun has an address.
wait_tunnel() {
  wait_for "${2:-30}" "client $1 tunnel up" td_client_up "$1"
  step "client $1 up: $(client_ip "$1") on ${TD_CLIENT_IF[$1]}"
}

# wait_client_dtls ID: the client's DTLS tunnel is up at both ends (openconnect logged it, and
# tandemd logged tunnel_up kind=dtls); prints that tunnel_up line.
wait_client_dtls() {
  wait_for 20 "client $1: Established DTLS connection" \
    grep -q 'Established DTLS connection' "$(client_log "$1")"
  wait_log 10 tunnel_up 'kind=dtls'
}

# client_wait_exit ID SECONDS: wait for the client to end; its exit code goes to TD_RC.
client_wait_exit() {
  local pid=${TD_CLIENT_PID[$1]}
  wait_for "$2" "client $1 to exit" td_not_alive "$pid"
  TD_RC=0
  wait "$pid" || TD_RC=$?
  step "client $1 exited with code $TD_RC"
}

# stop_client ID [SIGNAL]: signal (default INT: logout with BYE) and wait; exit code in TD_RC.
stop_client() {
  local sig=${2:-INT}
  step "client $1: SIG$sig"
  td_alive "${TD_CLIENT_PID[$1]}" || fail "client $1 is not running"
  kill -"$sig" "${TD_CLIENT_PID[$1]}"
  client_wait_exit "$1" 15
}

# count_in FILE ERE: number of matching lines (0 if none or no file).
count_in() {
  local n
  n=$(grep -Ec -- "$2" "$1" 2>/dev/null) || true
  echo "${n:-0}"
}

# ---------------------------------------------------------------------------------------------
# Traffic (only to addresses inside our namespaces)

# ping_from NS DEST [COUNT]: succeeds only if every echo got a reply.
ping_from() {
  local out
  out=$(ip netns exec "$1" ping -n -q -c "${3:-3}" -i 0.2 -W 2 "$2" 2>&1) || true
  [[ $out =~ ([0-9]+)\ packets\ transmitted,\ ([0-9]+)\ received ]] &&
    [[ ${BASH_REMATCH[1]} == "${BASH_REMATCH[2]}" && ${BASH_REMATCH[1]} != 0 ]]
}

# ping_inside [NS] [COUNT]: ping the inside host through the tunnel.
ping_inside() { ping_from "${1:-$TD_NS_CLIENT}" "$TD_INSIDE_IP" "${2:-3}"; }

assert_ping() { # NS DEST [COUNT]
  ping_from "$1" "$2" "${3:-3}" || fail "ping $2 from $1: not every echo was answered"
  step "ping $2 from $1: ok"
}

# kill_client_tcp NS: destroy NS's TCP connections to the headend (RST both ways), as a
# network failure would; openconnect then reconnects with its token.
kill_client_tcp() {
  ip netns exec "$1" ss -K dst "$TD_SERVER_IP" dport = "$TD_PORT" >/dev/null 2>>"$TD_DIR/ss.log"
}

td_listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep -q .; }

# transfer_roundtrip NS BYTES [DEST]: BYTES of random data from NS to the inside host (DEST,
# default TD_INSIDE_IP; an IPv6 address makes it TCP over IPv6) over TCP, and back, each checked
# with sha256sum. Durations in TD_UP_MS and TD_DOWN_MS.
transfer_roundtrip() {
  local ns=$1 bytes=$2 dest=${3:-$TD_INSIDE_IP} srv t0 tcp=TCP host
  host=$dest
  if [[ $dest == *:* ]]; then
    tcp=TCP6 host="[$dest]"
  fi
  head -c "$bytes" /dev/urandom >"$TD_DIR/up.src"
  head -c "$bytes" /dev/urandom >"$TD_DIR/down.src"

  ip netns exec "$TD_NS_INSIDE" socat -u "$tcp-LISTEN:5001,bind=$host,reuseaddr" \
    "OPEN:$TD_DIR/up.dst,creat,trunc" 2>>"$TD_DIR/socat.log" &
  srv=$!
  td_track "$srv"
  wait_for 5 "receiver on $host:5001" td_listening "$TD_NS_INSIDE" 5001
  t0=$(td_now_ms)
  timeout 60 ip netns exec "$ns" socat -u "OPEN:$TD_DIR/up.src" "$tcp:$host:5001" \
    2>>"$TD_DIR/socat.log" || fail "upload to the inside host failed (see socat.log)"
  wait_for 15 "receiver to finish" td_not_alive "$srv"
  TD_UP_MS=$(($(td_now_ms) - t0))
  assert_eq "$(sha256sum <"$TD_DIR/up.src")" "$(sha256sum <"$TD_DIR/up.dst")" "sha256 of the upload"
  step "upload $bytes bytes to $host: sha256 matches ($TD_UP_MS ms)"

  ip netns exec "$TD_NS_INSIDE" socat -u "OPEN:$TD_DIR/down.src" \
    "$tcp-LISTEN:5002,bind=$host,reuseaddr" 2>>"$TD_DIR/socat.log" &
  srv=$!
  td_track "$srv"
  wait_for 5 "sender on $host:5002" td_listening "$TD_NS_INSIDE" 5002
  t0=$(td_now_ms)
  timeout 60 ip netns exec "$ns" socat -u "$tcp:$host:5002" "CREATE:$TD_DIR/down.dst" \
    2>>"$TD_DIR/socat.log" || fail "download from the inside host failed (see socat.log)"
  wait_for 15 "sender to finish" td_not_alive "$srv"
  TD_DOWN_MS=$(($(td_now_ms) - t0))
  assert_eq "$(sha256sum <"$TD_DIR/down.src")" "$(sha256sum <"$TD_DIR/down.dst")" \
    "sha256 of the download"
  step "download $bytes bytes from $host: sha256 matches ($TD_DOWN_MS ms)"
  rm -f "$TD_DIR"/up.* "$TD_DIR"/down.*
}

# ---------------------------------------------------------------------------------------------
# Timer / DPD / UDP-failure scenarios: log timestamps and a timestamped ping stream

# log_ms LINE: the timestamp of a tandemd log line, in epoch milliseconds.
log_ms() { date -d "${1%% *}" +%s%3N; }

# start_ping_stream ID NS DEST INTERVAL: background `ping -D` (every reply stamped with its
# arrival time) into $TD_DIR/ping-ID.log, until stop_ping_stream ID (or the trap).
declare -A TD_PING_PID=()
start_ping_stream() {
  [[ -z ${TD_PING_PID[$1]:-} ]] || fail "ping stream '$1' started twice"
  step "ping stream $1: $2 -> $3 every ${4}s"
  ip netns exec "$2" ping -D -n -i "$4" -W 2 "$3" >"$TD_DIR/ping-$1.log" 2>&1 &
  TD_PING_PID[$1]=$!
  td_track "${TD_PING_PID[$1]}"
}

# stop_ping_stream ID: SIGINT the ping (it must still be running) and reap it.
stop_ping_stream() {
  local pid=${TD_PING_PID[$1]}
  td_alive "$pid" || fail "ping stream $1 ended early (see $TD_DIR/ping-$1.log)"
  kill -INT "$pid"
  wait_for 5 "ping stream $1 to stop" td_not_alive "$pid"
  wait "$pid" || true
}

# ping_replies ID: "SEQ ARRIVAL_MS" for each distinct reply so far, in arrival order.
ping_replies() {
  sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\)[0-9]*\] .* icmp_seq=\([0-9]*\) .*/\3 \1\2/p' \
    "$TD_DIR/ping-$1.log" 2>/dev/null | awk '!seen[$1]++'
}

# ping_last_reply_ms ID: arrival time of the newest reply (0 if none yet).
ping_last_reply_ms() { ping_replies "$1" | awk 'END {print (NR ? $2 : 0)}'; }

# ping_stream_stats ID INTERVAL_MS: over the replies so far, sets TD_PING_SENT (first to last
# answered sequence number), TD_PING_RECV, TD_PING_LOST, TD_PING_GAP_MS (longest time between
# two consecutive replies) and TD_PING_GAP_END_MS (arrival of the reply that ended it), and
# TD_PING_LOST_AT (one estimated send time in epoch ms per lost echo, space separated).
ping_stream_stats() {
  local out
  out=$(ping_replies "$1" | awk -v iv="$2" '
    { seq[NR] = $1; t[NR] = $2; got[$1] = $2
      if (NR == 1 || $1 < lo) lo = $1
      if (NR == 1 || $1 > hi) hi = $1
      if (NR > 1 && $2 - t[NR - 1] > gap) { gap = $2 - t[NR - 1]; gap_end = $2 } }
    END {
      if (NR == 0) { print "0 0 0 0 0"; exit }
      lost = 0; at = ""; prev = lo
      for (s = lo; s <= hi; s++) {
        if (s in got) { prev = s; continue }
        lost++; at = at " " sprintf("%.0f", got[prev] + (s - prev) * iv)
      }
      printf "%d %d %d %.0f %.0f%s\n", hi - lo + 1, NR, lost, gap, gap_end, at
    }')
  read -r TD_PING_SENT TD_PING_RECV TD_PING_LOST TD_PING_GAP_MS TD_PING_GAP_END_MS \
    TD_PING_LOST_AT <<<"$out"
}

# ping_gap_since ID EVENT_MS: the client's view of an event (a failover, a fault) at EVENT_MS
# (epoch ms), from the replies so far, counting trailing silence up to now. Sets
#   TD_GAP_MS        the longest silence from the last reply at or before the event up to now:
#                    to the first reply after the event (or until now if none came), between
#                    any two replies after it, and from the newest reply until now;
#   TD_GAP_FIRST_MS  from the last reply at or before the event to the first one after it (or
#                    until now: the stream is still silent);
#   TD_GAP_TRAIL_MS  from the newest reply until now;
#   TD_GAP_AFTER     replies that arrived after the event.
# A tunnel that never comes back therefore shows a gap growing with the time waited, never 0.
ping_gap_since() {
  local out
  out=$(ping_replies "$1" | awk -v ev="$2" -v now="$(td_now_ms)" '
    $2 <= ev { last = $2; next }
    { n++; if (n == 1) first = $2; t[n] = $2 }
    END {
      if (last == "") last = ev
      if (n == 0) { g = now - last; printf "%d %d %d 0\n", g, g, g; exit }
      gap = first - last; g1 = gap
      for (i = 2; i <= n; i++) if (t[i] - t[i - 1] > gap) gap = t[i] - t[i - 1]
      trail = now - t[n]; if (trail < 0) trail = 0  # a reply newer than our "now"
      if (trail > gap) gap = trail
      printf "%d %d %d %d\n", gap, g1, trail, n
    }')
  read -r TD_GAP_MS TD_GAP_FIRST_MS TD_GAP_TRAIL_MS TD_GAP_AFTER <<<"$out"
}

# td_kill_on_log FILE ERE DELAY_MS PID: a watcher that sends SIGKILL to PID DELAY_MS after a line
# matching ERE is appended to FILE, for faults that must land inside a window of a few ms. It
# follows FILE with `tail -F` (inotify) and runs at real-time priority (chrt -f), so it reacts
# within about a millisecond even on a loaded machine; it gives up after 10 s without a match.
# td_kill_on_log_wait SECONDS then waits for it and sets TD_KOL_MATCH_MS and TD_KOL_KILL_MS
# (epoch ms; empty if nothing matched) and TD_KOL_LINE.
td_kill_on_log() {
  local out=$TD_DIR/kill-on-log.out
  rm -f "$out" "$out.ready"
  chrt -f 20 bash -c '
    file=$1 re=$2 delay=$3 pid=$4 out=$5
    exec {fd}< <(exec tail -n0 -F "$file" 2>/dev/null)
    tail_pid=$!
    : >"$out.ready"
    while IFS= read -r -t 10 -u "$fd" line; do
      [[ $line =~ $re ]] || continue
      t=$((${EPOCHREALTIME/./} / 1000))
      while ((${EPOCHREALTIME/./} / 1000 < t + delay)); do :; done
      kill -KILL "$pid"
      printf "%s %s %s\n" "$t" "$((${EPOCHREALTIME/./} / 1000))" "$line" >"$out"
      break
    done
    kill "$tail_pid" 2>/dev/null
  ' td-kill-on-log "$1" "$2" "$3" "$4" "$out" &
  TD_KOL_PID=$!
  td_track "$TD_KOL_PID"
  wait_for 5 "the log watcher to start" test -e "$out.ready"
  sleep 0.2 # tail has opened the file and sits at its end
}
td_kill_on_log_wait() {
  local out=$TD_DIR/kill-on-log.out
  wait_for "$1" "the log watcher to end" td_not_alive "$TD_KOL_PID"
  wait "$TD_KOL_PID" 2>/dev/null || true
  TD_KOL_MATCH_MS='' TD_KOL_KILL_MS='' TD_KOL_LINE=''
  [[ -s $out ]] && read -r TD_KOL_MATCH_MS TD_KOL_KILL_MS TD_KOL_LINE <"$out"
  return 0
}

# ping_fresh [NS] [DEST]: one new echo (sent now, not the stream's history) is answered.
ping_fresh() {
  ip netns exec "${1:-$TD_NS_CLIENT}" ping -n -q -c 1 -W 1 "${2:-$TD_INSIDE_IP}" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# tandemctl against this test's tandemd

# The admin socket named in the test's config.
td_admin_socket() {
  sed -n 's/^admin_socket *= *"\(.*\)"/\1/p' "${TD_CONFIG:?write_config first}"
}

# tctl ARGS...: tandemctl in the headend namespace, on this test's admin socket.
tctl() { ip netns exec "$TD_NS_HEADEND" "$TD_TANDEMCTL" --socket "$(td_admin_socket)" "$@"; }

# sessions_jq JQ_FILTER [SHOW_ARGS...]: `show sessions --json [SHOW_ARGS]` through jq -r.
sessions_jq() {
  command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"
  local filter=$1 out
  shift
  out=$(tctl show sessions --json "$@") || fail "tandemctl show sessions --json $* failed"
  jq -r "$filter" <<<"$out"
}

# listed INDEX: the session is in `show sessions`.
listed() { [[ $(sessions_jq "[.sessions[] | select(.index == \"$1\")] | length") == 1 ]]; }
