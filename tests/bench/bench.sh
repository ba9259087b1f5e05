#!/usr/bin/env bash
# Side-by-side benchmark of tandemd and ocserv, both driven by the real openconnect, in ONE run on
# ONE network-namespace topology. Not a test: it is not registered with CTest and asserts nothing
# about speed; it measures and prints one table (also written as Markdown to --out).
# See tests/bench/README.md for what each figure means. Needs root.
#
# Topology (every address lives only inside namespaces this script creates):
#
#   client ns  10.200.0.2/24 --veth-- 10.200.0.1/24  headend ns (tandemd or ocserv, :4443 TCP+UDP)
#                                     10.201.0.1/24 --veth-- 10.201.0.2/24  inside ns (iperf3 -s)
#   client ns k (k = 1..--clients, memory figure only)
#              10.210.k.2/24 --veth-- 10.210.k.1/24  headend ns
#
# The two servers run in turn in the headend ns on the same address and port; the other one is
# stopped (and checked to be gone) first. VPN pool 10.77.0.0/24, split route 10.201.0.0/24.
#
# Hygiene: traffic stays inside these namespaces; every wait and loop is bounded; the whole run is
# bounded by --deadline; on EXIT/INT/TERM the trap stops, by PID, everything the script started,
# then kills whatever is left inside its own namespaces and deletes them.

set -euo pipefail
set -o errtrace
shopt -s inherit_errexit

SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${TANDEM_BUILD_DIR:-$SRC_DIR/build}
TANDEMD=$BUILD_DIR/node/tandemd
TANDEMCTL=$BUILD_DIR/node/tandemctl
OCSERV=${OCSERV:-/usr/sbin/ocserv}

OUT=/tmp/tandem-bench.md
DURATION=10      # seconds per iperf3 transfer
CONNECT_RUNS=10  # connect-time samples per server
LOGIN_RUNS=20    # sequential `openconnect --authenticate` per server
CLIENTS=5        # concurrent clients for the memory-per-client figure
PARALLEL=4,8     # clients at once for the many-clients figures (--parallel; "none": skipped)
MTU=1434         # tandem's policy mtu; 1434 is what ocserv negotiates on a 1500-byte veth
DEADLINE=        # seconds, whole run (default: scaled with --samples, see below)
SAMPLES=3        # rounds; each figure is the median of its rounds (order alternates per round)
ALLOW_DIRTY=0
NCPU=$(nproc)
# Pinning: the server under test (either one) on the last CPU, everything on the client side
# (openconnect, iperf3 client and server, the probe loop) on the others; one CPU: all on CPU 0.
if ((NCPU >= 2)); then
  SERVER_CPUS=$((NCPU - 1))
  CLIENT_CPUS=0
  ((NCPU == 2)) || CLIENT_CPUS=0-$((NCPU - 2))
else
  SERVER_CPUS=0
  CLIENT_CPUS=0
fi
KEEP=0
PERF=0
SAME_HASH=1      # both servers check one SHA-512-crypt hash (--own-hashes: each its default)
SERVERS=(tandem ocserv)

usage() {
  cat <<EOF
Usage: $0 [options]          (as root)
  --out FILE            Markdown copy of the table (default $OUT)
  --duration S          seconds per iperf3 transfer, 2..120 (default $DURATION)
  --connect-runs N      connect-time samples per server, 1..50 (default $CONNECT_RUNS)
  --login-runs N        sequential logins per server for the login rate, 1..200 (default $LOGIN_RUNS)
  --clients N           concurrent clients for memory per client, 1..50 (default $CLIENTS)
  --parallel LIST       client counts (1..16, comma-separated) for the many-clients figures:
                        that many DTLS clients transfer at once, server and clients on every
                        CPU (default $PARALLEL; "none" skips them)
  --mtu N               tunnel MTU offered by both servers, 576..1434 (default $MTU, what ocserv
                        negotiates with DTLS on a 1500-byte link); in the TLS-only phase ocserv is
                        restarted with its link mtu set so that it offers the same value
  --samples N           rounds, 1..9 (default $SAMPLES; fewer than 3 is marked as a draft); the
                        order of the servers alternates per round; each figure is the median
  --server-cpus LIST    taskset CPU list for the server under test (default $SERVER_CPUS)
  --client-cpus LIST    taskset CPU list for openconnect, iperf3, ping (default $CLIENT_CPUS)
  --allow-dirty         measure although the source tree has uncommitted changes (stated in the
                        output; without it the script refuses)
  --only tandem|ocserv  benchmark one server only (debugging)
  --perf                after the measurements, profile each server with perf during an extra
                        TLS-only and DTLS download and upload; top symbols go to <out>-perf.txt
  --deadline S          bound for the whole run, 60..14400 (default 150 + 600 per sample)
  --keep                keep the work directory (logs, configs) even on success
  --own-hashes          each server's own default password hash (tandem: yescrypt, ~15 ms a
                        check; ocserv: SHA-256-crypt) instead of one shared SHA-512-crypt hash
Environment: TANDEM_BUILD_DIR (default <repo>/build), OCSERV (default /usr/sbin/ocserv),
  OC_VERBOSITY (openconnect's, default -v; -vv logs every packet: debugging only),
  PERF_CALLGRAPH (perf record --call-graph, default fp; dwarf gives callers in tandemd),
  TUN_OFFLOAD (true|false: tandemd's [node] tun_offload; default: tandemd's default),
  DATA_THREADS (0..256: tandemd's [node] data_threads; default: tandemd's default, one per CPU).
EOF
}

die() {
  printf '[bench] ERROR: %s\n' "$*" >&2
  exit 1
}

int_arg() { # NAME VALUE MIN MAX
  [[ $2 =~ ^[0-9]+$ ]] && (($2 >= $3 && $2 <= $4)) || die "$1 must be an integer in $3..$4, got '$2'"
  printf '%s\n' "$2"
}

while (($#)); do
  case $1 in
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --duration) DURATION=$(int_arg --duration "${2:-}" 2 120); shift 2 ;;
    --connect-runs) CONNECT_RUNS=$(int_arg --connect-runs "${2:-}" 1 50); shift 2 ;;
    --login-runs) LOGIN_RUNS=$(int_arg --login-runs "${2:-}" 1 200); shift 2 ;;
    --clients) CLIENTS=$(int_arg --clients "${2:-}" 1 50); shift 2 ;;
    --parallel) PARALLEL=${2:?--parallel needs a value}; shift 2 ;;
    --mtu) MTU=$(int_arg --mtu "${2:-}" 576 1434); shift 2 ;;
    --deadline) DEADLINE=$(int_arg --deadline "${2:-}" 60 14400); shift 2 ;;
    --samples) SAMPLES=$(int_arg --samples "${2:-}" 1 9); shift 2 ;;
    --server-cpus) SERVER_CPUS=${2:?--server-cpus needs a value}; shift 2 ;;
    --client-cpus) CLIENT_CPUS=${2:?--client-cpus needs a value}; shift 2 ;;
    --allow-dirty) ALLOW_DIRTY=1; shift ;;
    --only)
      [[ ${2:-} == tandem || ${2:-} == ocserv ]] || die "--only takes tandem or ocserv"
      SERVERS=("$2"); shift 2 ;;
    --perf) PERF=1; shift ;;
    --keep) KEEP=1; shift ;;
    --own-hashes) SAME_HASH=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done

[[ $SERVER_CPUS =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "--server-cpus: a CPU list like 1 or 2-3, got '$SERVER_CPUS'"
[[ $CLIENT_CPUS =~ ^[0-9]+([,-][0-9]+)*$ ]] || die "--client-cpus: a CPU list like 0 or 0-1, got '$CLIENT_CPUS'"
[[ ${TUN_OFFLOAD:-true} =~ ^(true|false)$ ]] || die "TUN_OFFLOAD: true or false, got '$TUN_OFFLOAD'"
[[ ${DATA_THREADS:-0} =~ ^[0-9]{1,3}$ ]] || die "DATA_THREADS: a number 0..256, got '$DATA_THREADS'"
# A sample (one server phase) took about 150-400 s on the 2-CPU host depending on its load.
[[ -n $DEADLINE ]] || DEADLINE=$((150 + 600 * SAMPLES))
[[ $PARALLEL == none ]] && PARALLEL=
[[ -z $PARALLEL || $PARALLEL =~ ^([1-9]|1[0-6])(,([1-9]|1[0-6]))*$ ]] ||
  die "--parallel: client counts 1..16 separated by commas, or none; got '$PARALLEL'"
# Client namespaces: enough for the memory figure and for the largest --parallel count.
NS_CLIENTS=$CLIENTS
for k in ${PARALLEL//,/ }; do ((k > NS_CLIENTS)) && NS_CLIENTS=$k; done

# ---------------------------------------------------------------------------------------------
# Names and addresses

BID="tb$$"                  # interface prefix (interface names must fit 15 characters)
NS_CLI=$BID-cli
NS_HUB=$BID-hub
NS_IN=$BID-in
SERVER_IP=10.200.0.1
CLIENT_IP=10.200.0.2
INSIDE_GW=10.201.0.1
INSIDE_IP=10.201.0.2
INSIDE_NET=10.201.0.0/24
POOL_NET=10.77.0.0
PORT=4443
URL=https://$SERVER_IP:$PORT/
IPERF_PORT=5201
USER_NAME=bench
PASS="bench-$RANDOM$RANDOM$RANDOM"
SHARED_HASH=$(openssl passwd -6 "$PASS")
CLK_TCK=$(getconf CLK_TCK)

T0_US=${EPOCHREALTIME/./}
now_us() { echo "${EPOCHREALTIME/./}"; }
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
say() {
  local ms=$(($(now_ms) - T0_US / 1000))
  printf '[bench +%d.%ds] %s\n' $((ms / 1000)) $((ms % 1000 / 100)) "$*" >&2
}

# ---------------------------------------------------------------------------------------------
# Cleanup: by PID, then whatever is left in our own namespaces, then the namespaces.

PIDS=()
NETNS=()
WORK=
FAILED=1

alive() {
  local state
  state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}
# Only signal a recorded PID while it is still our child (never a recycled PID of someone else).
ours() {
  local ppid
  ppid=$(awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
  [[ $ppid == "$$" ]]
}
track() { PIDS+=("$1"); }

cleanup() {
  local rc=$? i pid ns deadline
  set +e
  trap - EXIT INT TERM ERR
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    pid=${PIDS[i]}
    alive "$pid" && ours "$pid" && kill -TERM "$pid" 2>/dev/null
  done
  deadline=$(($(now_ms) + 5000))
  for pid in "${PIDS[@]}"; do
    while alive "$pid" && (($(now_ms) < deadline)); do sleep 0.05; done
    alive "$pid" && ours "$pid" && kill -KILL "$pid" 2>/dev/null
  done
  # Backstop: anything still running inside one of OUR namespaces was started by this script.
  for ns in "${NETNS[@]}"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ((i = ${#NETNS[@]} - 1; i >= 0; i--)); do
    ip netns del "${NETNS[i]}" 2>/dev/null || printf '[bench] warning: could not delete netns %s\n' \
      "${NETNS[i]}" >&2
  done
  if [[ -n $WORK && -d $WORK ]]; then
    if ((rc == 0 && KEEP == 0 && FAILED == 0)); then
      rm -rf "$WORK"
    else
      printf '[bench] logs kept in %s\n' "$WORK" >&2
    fi
  fi
  exit "$rc"
}
trap 'printf "[bench] command failed (rc=%s) at line %s: %s\n" "$?" "$LINENO" "$BASH_COMMAND" >&2' ERR
trap cleanup EXIT
trap 'say "interrupted"; exit 130' INT TERM

(($(id -u) == 0)) || die "needs root (network namespaces, tun devices)"

# Watchdog: bound the whole run; SIGTERM to the main shell runs the trap.
(
  s=
  trap '[[ -n $s ]] && kill "$s" 2>/dev/null; exit 0' TERM
  sleep "$DEADLINE" &
  s=$!
  wait "$s"
  echo "[bench] watchdog: run exceeded ${DEADLINE}s" >&2
  kill -TERM $$
) &
track $!

# ---------------------------------------------------------------------------------------------
# Preflight

for tool in openconnect iperf3 jq openssl ocpasswd ip ss ping awk taskset git; do
  command -v "$tool" >/dev/null || die "missing tool: $tool"
done
if [[ " ${SERVERS[*]} " == *" ocserv "* ]]; then
  [[ -x $OCSERV ]] || die "ocserv not found at $OCSERV (apt-get install ocserv)"
fi
if [[ " ${SERVERS[*]} " == *" tandem "* ]]; then
  if [[ ! -x $TANDEMD || ! -x $TANDEMCTL ]]; then
    say "tandemd/tandemctl missing: ninja -C $BUILD_DIR"
    timeout 900 ninja -C "$BUILD_DIR" >&2 || die "build failed"
  fi
fi
OC_VERSION=$(openconnect --version 2>/dev/null | sed -n 's/^OpenConnect version //p' | head -n1)
[[ $OC_VERSION == v9.01* ]] || say "warning: openconnect $OC_VERSION (figures were made with v9.01)"
OCSERV_VERSION=$("$OCSERV" --version 2>&1 | head -n1 || true)  # printed on stderr
IPERF_VERSION=$(iperf3 --version 2>/dev/null | head -n1 | awk '{print $2}')

# What was measured: the script's commit, and the commit of the tree the binaries were built from
# (TANDEM_BUILD_DIR may belong to another checkout). A recorded result comes from clean trees.
SRC_REV=$(git -C "$SRC_DIR" describe --always --dirty 2>/dev/null || echo '?')
BIN_TREE=$(git -C "$BUILD_DIR" rev-parse --show-toplevel 2>/dev/null || true)
BIN_REV=$([[ -n $BIN_TREE ]] && git -C "$BIN_TREE" describe --always --dirty 2>/dev/null || echo '?')
DIRTY=0
[[ $SRC_REV == *-dirty || $SRC_REV == '?' ]] && DIRTY=1
[[ " ${SERVERS[*]} " == *" tandem "* && ( $BIN_REV == *-dirty || $BIN_REV == '?' ) ]] && DIRTY=1
if ((DIRTY && !ALLOW_DIRTY)); then
  die "uncommitted changes or no git: script tree $SRC_DIR at $SRC_REV, binaries' tree ${BIN_TREE:-?} at $BIN_REV; commit first, or pass --allow-dirty (the output then says so)"
fi
# A binary older than its tree's HEAD commit was built from an earlier commit: say so, and name
# the newest commit older than the binary (what it was most likely built from).
BIN_STALE=
if [[ -n $BIN_TREE && -x $TANDEMD ]]; then
  bin_t=$(stat -c %Y "$TANDEMD")
  if (($(git -C "$BIN_TREE" log -1 --format=%ct) > bin_t)); then
    BIN_STALE=$(git -C "$BIN_TREE" log -1 --format=%h --before="@$bin_t" 2>/dev/null || echo '?')
  fi
fi
KERNEL=$(uname -r)
CPU_MODEL=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
RMEM_MAX=$(sysctl -n net.core.rmem_max)
WMEM_MAX=$(sysctl -n net.core.wmem_max)
# taskset must accept the lists on this machine (a CPU that does not exist fails here).
taskset -c "$SERVER_CPUS" true 2>/dev/null || die "taskset -c $SERVER_CPUS fails on this machine"
taskset -c "$CLIENT_CPUS" true 2>/dev/null || die "taskset -c $CLIENT_CPUS fails on this machine"

mkdir -p "$(dirname "$OUT")"
WORK=$(mktemp -d /tmp/tandem-bench.XXXXXX)
chmod 0755 "$WORK"  # ocserv's workers run as nobody
TANDEMD_BUILT=
if [[ " ${SERVERS[*]} " == *" tandem "* ]]; then
  # Run private copies: the build tree may be rebuilt while we run (and perf needs the file).
  TANDEMD_BUILT=$(date -u -r "$TANDEMD" '+%Y-%m-%d %H:%M UTC')
  cp "$TANDEMD" "$WORK/tandemd"
  cp "$TANDEMCTL" "$WORK/tandemctl"
  TANDEMD=$WORK/tandemd
  TANDEMCTL=$WORK/tandemctl
fi
VPNC_SCRIPT=$WORK/vpnc-script
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Topology

netns_add() {
  ip netns add "$1"
  NETNS+=("$1")
  ip -n "$1" link set lo up
}

# veth_pair NS_A IF_A ADDR_A NS_B IF_B ADDR_B: both ends created inside their namespaces.
veth_pair() {
  ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
  ip -n "$1" addr add "$3" dev "$2"
  ip -n "$4" addr add "$6" dev "$5"
  ip -n "$1" link set "$2" up
  ip -n "$4" link set "$5" up
}

setup_topology() {
  local k
  say "topology: $NS_CLI -- $NS_HUB -- $NS_IN, plus $NS_CLIENTS client namespaces $BID-c1..c$NS_CLIENTS"
  netns_add "$NS_HUB"
  netns_add "$NS_CLI"
  netns_add "$NS_IN"
  veth_pair "$NS_CLI" "${BID}c0" "$CLIENT_IP/24" "$NS_HUB" "${BID}h0" "$SERVER_IP/24"
  veth_pair "$NS_HUB" "${BID}hi" "$INSIDE_GW/24" "$NS_IN" "${BID}in" "$INSIDE_IP/24"
  ip -n "$NS_IN" route add "$POOL_NET/24" via "$INSIDE_GW"
  ip netns exec "$NS_HUB" sysctl -qw net.ipv4.ip_forward=1
  for ((k = 1; k <= NS_CLIENTS; k++)); do
    netns_add "$BID-c$k"
    veth_pair "$BID-c$k" "${BID}c$k" "10.210.$k.2/24" "$NS_HUB" "${BID}h$k" "10.210.$k.1/24"
    ip -n "$BID-c$k" route add 10.200.0.0/24 via "10.210.$k.1"
  done
}

listening() { # NS PROTO(t|u) PORT
  ip netns exec "$1" ss -Hn"$2"l "sport = :$3" 2>/dev/null | grep -q .
}

# poll_until SECONDS CMD...: every 50 ms until CMD succeeds (0) or time is up (1).
poll_until() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  while true; do
    if "$@"; then return 0; fi
    (($(now_ms) < deadline)) || return 1
    sleep 0.05
  done
}
not_alive() { ! alive "$1"; }

# ---------------------------------------------------------------------------------------------
# Servers

SERVER=
SERVER_PID=
OCSERV_LINK_MTU=
ROUND=1
LOGDIR=
SERVER_LOG=
PIN=

ppid_of() { awk '/^PPid:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# PIDs in the headend ns that descend from the server we started (ocserv: main, sec-mod, workers).
server_pids() {
  local pid p depth
  [[ -n $SERVER_PID ]] || return 0
  for pid in $(ip netns pids "$NS_HUB" 2>/dev/null); do
    p=$pid
    for ((depth = 0; depth < 8; depth++)); do
      if [[ $p == "$SERVER_PID" ]]; then
        echo "$pid"
        break
      fi
      p=$(ppid_of "$p") || break
      [[ -n $p && $p != 0 && $p != 1 ]] || break
    done
  done
}

sum_status_kb() { # FIELD (VmRSS) over the server's processes
  local pid total=0 v
  for pid in $(server_pids); do
    v=$(awk -v f="$1:" '$1 == f {print $2}' "/proc/$pid/status" 2>/dev/null) || v=0
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
server_rss_kb() { sum_status_kb VmRSS; }
# Anonymous memory actually used by the server's process group: the sum of Pss_Anon. Anonymous
# pages are shared only between a process and its forks, so the sum counts each page once (ocserv's
# copy-on-write pages are split between main and workers). File pages (libraries) are left out:
# their RSS/PSS/"private" share changes when unrelated processes (openconnect, iperf3) map the
# same libraries (libcrypto), which made those figures drift, even negative, for tandemd.
server_anon_kb() {
  local pid total=0 v
  for pid in $(server_pids); do
    v=$(awk '$1 == "Pss_Anon:" {print $2}' "/proc/$pid/smaps_rollup" 2>/dev/null) || v=0
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
# stat_ticks FILE: utime+stime from a /proc stat file (comm may contain spaces: cut after the
# last ')'); 0 when it is gone.
stat_ticks() {
  local s
  s=$(cat "$1" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  awk '{print $12 + $13}' <<<"$s"
}
proc_ticks() { stat_ticks "/proc/$1/stat"; } # PID
# Every thread of the server processes, a line each: "TID TICKS NAME".
thread_ticks() {
  local pid t
  for pid in $(server_pids); do
    for t in /proc/"$pid"/task/*; do
      echo "${t##*/} $(stat_ticks "$t/stat") $(cat "$t/comm" 2>/dev/null)"
    done
  done
}
# busiest_threads BEFORE AFTER SECONDS: the threads that used the most CPU between two
# thread_ticks files (a thread born in between counts from 0), busiest first, at most 4, as
# "PERCENT NAME, PERCENT NAME...": the first figure is the busiest thread's % of one core.
busiest_threads() {
  awk -v hz="$CLK_TCK" -v secs="$3" 'FILENAME == ARGV[1] {a[$1] = $2; next}
    {printf "%.0f %s\n", ($2 - a[$1]) / hz / secs * 100, $3}' "$1" "$2" |
    sort -k1,1nr | head -4 | paste -sd, - | sed 's/,/, /g'
}
server_ticks() {
  local pid total=0
  for pid in $(server_pids); do total=$((total + $(proc_ticks "$pid"))); done
  echo "$total"
}

# CPU sets the kernel applies (taskset's mask is inherited by forks and threads: checked, not
# assumed): every thread of every server process, as "list" or "list1 list2" when they differ.
affinity_of() { # PID: the distinct Cpus_allowed_list of its threads
  local t
  for t in /proc/"$1"/task/*/status; do awk '/^Cpus_allowed_list:/ {print $2}' "$t" 2>/dev/null; done |
    sort -u | paste -sd' ' -
}
server_affinity() {
  local pid
  for pid in $(server_pids); do affinity_of "$pid" | tr ' ' '\n'; done | sort -u | paste -sd' ' -
}

hub_empty() { [[ -z $(ip netns pids "$NS_HUB" 2>/dev/null) ]]; }

write_tandem_config() {
  local d=$WORK/tandem
  mkdir -p "$d/state"
  cat >"$d/tandemd.toml" <<EOF
[node]
id = "bench"
listen = "$SERVER_IP:$PORT"
admin_socket = "$d/admin.sock"
state_dir = "$d/state"
log_level = "info"
tun_name = "tandem0"
${TUN_OFFLOAD:+tun_offload = $TUN_OFFLOAD}
${DATA_THREADS:+data_threads = $DATA_THREADS}

[auth]
users_file = "$d/users"

[pool]
ipv4 = "$POOL_NET/24"
routes = ["$INSIDE_NET"]

[policy.default]
idle_timeout = "20m"
session_timeout = "24h"
dpd_interval = "30s"
keepalive = "60s"
mtu = $MTU
simultaneous_logins = 0
EOF
  if [[ $SAME_HASH == 1 ]]; then
    # Both servers check the very same SHA-512-crypt hash, so the login rate compares the
    # headends, not their default password hashes (tandemctl passwd makes yescrypt, ~15 ms).
    printf '%s:%s\n' "$USER_NAME" "$SHARED_HASH" >"$d/users"
    chmod 0600 "$d/users"
  else
    printf '%s\n' "$PASS" | "$TANDEMCTL" passwd --users-file "$d/users" "$USER_NAME" >/dev/null ||
      die "tandemctl passwd failed"
  fi
}

write_ocserv_config() {
  local d=$WORK/ocserv
  mkdir -p "$d"
  chmod 0755 "$d"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$d/server-key.pem" -out "$d/server-cert.pem" -days 2 -subj "/CN=vpn.test" \
    -addext "subjectAltName=DNS:vpn.test,IP:$SERVER_IP" >/dev/null 2>&1 || die "openssl req failed"
  if [[ $SAME_HASH == 1 ]]; then
    printf '%s:*:%s\n' "$USER_NAME" "$SHARED_HASH" >"$d/passwd"
  else
    printf '%s\n%s\n' "$PASS" "$PASS" | timeout 10 ocpasswd -c "$d/passwd" "$USER_NAME" >/dev/null ||
      die "ocpasswd failed"
  fi
  # anyconnect-protocol.md section 9.7, plus: the bench's pool/route, unlimited clients, no bans.
  cat >"$d/ocserv.conf" <<EOF
auth = "plain[passwd=$d/passwd]"
listen-host = $SERVER_IP
tcp-port = $PORT
udp-port = $PORT
run-as-user = nobody
run-as-group = nogroup
socket-file = $d/ocserv-socket
occtl-socket-file = $d/occtl.socket
use-occtl = true
isolate-workers = false
server-cert = $d/server-cert.pem
server-key = $d/server-key.pem
keepalive = 60
dpd = 30
mobile-dpd = 30
tls-priorities = "NORMAL:%SERVER_PRECEDENCE"
idle-timeout = 1200
session-timeout = 86400
cookie-timeout = 300
max-ban-score = 0
max-clients = 0
max-same-clients = 0
pid-file = $d/ocserv.pid
device = vpns
ipv4-network = $POOL_NET
ipv4-netmask = 255.255.255.0
route = $POOL_NET/255.255.255.0
route = 10.201.0.0/255.255.255.0
cisco-client-compat = true
dtls-legacy = true
banner = "ocserv bench"
EOF
  # ocserv's `mtu` is the link MTU it assumes; it subtracts its own overhead per transport. Unset,
  # it offers 1434 with DTLS but 1472 without on a 1500-byte veth; the TLS-only phase sets it so
  # that the client gets the same MTU as from tandemd (checked on the client's tun device).
  [[ -z $OCSERV_LINK_MTU ]] || echo "mtu = $OCSERV_LINK_MTU" >>"$d/ocserv.conf"
}

tandem_ready() {
  alive "$SERVER_PID" || return 2
  grep -Eq '^[^ ]+ [a-z]+ listening( |$)' "$SERVER_LOG"
}
ocserv_ready() {
  alive "$SERVER_PID" || return 2
  listening "$NS_HUB" t "$PORT" && listening "$NS_HUB" u "$PORT"
}

start_server() {
  SERVER=$1
  LOGDIR=$WORK/$SERVER/r$ROUND
  mkdir -p "$LOGDIR"
  SERVER_LOG=$LOGDIR/server${OCSERV_LINK_MTU:+-tls}.log
  poll_until 10 hub_empty || die "headend ns not empty before starting $SERVER"
  ! listening "$NS_HUB" t "$PORT" || die "port $PORT already taken in $NS_HUB"
  case $SERVER in
    tandem)
      write_tandem_config
      : >"$SERVER_LOG"
      ip netns exec "$NS_HUB" taskset -c "$SERVER_CPUS" "$TANDEMD" --config "$WORK/tandem/tandemd.toml" >>"$SERVER_LOG" 2>&1 &
      SERVER_PID=$!
      track "$SERVER_PID"
      poll_until 20 tandem_ready || die "tandemd did not start (see $SERVER_LOG)"
      # `tls_self_signed pin="pin-sha256:..."` (quotes optional)
      PIN=$(sed -En 's/^[^ ]+ [a-z]+ tls_self_signed .*pin="?(pin-sha256:[A-Za-z0-9+\/=]+).*/\1/p' \
        "$SERVER_LOG" | tail -n1)
      ;;
    ocserv)
      write_ocserv_config
      : >"$SERVER_LOG"
      ip netns exec "$NS_HUB" taskset -c "$SERVER_CPUS" "$OCSERV" -f -c "$WORK/ocserv/ocserv.conf" >>"$SERVER_LOG" 2>&1 &
      SERVER_PID=$!
      track "$SERVER_PID"
      poll_until 20 ocserv_ready || die "ocserv did not start (see $SERVER_LOG)"
      PIN=pin-sha256:$(openssl x509 -in "$WORK/ocserv/server-cert.pem" -pubkey -noout |
        openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
      ;;
  esac
  [[ $PIN =~ ^pin-sha256:[A-Za-z0-9+/]{43}=$ ]] || die "no certificate pin for $SERVER"
  say "$SERVER started: pid $SERVER_PID, $PIN"
}

stop_server() {
  local pid
  say "stopping $SERVER (SIGTERM to pid $SERVER_PID)"
  alive "$SERVER_PID" && kill -TERM "$SERVER_PID" 2>/dev/null
  poll_until 10 not_alive "$SERVER_PID" || kill -KILL "$SERVER_PID" 2>/dev/null || true
  # Workers (ocserv) must go too; whatever is left in OUR headend ns is ours to kill.
  if ! poll_until 5 hub_empty; then
    for pid in $(ip netns pids "$NS_HUB" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    poll_until 5 hub_empty || die "processes left in $NS_HUB after stopping $SERVER"
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# ---------------------------------------------------------------------------------------------
# openconnect

write_vpnc_script() {
  cat >"$VPNC_SCRIPT" <<'EOF'
#!/bin/sh
# Minimal vpnc-script (anyconnect-protocol.md section 9.3): tun device and split routes only.
case "$reason" in
  connect)
    ip link set dev "$TUNDEV" up mtu "$INTERNAL_IP4_MTU"
    ip addr add "$INTERNAL_IP4_ADDRESS/32" peer "$INTERNAL_IP4_ADDRESS" dev "$TUNDEV"
    i=0
    while [ "$i" -lt "${CISCO_SPLIT_INC:-0}" ]; do
      eval NET=\$CISCO_SPLIT_INC_${i}_ADDR
      eval LEN=\$CISCO_SPLIT_INC_${i}_MASKLEN
      ip route replace "$NET/$LEN" dev "$TUNDEV"
      i=$((i + 1))
    done
    ;;
  disconnect)
    ip link set dev "$TUNDEV" down 2>/dev/null || true
    ;;
esac
exit 0
EOF
  chmod 0755 "$VPNC_SCRIPT"
}

declare -A C_PID=() C_LOG=() C_IF=() C_NS=() C_LOGPOS=()
C_SEQ=0

# client_start ID NS [OPENCONNECT_ARGS...]: background openconnect, password on stdin.
client_start() {
  local id=$1 ns=$2
  shift 2
  C_SEQ=$((C_SEQ + 1))
  C_IF[$id]=${BID}t$C_SEQ
  C_NS[$id]=$ns
  C_LOG[$id]=$LOGDIR/client-$id.log
  C_LOGPOS[$id]=$(wc -l <"$SERVER_LOG")  # server log lines before this client
  ip netns exec "$ns" taskset -c "$CLIENT_CPUS" openconnect --protocol=anyconnect --non-inter --user="$USER_NAME" \
    --passwd-on-stdin --servercert "$PIN" --script "$VPNC_SCRIPT" --interface "${C_IF[$id]}" \
    --timestamp "${OC_VERBOSITY:--v}" "$@" "$URL" >"${C_LOG[$id]}" 2>&1 <<<"$PASS" &
  C_PID[$id]=$!
  track "${C_PID[$id]}"
}

client_ip() {
  { ip -n "${C_NS[$1]}" -4 -o addr show dev "${C_IF[$1]}" 2>/dev/null || true; } |
    awk '{split($4, a, "/"); print a[1]; exit}'
}
client_mtu() {
  ip -n "${C_NS[$1]}" -o link show dev "${C_IF[$1]}" 2>/dev/null | grep -Eo 'mtu [0-9]+' | awk '{print $2}'
}
client_up() {
  alive "${C_PID[$1]}" || return 2
  grep -q 'Configured as ' "${C_LOG[$1]}" && [[ -n $(client_ip "$1") ]]
}
client_dtls() { grep -q 'Established DTLS connection' "${C_LOG[$1]}"; }

tandem_events() { awk -v e="$1" '$3 == e {n++} END {print n + 0}' "$SERVER_LOG"; }

# tandemd log lines about this client's tunnel KIND (ssl|dtls), logged since the client started.
tandem_tunnel_up() { # ID KIND
  local ip
  ip=$(client_ip "$1")
  [[ -n $ip ]] || return 1
  awk -v from="$((C_LOGPOS[$1] + 1))" -v kind="kind=$2" -v ip="ip=$ip" '
    NR >= from && $3 == "tunnel_up" { k = 0; a = 0
      for (i = 4; i <= NF; i++) { if ($i == kind) k = 1; if ($i == ip) a = 1 }
      if (k && a) found = 1 }
    END { exit !found }' "$SERVER_LOG"
}

# The server's side of the DTLS tunnel: tandemd logs `tunnel_up ... kind=dtls ... ip=<client>`.
# (ocserv logs through syslog only; for it the client's log line is the evidence.)
server_dtls() {
  case $SERVER in
    tandem) tandem_tunnel_up "$1" dtls ;;
    ocserv) return 0 ;;
  esac
}

# The client really talked to the server under test: the pin (--servercert) already ties the TLS
# session to this server's key; on top, the client connected to our address, and the server saw
# the tunnel (tandemd's log, or ocserv's occtl listing the client's address).
verify_server() {
  local id=$1 ip
  ip=$(client_ip "$id")
  grep -q "Connected to HTTPS on $SERVER_IP with ciphersuite" "${C_LOG[$id]}" || return 1
  case $SERVER in
    tandem) tandem_tunnel_up "$id" ssl ;;
    ocserv)
      timeout 5 ip netns exec "$NS_HUB" occtl -s "$WORK/ocserv/occtl.socket" -j show users \
        2>/dev/null | jq -e --arg ip "$ip" '[.[] | select(.IPv4 == $ip)] | length > 0' >/dev/null
      ;;
  esac
}

# client_stop ID: SIGINT = logout with BYE; bounded wait, then SIGKILL.
client_stop() {
  local pid=${C_PID[$1]}
  alive "$pid" && kill -INT "$pid" 2>/dev/null
  poll_until 15 not_alive "$pid" || { kill -KILL "$pid" 2>/dev/null || true; }
  wait "$pid" 2>/dev/null || true
}

ping_ok() { # NS [COUNT]
  ip netns exec "$1" taskset -c "$CLIENT_CPUS" ping -n -q -c "${2:-3}" -i 0.2 -W 2 "$INSIDE_IP" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# Results: R[server.key] = number or a short message.

declare -A R=()
declare -A RR=()  # RR[server.key#round] = R[server.key] of that round
NOTES=()
note() { NOTES+=("$*"); say "note: $*"; }

median() { sort -n | awk '{a[NR] = $1} END {if (NR == 0) exit 1; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
maxof() { sort -n | tail -n1; }

# ---------------------------------------------------------------------------------------------
# Throughput

IPERF_SRV_PID=
start_iperf_server() {
  ip netns exec "$NS_IN" taskset -c "$CLIENT_CPUS" iperf3 -s -B "$INSIDE_IP" -p "$IPERF_PORT" >"$WORK/iperf3-server.log" 2>&1 &
  IPERF_SRV_PID=$!
  track "$IPERF_SRV_PID"
  poll_until 10 listening "$NS_IN" t "$IPERF_PORT" || die "iperf3 -s did not start"
}

# CSTP (TCP) bytes the client ns moved to/from the headend, for checking which transport carried
# the data.
tcp_bytes() { # NS
  ip netns exec "$1" ss -Htin state established "( dst $SERVER_IP and dport = :$PORT )" 2>/dev/null |
    grep -Eo 'bytes_(acked|received):[0-9]+' | awk -F: '{s += $2} END {printf "%.0f\n", s}'
}

# Where packets were lost: UDP receive-buffer overflows (/proc/net/snmp of the namespace) and tun
# devices dropping what their reader did not take in time (tx_dropped), on both ends.
udp_rcvbuf_errors() { # NS
  ip netns exec "$1" cat /proc/net/snmp 2>/dev/null |
    awk '$1 == "Udp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else v = $c }
         END { print v + 0 }'
}
tun_tx_dropped() { # NS IF
  ip netns exec "$1" cat "/sys/class/net/$2/statistics/tx_dropped" 2>/dev/null || echo 0
}
# The headend's tun device for a client (tandem0, or ocserv's vpnsN): the route to the client's IP.
server_tun_of() { # CLIENT_ID
  ip -n "$NS_HUB" route get "$(client_ip "$1")" 2>/dev/null | grep -Eo ' dev [^ ]+' | awk '{print $2; exit}'
}
drop_snapshot() { # CLIENT_ID -> "client-udp client-tun headend-udp headend-tun"
  local stun
  stun=$(server_tun_of "$1")
  echo "$(udp_rcvbuf_errors "${C_NS[$1]}") $(tun_tx_dropped "${C_NS[$1]}" "${C_IF[$1]}")" \
    "$(udp_rcvbuf_errors "$NS_HUB") $(tun_tx_dropped "$NS_HUB" "${stun:-none}")"
}

# transfer NS DIRECTION(up|down) JSON [CLIENT_ID]: iperf3 from NS to the inside host for
# DURATION s. Sets X_MBPS (or a message), X_SCPU / X_CCPU (% of one core: server processes, the
# openconnect process), X_RSS_MAX (KB, server), X_TCP_MB (MB over CSTP/TCP meanwhile), X_RETR
# (the inner TCP's retransmits, from iperf3) and X_DROPS (drop counters' deltas, see drop_snapshot).
transfer() {
  local ns=$1 dir=$2 json=$3 id=${4:-} pid t0 t1 s0=0 s1=0 c0=0 c1=0 tb0=0 tb1=0 rss args=()
  [[ $dir == down ]] && args=(-R)
  X_MBPS=failed X_SCPU='' X_CCPU='' X_RSS_MAX=0 X_TCP_MB='' X_RETR='' X_DROPS=''
  local d0=() d1=()
  if [[ -n $id ]]; then
    read -r -a d0 <<<"$(drop_snapshot "$id")"
    tb0=$(tcp_bytes "$ns")
    s0=$(server_ticks)
    c0=$(proc_ticks "${C_PID[$id]}")
  fi
  t0=$(now_us)
  ip netns exec "$ns" taskset -c "$CLIENT_CPUS" iperf3 -c "$INSIDE_IP" -p "$IPERF_PORT" -t "$DURATION" -J "${args[@]}" \
    >"$json" 2>&1 &
  pid=$!
  track "$pid"
  local deadline=$(($(now_ms) + (DURATION + 30) * 1000))
  while alive "$pid" && (($(now_ms) < deadline)); do
    if [[ -n $id ]]; then
      rss=$(server_rss_kb)
      ((rss > X_RSS_MAX)) && X_RSS_MAX=$rss
    fi
    sleep 0.5
  done
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    poll_until 5 not_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
  t1=$(now_us)
  if [[ -n $id ]]; then
    s1=$(server_ticks)
    c1=$(proc_ticks "${C_PID[$id]}")
    tb1=$(tcp_bytes "$ns")
    X_SCPU=$(awk -v d=$((s1 - s0)) -v hz="$CLK_TCK" -v us=$((t1 - t0)) 'BEGIN {printf "%.0f", d / hz / (us / 1e6) * 100}')
    X_CCPU=$(awk -v d=$((c1 - c0)) -v hz="$CLK_TCK" -v us=$((t1 - t0)) 'BEGIN {printf "%.0f", d / hz / (us / 1e6) * 100}')
    X_TCP_MB=$(awk -v b=$((tb1 - tb0)) 'BEGIN {printf "%.1f", b / 1e6}')
    read -r -a d1 <<<"$(drop_snapshot "$id")"
    X_DROPS="client UDP rcvbuf $((d1[0] - d0[0])), client tun $((d1[1] - d0[1])), headend UDP rcvbuf $((d1[2] - d0[2])), headend tun $((d1[3] - d0[3]))"
  fi
  X_RETR=$(jq -r '.end.sum_sent.retransmits // ""' "$json" 2>/dev/null) || X_RETR=
  local bps
  bps=$(jq -r 'if .error then "" else (.end.sum_received.bits_per_second // "") end' "$json" 2>/dev/null) || bps=
  if [[ -n $bps ]]; then
    X_MBPS=$(awk -v b="$bps" 'BEGIN {printf "%.0f", b / 1e6}')
  else
    X_MBPS="iperf3 failed"
  fi
}

# The no-VPN ceiling: plain routing client ns -> headend ns -> inside ns over the same veths.
measure_ceiling() {
  say "no-VPN ceiling: iperf3 over the bare veth path, ${DURATION}s each way, $SAMPLES times"
  ip -n "$NS_CLI" route add "$INSIDE_NET" via "$SERVER_IP"
  ip -n "$NS_IN" route add 10.200.0.0/24 via "$INSIDE_GW"
  local r ups=() downs=()
  for ((r = 1; r <= SAMPLES; r++)); do
    transfer "$NS_CLI" up "$WORK/iperf-novpn-up-$r.json"
    RR[novpn.up#$r]=$X_MBPS
    ups+=("$X_MBPS")
    transfer "$NS_CLI" down "$WORK/iperf-novpn-down-$r.json"
    RR[novpn.down#$r]=$X_MBPS
    downs+=("$X_MBPS")
  done
  ip -n "$NS_CLI" route del "$INSIDE_NET" via "$SERVER_IP"
  ip -n "$NS_IN" route del 10.200.0.0/24 via "$INSIDE_GW"
  # From here on the inside host is reachable from a client only through a tunnel.
  if ip -n "$NS_CLI" route get "$INSIDE_IP" >/dev/null 2>&1; then die "bare route left behind"; fi
  say "no-VPN: up ${ups[*]} Mbit/s, down ${downs[*]} Mbit/s"
}

# throughput_mode MODE(dtls|tls|legacy): one connection, upload then download. legacy = DTLS 1.2
# resumption from X-DTLS-Master-Secret, what Cisco Secure Client speaks (docs/dtls-modes.md).
throughput_mode() {
  local mode=$1 id=tp-$1 args=() msg='' route
  [[ $mode == tls ]] && args=(--no-dtls)
  [[ $mode == legacy ]] && args=(--dtls12-ciphers=AES256-GCM-SHA384)
  say "$SERVER: throughput, $mode"
  client_start "$id" "$NS_CLI" "${args[@]}"
  if ! poll_until 30 client_up "$id"; then
    msg="no tunnel"
  elif ! verify_server "$id"; then
    msg="wrong server?"
  elif [[ $mode != tls ]]; then
    if ! poll_until 15 client_dtls "$id" || ! poll_until 5 server_dtls "$id"; then
      msg="DTLS not established"
    fi
  elif client_dtls "$id"; then
    msg="DTLS used despite --no-dtls"
  fi
  if [[ -z $msg ]]; then
    route=$(ip -n "$NS_CLI" route get "$INSIDE_IP" 2>&1 || true)
    [[ $route == *" dev ${C_IF[$id]} "* ]] || msg="route not via tunnel"
  fi
  if [[ -z $msg ]] && ! poll_until 10 ping_ok "$NS_CLI" 2; then msg="no ping through tunnel"; fi
  if [[ -n $msg ]]; then
    note "$SERVER $mode: $msg (client log $(basename "${C_LOG[$id]}"))"
    R[$SERVER.${mode}_up]=$msg
    R[$SERVER.${mode}_down]=$msg
    R[$SERVER.retr_${mode}_up]=$msg
    R[$SERVER.retr_${mode}_down]=$msg
    [[ $mode == dtls ]] && { R[$SERVER.rss_xfer]=$msg; R[$SERVER.cpu_dtls]=$msg; R[$SERVER.ccpu_dtls]=$msg; }
    [[ $mode == tls ]] && R[$SERVER.cpu_tls]=$msg
    [[ $mode == legacy ]] && R[$SERVER.cpu_legacy]=$msg
    client_stop "$id"
    return 0
  fi
  R[$SERVER.mtu_$mode]=$(client_mtu "$id")
  R[$SERVER.client_affinity]=$(affinity_of "${C_PID[$id]}")
  R[$SERVER.tls_cipher]=$(sed -n 's/.*Connected to HTTPS on [^ ]* with ciphersuite \(.*\)$/\1/p' "${C_LOG[$id]}" | tail -n1)
  [[ $mode != tls ]] && R[$SERVER.${mode}_cipher]=$(sed -n 's/.*Established DTLS connection (using [^)]*)\. Ciphersuite \(.*\)\.$/\1/p' "${C_LOG[$id]}" | tail -n1)

  local dir
  for dir in up down; do
    transfer "$NS_CLI" "$dir" "$LOGDIR/iperf-$mode-$dir.json" "$id"
    R[$SERVER.${mode}_$dir]=$X_MBPS
    R[$SERVER.cpu_${mode}_$dir]=$X_SCPU
    R[$SERVER.ccpu_${mode}_$dir]=$X_CCPU
    R[$SERVER.retr_${mode}_$dir]=${X_RETR:-n/a}
    R[$SERVER.drops_${mode}_$dir]=$X_DROPS
    # Which transport carried it: in DTLS mode CSTP/TCP must stay near zero.
    local moved_mb
    moved_mb=$(awk -v m="$X_MBPS" -v d="$DURATION" 'BEGIN {printf "%.0f", (m + 0) * d / 8}')
    if [[ $mode != tls ]] && awk -v t="$X_TCP_MB" -v m="$moved_mb" 'BEGIN {exit !(t > 0.1 * m + 1)}'; then
      note "$SERVER $mode $dir: $X_TCP_MB MB went over CSTP/TCP (DTLS fell back?)"
      R[$SERVER.${mode}_$dir]="DTLS not carrying data ($X_MBPS)"
    fi
    if [[ $mode != tls ]] && ! alive "${C_PID[$id]}"; then note "$SERVER $mode: client died"; fi
    [[ $mode == dtls && $dir == down ]] && R[$SERVER.rss_xfer]=$X_RSS_MAX
    say "$SERVER $mode $dir: ${R[$SERVER.${mode}_$dir]} Mbit/s, server CPU $X_SCPU %, openconnect CPU $X_CCPU %, TCP $X_TCP_MB MB, retransmits ${X_RETR:-?}; drops: $X_DROPS"
  done
  if [[ $mode != tls ]] && grep -Eiq 'DTLS (Dead Peer|handshake (failed|timed out))|Failed to .*DTLS' "${C_LOG[$id]}"; then
    note "$SERVER: DTLS trouble in the client log: $(grep -Eim1 'DTLS (Dead Peer|handshake (failed|timed out))|Failed to .*DTLS' "${C_LOG[$id]}")"
  fi
  R[$SERVER.cpu_dtls]=${R[$SERVER.cpu_dtls_down]:-}
  R[$SERVER.ccpu_dtls]=${R[$SERVER.ccpu_dtls_down]:-}
  R[$SERVER.cpu_tls]=${R[$SERVER.cpu_tls_down]:-}
  R[$SERVER.cpu_legacy]=${R[$SERVER.cpu_legacy_down]:-}
  client_stop "$id"
}

# ---------------------------------------------------------------------------------------------
# Connect time and login rate

# Probe inside the client ns: ping until the first echo is answered; prints the wall-clock time.
# Before the tun exists ping fails at once (no route); 4000 tries bound it (~30 s).
PROBE='for ((i = 0; i < 4000; i++)); do
  if ping -n -q -c 1 -W 0.2 '"$INSIDE_IP"' >/dev/null 2>&1; then echo "${EPOCHREALTIME/./}"; exit 0; fi
  sleep 0.005
done; exit 1'

measure_connect() {
  local i id t0 t1 ms times=() failed=0 dtls=0
  say "$SERVER: connect time (openconnect start -> first ping answered), $CONNECT_RUNS runs"
  for ((i = 1; i <= CONNECT_RUNS; i++)); do
    id=ct$i
    t0=$(now_us)
    client_start "$id" "$NS_CLI"
    t1=$(timeout 40 ip netns exec "$NS_CLI" taskset -c "$CLIENT_CPUS" bash -c "$PROBE" 2>/dev/null) || t1=
    if [[ -n $t1 ]] && poll_until 5 client_up "$id" && verify_server "$id"; then
      ms=$(((t1 - t0) / 1000))
      times+=("$ms")
      client_dtls "$id" && dtls=$((dtls + 1))
    else
      failed=$((failed + 1))
      note "$SERVER connect run $i failed (client log $(basename "${C_LOG[$id]}"))"
    fi
    client_stop "$id"
  done
  if ((${#times[@]})); then
    R[$SERVER.conn_med]=$(printf '%s\n' "${times[@]}" | median)
    R[$SERVER.conn_max]=$(printf '%s\n' "${times[@]}" | maxof)
  else
    R[$SERVER.conn_med]=failed
    R[$SERVER.conn_max]=failed
  fi
  ((failed == 0)) || R[$SERVER.conn_med]="${R[$SERVER.conn_med]} ($failed of $CONNECT_RUNS failed)"
  say "$SERVER connect ms: ${times[*]:-none}; DTLS up at first ping in $dtls of ${#times[@]}"
  R[$SERVER.conn_all]="${times[*]:-}"
}

measure_logins() {
  local i t0 t1 ok=0 log logins0=0 logins1
  say "$SERVER: login rate, $LOGIN_RUNS sequential openconnect --authenticate"
  [[ $SERVER == tandem ]] && logins0=$(tandem_events login_ok)
  t0=$(now_us)
  for ((i = 1; i <= LOGIN_RUNS; i++)); do
    log=$LOGDIR/auth-$i.log
    if timeout 20 ip netns exec "$NS_CLI" taskset -c "$CLIENT_CPUS" openconnect --protocol=anyconnect --authenticate \
      --non-inter --user="$USER_NAME" --passwd-on-stdin --servercert "$PIN" "$URL" \
      >"$log" 2>&1 <<<"$PASS" && grep -q '^COOKIE=' "$log" &&
      grep -q "Connected to HTTPS on $SERVER_IP with ciphersuite" "$log"; then
      ok=$((ok + 1))
    fi
  done
  t1=$(now_us)
  if [[ $SERVER == tandem ]]; then
    logins1=$(tandem_events login_ok)
    ((logins1 - logins0 == ok)) || note "tandem: $ok logins succeeded but tandemd logged $((logins1 - logins0)) login_ok"
  fi
  R[$SERVER.login_rate]=$(awk -v n="$ok" -v us=$((t1 - t0)) 'BEGIN {printf "%.1f", n / (us / 1e6)}')
  ((ok == LOGIN_RUNS)) || {
    note "$SERVER: only $ok of $LOGIN_RUNS logins succeeded"
    R[$SERVER.login_rate]="${R[$SERVER.login_rate]} ($((LOGIN_RUNS - ok)) failed)"
  }
  say "$SERVER login rate: ${R[$SERVER.login_rate]}/s"
}

# ---------------------------------------------------------------------------------------------
# Memory per connected client

measure_clients() {
  local k id rss0 anon0 rss1 anon1 up=0 dtls=0 ids=()
  say "$SERVER: memory per client, $CLIENTS clients in $BID-c1..c$CLIENTS"
  sleep 1
  rss0=$(server_rss_kb)
  anon0=$(server_anon_kb)
  for ((k = 1; k <= CLIENTS; k++)); do
    id=mc$k
    ids+=("$id")
    client_start "$id" "$BID-c$k"
    if poll_until 30 client_up "$id" && verify_server "$id"; then up=$((up + 1)); fi
  done
  for id in "${ids[@]}"; do
    if poll_until 15 client_dtls "$id" && poll_until 5 server_dtls "$id"; then dtls=$((dtls + 1)); fi
  done
  for id in "${ids[@]}"; do ping_ok "${C_NS[$id]}" 2 || note "$SERVER: client $id: no ping"; done
  sleep 1
  rss1=$(server_rss_kb)
  anon1=$(server_anon_kb)
  R[$SERVER.procs]=$(server_pids | wc -l)
  R[$SERVER.affinity]=$(server_affinity)
  if ((up == CLIENTS)); then
    R[$SERVER.mem_rss]=$(((rss1 - rss0) / CLIENTS))
    R[$SERVER.mem_anon]=$(((anon1 - anon0) / CLIENTS))
  else
    R[$SERVER.mem_rss]="only $up of $CLIENTS connected"
    R[$SERVER.mem_anon]=${R[$SERVER.mem_rss]}
  fi
  ((dtls == CLIENTS)) || note "$SERVER: DTLS established for $dtls of $CLIENTS memory-test clients"
  R[$SERVER.rss_n]=$rss1
  say "$SERVER: RSS $rss0 -> $rss1 KB, anonymous (sum Pss_Anon) $anon0 -> $anon1 KB with $up clients ($dtls DTLS), ${R[$SERVER.procs]} processes"
  for id in "${ids[@]}"; do client_stop "$id"; done
}

# ---------------------------------------------------------------------------------------------
# Many clients at once (--parallel): what K clients get together, and what the server uses for
# it. Unlike every other figure, the server and the clients may run on every CPU here (the same
# for both servers): the question is whether the server can use more than one core.

PAR_IPERF_PIDS=()
start_parallel_iperf_servers() { # K: one iperf3 server per client, on IPERF_PORT+1..K
  local n pid
  for ((n = 1; n <= $1; n++)); do
    ip netns exec "$NS_IN" taskset -c "$CLIENT_CPUS" iperf3 -s -B "$INSIDE_IP" -p $((IPERF_PORT + n)) \
      >"$WORK/iperf3-server-$n.log" 2>&1 &
    pid=$!
    track "$pid"
    PAR_IPERF_PIDS+=("$pid")
    poll_until 10 listening "$NS_IN" t $((IPERF_PORT + n)) || die "iperf3 -s on port $((IPERF_PORT + n)) did not start"
  done
}
stop_parallel_iperf_servers() {
  local pid
  for pid in "${PAR_IPERF_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PAR_IPERF_PIDS[@]}"; do poll_until 5 not_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true; done
  PAR_IPERF_PIDS=()
}

# parallel_transfer K DIR(up|down) IDS...: one iperf3 per client at once for DURATION s. Sets
# X_MBPS (the receivers' sum, or a message), X_SCPU (% of one core, all server processes) and
# X_BUSIEST (busiest_threads: the first is the server thread that used the most CPU; a node
# cannot carry more than that thread at 100 % would, whatever its other cores do).
parallel_transfer() {
  local k=$1 dir=$2 n=0 id pid pids=() jsons=() t0 t1 s0 s1 args=() bps sum=0
  shift 2
  [[ $dir == down ]] && args=(-R)
  thread_ticks >"$LOGDIR/threads-par$k-$dir.0"
  s0=$(server_ticks)
  t0=$(now_us)
  for id in "$@"; do
    n=$((n + 1))
    jsons+=("$LOGDIR/iperf-par$k-$dir-$n.json")
    ip netns exec "${C_NS[$id]}" taskset -c "$CLIENT_CPUS" iperf3 -c "$INSIDE_IP" -p $((IPERF_PORT + n)) \
      -t "$DURATION" -J "${args[@]}" >"${jsons[-1]}" 2>&1 &
    pid=$!
    track "$pid"
    pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    poll_until $((DURATION + 30)) not_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  t1=$(now_us)
  s1=$(server_ticks)
  thread_ticks >"$LOGDIR/threads-par$k-$dir.1"
  X_SCPU=$(awk -v d=$((s1 - s0)) -v hz="$CLK_TCK" -v us=$((t1 - t0)) 'BEGIN {printf "%.0f", d / hz / (us / 1e6) * 100}')
  X_BUSIEST=$(busiest_threads "$LOGDIR/threads-par$k-$dir.0" "$LOGDIR/threads-par$k-$dir.1" \
    "$(awk -v us=$((t1 - t0)) 'BEGIN {print us / 1e6}')")
  X_MBPS=
  for n in "${!jsons[@]}"; do
    bps=$(jq -r 'if .error then "" else (.end.sum_received.bits_per_second // "") end' "${jsons[$n]}" 2>/dev/null) || bps=
    if [[ -z $bps ]]; then
      X_MBPS="iperf3 failed for client $((n + 1))"
      return 0
    fi
    sum=$(awk -v s="$sum" -v b="$bps" 'BEGIN {printf "%.0f", s + b / 1e6}')
  done
  X_MBPS=$sum
}

measure_parallel() {
  local saved_s=$SERVER_CPUS saved_c=$CLIENT_CPUS k n id up dir ids=() max=0
  for k in ${PARALLEL//,/ }; do ((k > max)) && max=$k; done
  SERVER_CPUS=0-$((NCPU - 1)) CLIENT_CPUS=0-$((NCPU - 1)) OCSERV_LINK_MTU=
  start_server "$SERVER"
  R[$SERVER.par_affinity]=$(server_affinity)
  start_parallel_iperf_servers "$max"
  for k in ${PARALLEL//,/ }; do
    say "$SERVER: $k clients at once over DTLS (server and clients on CPUs $SERVER_CPUS)"
    ids=()
    for ((n = 1; n <= k; n++)); do
      id=par$k-$n
      ids+=("$id")
      client_start "$id" "$BID-c$n"
    done
    up=0
    for id in "${ids[@]}"; do
      if poll_until 30 client_up "$id" && poll_until 15 client_dtls "$id" && poll_until 10 ping_ok "${C_NS[$id]}" 2; then
        up=$((up + 1))
      fi
    done
    if ((up < k)); then
      note "$SERVER: only $up of $k parallel clients had a DTLS tunnel that pings"
      for dir in up down; do
        R[$SERVER.par${k}_$dir]="only $up of $k clients up"
        R[$SERVER.par${k}_cpu_$dir]=${R[$SERVER.par${k}_$dir]}
        R[$SERVER.par${k}_busiest_$dir]=${R[$SERVER.par${k}_$dir]}
      done
    else
      for dir in up down; do
        parallel_transfer "$k" "$dir" "${ids[@]}"
        R[$SERVER.par${k}_$dir]=$X_MBPS
        R[$SERVER.par${k}_cpu_$dir]=$X_SCPU
        R[$SERVER.par${k}_busiest_$dir]=${X_BUSIEST%% *}
        say "$SERVER: $k clients, DTLS $dir: $X_MBPS Mbit/s together, server CPU $X_SCPU %," \
          "busiest threads (% of one core): ${X_BUSIEST:-none}"
      done
    fi
    for id in "${ids[@]}"; do client_stop "$id"; done
  done
  stop_parallel_iperf_servers
  stop_server
  SERVER_CPUS=$saved_s CLIENT_CPUS=$saved_c
}

# ---------------------------------------------------------------------------------------------
# Optional profile (after the measurements, so perf does not disturb them)

PERF_OUT=${OUT%.md}-perf.txt

# perf_report DATA SORT LIMIT: flat profile (self time), header and empty lines dropped.
perf_report() {
  timeout 120 perf report -i "$1" --no-children --sort "$2" --stdio -g none --percent-limit 0.5 \
    2>/dev/null | grep -Ev '^(#|$)' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' |
    head -n "$3" || true
}

# Per server, mode (tls, dtls) and direction: one extra transfer of DURATION s; perf record over
# its first half, then `perf trace -s` (syscall counts) for 2 s. Results appended to PERF_OUT.
profile_server() {
  local mode id args=() pid ppid data pids rec_s log
  command -v perf >/dev/null || { note "perf not installed: no profile"; return 0; }
  rec_s=$((DURATION / 2 > 1 ? DURATION / 2 : 1))
  for mode in tls dtls tls-up dtls-up; do
    local dir=down rflag=-R
    [[ $mode == *-up ]] && { dir=up; rflag=; }
    id=perf-$mode
    args=()
    [[ $mode == tls* ]] && args=(--no-dtls)
    say "$SERVER: profiling a ${mode%-up} $dir""load (perf record ${rec_s}s, perf trace 2s)"
    client_start "$id" "$NS_CLI" "${args[@]}"
    if ! poll_until 30 client_up "$id" || { [[ $mode == dtls* ]] && ! poll_until 15 client_dtls "$id"; }; then
      note "$SERVER perf $mode: tunnel not up"
      client_stop "$id"
      continue
    fi
    data=$WORK/$SERVER/perf-$mode.data
    log=$WORK/$SERVER/iperf-perf-$mode.txt
    pids=$(server_pids | paste -sd, -)
    ip netns exec "$NS_CLI" taskset -c "$CLIENT_CPUS" iperf3 -c "$INSIDE_IP" -p "$IPERF_PORT" -t "$DURATION" $rflag >"$log" 2>&1 &
    pid=$!
    track "$pid"
    sleep 1
    timeout $((rec_s + 10)) perf record -q -F 999 --call-graph "${PERF_CALLGRAPH:-fp}" -p "$pids" -o "$data" -- sleep "$rec_s" \
      >/dev/null 2>&1 &
    ppid=$!
    track "$ppid"
    poll_until $((rec_s + 15)) not_alive "$ppid" || kill -KILL "$ppid" 2>/dev/null || true
    wait "$ppid" 2>/dev/null || true
    timeout 15 perf trace -s -p "$pids" -o "$WORK/$SERVER/perf-trace-$mode.txt" -- sleep 2 \
      >/dev/null 2>&1 &
    ppid=$!
    track "$ppid"
    poll_until 20 not_alive "$ppid" || kill -KILL "$ppid" 2>/dev/null || true
    wait "$ppid" 2>/dev/null || true
    poll_until $((DURATION + 15)) not_alive "$pid" || kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    {
      echo "===== $SERVER, ${mode%-up} ${dir}load: $(grep -E 'receiver' "$log" | tail -n1 | awk '{print $7, $8}') (under perf), server pids $pids"
      echo "--- self time by object"
      perf_report "$data" dso 8
      echo "--- top symbols (self time)"
      perf_report "$data" comm,dso,symbol 25
      echo "--- syscalls in 2 s (perf trace -s; slows the server while it runs)"
      grep -E '^ +[a-z_0-9]+ +[0-9]+ ' "$WORK/$SERVER/perf-trace-$mode.txt" | sort -k2,2nr |
        awk '{c[$1] += $2} END {for (k in c) print c[k], k}' | sort -nr | head -n 12 || true
      echo
    } >>"$PERF_OUT"
    client_stop "$id"
  done
}


# ---------------------------------------------------------------------------------------------
# One server, all figures, one round

# ocserv offers 1472 without DTLS on a 1500-byte link, i.e. link MTU - 28; with its link mtu set
# to MTU + 28 it offers MTU, what tandemd offers in both modes. The client's tun MTU is checked.
OCSERV_TLS_OVERHEAD=28

bench_server() { # SERVER ROUND
  local r=$2
  ROUND=$r
  R[$1.load]=$(cut -d' ' -f1-3 /proc/loadavg)
  OCSERV_LINK_MTU=
  start_server "$1"
  sleep 1
  R[$SERVER.rss_idle]=$(server_rss_kb)
  measure_clients
  measure_connect
  measure_logins
  throughput_mode dtls
  throughput_mode legacy
  if [[ $SERVER == ocserv ]]; then
    say "ocserv: restart with link mtu $((MTU + OCSERV_TLS_OVERHEAD)) for TLS-only (offers $MTU)"
    stop_server
    OCSERV_LINK_MTU=$((MTU + OCSERV_TLS_OVERHEAD))
    start_server ocserv
    sleep 1
  fi
  throughput_mode tls
  if ((PERF && r == SAMPLES)); then profile_server; fi
  stop_server
  [[ -z $PARALLEL ]] || measure_parallel
  derive_one "$1"
  collect "$1" "$r"
}

# ---------------------------------------------------------------------------------------------
# Table

is_num() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
kb_to_mb() { is_num "$1" && awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}' || printf '%s' "$1"; }

# CPU per Gbit/s (derived, per round): % of one core per Gbit/s moved.
derive_one() { # SERVER
  local s=$1 k
  if is_num "${R[$s.cpu_dtls]:-x}" && is_num "${R[$s.dtls_down]:-x}" && [[ ${R[$s.dtls_down]} != 0 ]]; then
    R[$s.cpu_per_gbit]=$(awk -v c="${R[$s.cpu_dtls]}" -v m="${R[$s.dtls_down]}" 'BEGIN {printf "%.0f", c / (m / 1000)}')
  fi
  if is_num "${R[$s.cpu_legacy]:-x}" && is_num "${R[$s.legacy_down]:-x}" && [[ ${R[$s.legacy_down]} != 0 ]]; then
    R[$s.cpu_per_gbit_legacy]=$(awk -v c="${R[$s.cpu_legacy]}" -v m="${R[$s.legacy_down]}" 'BEGIN {printf "%.0f", c / (m / 1000)}')
  fi
  if is_num "${R[$s.cpu_tls]:-x}" && is_num "${R[$s.tls_down]:-x}" && [[ ${R[$s.tls_down]} != 0 ]]; then
    R[$s.cpu_per_gbit_tls]=$(awk -v c="${R[$s.cpu_tls]}" -v m="${R[$s.tls_down]}" 'BEGIN {printf "%.0f", c / (m / 1000)}')
  fi
  # Uploads: the server's CPU over the upload transfer, per Gbit/s received at the inside host.
  for k in dtls tls; do
    if is_num "${R[$s.cpu_${k}_up]:-x}" && is_num "${R[$s.${k}_up]:-x}" && [[ ${R[$s.${k}_up]} != 0 ]]; then
      R[$s.cpu_per_gbit_${k}_up]=$(awk -v c="${R[$s.cpu_${k}_up]}" -v m="${R[$s.${k}_up]}" 'BEGIN {printf "%.0f", c / (m / 1000)}')
    fi
  done
  for k in rss_idle rss_xfer rss_n; do R[$s.$k]=$(kb_to_mb "${R[$s.$k]:-}"); done
}

# Move this round's R[server.*] into RR[server.*#round], so nothing leaks into the next round.
collect() { # SERVER ROUND
  local k
  for k in "${!R[@]}"; do
    [[ $k == "$1".* ]] || continue
    RR[$k#$2]=${R[$k]}
    unset "R[$k]"
  done
}

# Per figure and server over the rounds: median, min, max of the numeric samples, and the
# messages of the rounds that gave none. Sets G_N G_MED G_MIN G_MAX G_MSG.
gather() { # SERVER KEY
  local r v nums=()
  G_N=0 G_MED= G_MIN= G_MAX= G_MSG=
  local -a msgs=()
  for ((r = 1; r <= SAMPLES; r++)); do
    v=${RR[$1.$2#$r]:-}
    if is_num "$v"; then
      nums+=("$v")
    elif [[ -n $v ]]; then
      msgs+=("$v")
    fi
  done
  G_N=${#nums[@]}
  if ((G_N)); then
    G_MED=$(printf '%s\n' "${nums[@]}" | median)
    G_MIN=$(printf '%s\n' "${nums[@]}" | sort -g | head -n1)
    G_MAX=$(printf '%s\n' "${nums[@]}" | sort -g | tail -n1)
  fi
  ((${#msgs[@]} == 0)) || G_MSG="${#msgs[@]} of $SAMPLES: ${msgs[0]}"
}

# "median [min..max]" (or the only value, or the message).
cell() {
  local c
  if ((G_N == 0)); then
    printf '%s' "${G_MSG#* of $SAMPLES: }"
    [[ -n $G_MSG ]] || printf 'n/a'
    return
  fi
  c=$G_MED
  ((G_N < 2)) || c="$c [$G_MIN..$G_MAX]"
  [[ -z $G_MSG ]] || c="$c ($G_MSG)"
  printf '%s' "$c"
}

# key|figure|better (higher/lower/info)|no-VPN key
ROWS=(
  "dtls_up|throughput DTLS upload (Mbit/s)|higher|novpn.up"
  "dtls_down|throughput DTLS download (Mbit/s)|higher|novpn.down"
  "legacy_up|throughput legacy DTLS 1.2 upload (Mbit/s)|higher|novpn.up"
  "legacy_down|throughput legacy DTLS 1.2 download (Mbit/s)|higher|novpn.down"
  "tls_up|throughput TLS-only upload (Mbit/s)|higher|novpn.up"
  "tls_down|throughput TLS-only download (Mbit/s)|higher|novpn.down"
  "retr_dtls_up|inner TCP retransmits, DTLS upload|lower|"
  "retr_dtls_down|inner TCP retransmits, DTLS download|lower|"
  "retr_tls_up|inner TCP retransmits, TLS-only upload|lower|"
  "retr_tls_down|inner TCP retransmits, TLS-only download|lower|"
  "conn_med|connect: openconnect start -> first ping, median (ms)|lower|"
  "conn_max|connect: openconnect start -> first ping, max (ms)|lower|"
  "login_rate|sequential logins (openconnect --authenticate) per s|higher|"
  "rss_idle|server RSS idle, all processes (MB)|lower|"
  "rss_xfer|server RSS during DTLS download, 1 client (MB)|lower|"
  "cpu_dtls|server CPU during DTLS download (% of one core)|lower|"
  "cpu_per_gbit|server CPU per Gbit/s, DTLS download (%)|lower|"
  "cpu_legacy|server CPU during legacy DTLS 1.2 download (% of one core)|lower|"
  "cpu_per_gbit_legacy|server CPU per Gbit/s, legacy DTLS 1.2 download (%)|lower|"
  "cpu_tls|server CPU during TLS-only download (% of one core)|lower|"
  "cpu_per_gbit_tls|server CPU per Gbit/s, TLS-only download (%)|lower|"
  "cpu_per_gbit_dtls_up|server CPU per Gbit/s, DTLS upload (%)|lower|"
  "cpu_per_gbit_tls_up|server CPU per Gbit/s, TLS-only upload (%)|lower|"
  "ccpu_dtls|openconnect CPU during DTLS download (% of one core)|info|"
  "mem_rss|memory per connected client, RSS growth (KB)|lower|"
  "mem_anon|memory per connected client, anonymous memory growth (KB)|lower|"
  "par_affinity|many clients: CPUs the server's threads may use|info|"
  "rss_n|server RSS with N clients connected (MB)|lower|"
  "procs|server processes with N clients connected|info|"
)
for k in ${PARALLEL//,/ }; do
  ROWS+=("par${k}_down|$k clients at once, DTLS download, together (Mbit/s)|higher|"
    "par${k}_cpu_down|server CPU, $k clients' DTLS download (% of one core, every CPU allowed)|info|"
    "par${k}_busiest_down|server's busiest thread, $k clients' DTLS download (% of one core)|info|"
    "par${k}_up|$k clients at once, DTLS upload, together (Mbit/s)|higher|"
    "par${k}_cpu_up|server CPU, $k clients' DTLS upload (% of one core, every CPU allowed)|info|"
    "par${k}_busiest_up|server's busiest thread, $k clients' DTLS upload (% of one core)|info|")
done

# The verdict needs the two ranges (min..max over the rounds) apart; a ratio inside them says
# nothing, whatever its size. One sample has no spread, so no verdict either.
verdict() { # BETTER TMIN TMAX OMIN OMAX NT NO
  local better=$1
  [[ $better == higher || $better == lower ]] || return 0
  if (($6 < 2 || $7 < 2)); then
    echo "no spread: 1 sample"
    return 0
  fi
  awk -v b="$better" -v tl="$2" -v th="$3" -v ol="$4" -v oh="$5" 'BEGIN {
    if (th < ol) print (b == "lower") ? "tandem better" : "tandem worse"
    else if (oh < tl) print (b == "higher") ? "tandem better" : "tandem worse"
    else print "within spread" }'
}

render() {
  local row key label better nv cells=() tv ov nvv ratio v tmed tmin tmax tn omed omin omax on
  local -a table=()
  table+=("figure|better|no VPN|tandem: median [min..max]|ocserv: median [min..max]|tandem/ocserv (medians)")
  for row in "${ROWS[@]}"; do
    IFS='|' read -r key label better nv <<<"$row"
    label=${label//N clients/$CLIENTS clients}
    gather tandem "$key"
    tv=$(cell) tmed=$G_MED tmin=$G_MIN tmax=$G_MAX tn=$G_N
    gather ocserv "$key"
    ov=$(cell) omed=$G_MED omin=$G_MIN omax=$G_MAX on=$G_N
    [[ " ${SERVERS[*]} " == *" tandem "* ]] || { tv="(not run)"; tn=0; }
    [[ " ${SERVERS[*]} " == *" ocserv "* ]] || { ov="(not run)"; on=0; }
    nvv=
    if [[ -n $nv ]]; then
      gather novpn "${nv#novpn.}"
      nvv=$(cell)
    fi
    ratio="-"
    if ((tn && on)); then
      ratio=$(awk -v a="$tmed" -v b="$omed" 'BEGIN {if (b + 0 == 0) print "-"; else printf "%.2f", a / b}')
      v=$(verdict "$better" "$tmin" "$tmax" "$omin" "$omax" "$tn" "$on")
      [[ -n $v ]] && ratio="$ratio ($v)"
    fi
    table+=("$label|$better|$nvv|$tv|$ov|$ratio")
  done
  # Padded Markdown: readable on a terminal and valid Markdown.
  local -a w=(0 0 0 0 0 0)
  local line i c
  for line in "${table[@]}"; do
    IFS='|' read -r -a cells <<<"$line"
    for i in 0 1 2 3 4 5; do
      c=${cells[i]:-}
      if ((${#c} > w[i])); then w[i]=${#c}; fi
    done
  done
  local n=0
  for line in "${table[@]}"; do
    IFS='|' read -r -a cells <<<"$line"
    printf '|'
    for i in 0 1 2 3 4 5; do printf ' %-*s |' "${w[i]}" "${cells[i]:-}"; done
    printf '\n'
    if ((n == 0)); then
      printf '|'
      for i in 0 1 2 3 4 5; do printf -- '-%s-|' "$(printf '%*s' "${w[i]}" '' | tr ' ' -)"; done
      printf '\n'
    fi
    n=$((n + 1))
  done
}

# The distinct values of RR[server.key#*] over the rounds, space separated.
distinct() { # SERVER KEY
  local r
  for ((r = 1; r <= SAMPLES; r++)); do
    [[ -n ${RR[$1.$2#$r]:-} ]] && printf '%s\n' "${RR[$1.$2#$r]}"
  done | sort -u | paste -sd'/' -
}

# Both servers must have given the client the same tun MTU in each mode, every round.
check_mtu() {
  local m a b
  [[ " ${SERVERS[*]} " == *" tandem "* && " ${SERVERS[*]} " == *" ocserv "* ]] || return 0
  for m in dtls legacy tls; do
    a=$(distinct tandem "mtu_$m")
    b=$(distinct ocserv "mtu_$m")
    if [[ -n $a && $a != "$b" ]]; then
      note "MTU MISMATCH in $m mode: the client's tun got $a from tandem, ${b:-?} from ocserv"
    elif [[ -n $a && $a != "$MTU" ]]; then
      note "$m mode: both servers gave the client tun MTU $a, not the configured $MTU"
    fi
  done
}

report() {
  local s r order
  echo "# Tandem vs ocserv, side by side"
  echo
  if ((SAMPLES < 3)); then
    echo "**DRAFT: $SAMPLES sample(s) per figure; a recorded result needs --samples 3 or more.**"
    echo
  fi
  if ((DIRTY)); then
    echo "**Run with --allow-dirty: uncommitted changes in the script's tree ($SRC_REV) or the binaries' tree ($BIN_REV); not a recorded result.**"
    echo
  fi
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), kernel $KERNEL, $NCPU CPUs ($CPU_MODEL), net.core.rmem_max $RMEM_MAX, net.core.wmem_max $WMEM_MAX;" \
    "load average before: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "openconnect $OC_VERSION, $OCSERV_VERSION, iperf3 $IPERF_VERSION; script from $SRC_REV ($SRC_DIR); tandemd from ${BIN_TREE:-?} at $BIN_REV (binary built $TANDEMD_BUILT${BIN_STALE:+, before that commit: the newest commit older than the binary is $BIN_STALE})${TUN_OFFLOAD:+; tandemd with tun_offload = $TUN_OFFLOAD}${DATA_THREADS:+; tandemd with data_threads = $DATA_THREADS}."
  echo "Pinning (taskset, checked in /proc on every thread): server under test (tandemd, or ocserv's main, sec-mod and workers) on CPU $SERVER_CPUS; openconnect, iperf3 (client and server) and ping on CPU $CLIENT_CPUS; the same for both servers.${PARALLEL:+ Except the many-clients rows ($PARALLEL clients at once, each through its own tunnel to its own iperf3 server): there the server is restarted with every CPU allowed, and the clients too, the same for both servers.}"
  order=
  for ((r = 1; r <= SAMPLES; r++)); do order+="${order:+, }round $r: ${ORDER[r]}"; done
  echo "$SAMPLES samples per figure, one per round, the order of the servers alternating ($order); a cell is the median [min..max] over the rounds; the no-VPN ceiling is measured $SAMPLES times before any server runs."
  echo "iperf3 ${DURATION}s per transfer; connect time: median and max of $CONNECT_RUNS runs per round; login rate over $LOGIN_RUNS logins per round; $CLIENTS clients for memory."
  echo "Tunnel MTU $MTU offered by both servers in every mode (ocserv's TLS-only phase runs with its link mtu = $((MTU + OCSERV_TLS_OVERHEAD)))."
  if [[ $SAME_HASH == 1 ]]; then
    echo "Password hash: both servers check the same SHA-512-crypt hash (tandem's own default, yescrypt, costs ~15 ms per check: run with --own-hashes to see it)."
  else
    echo "Password hash: each server's default (tandem yescrypt, ocserv SHA-256-crypt)."
  fi
  echo
  render
  echo
  echo "Notes:"
  for s in "${SERVERS[@]}"; do
    echo "- $s: TLS $(distinct "$s" tls_cipher); DTLS $(distinct "$s" dtls_cipher); legacy DTLS $(distinct "$s" legacy_cipher); client tun MTU $(distinct "$s" mtu_dtls) (DTLS) / $(distinct "$s" mtu_legacy) (legacy DTLS) / $(distinct "$s" mtu_tls) (TLS-only); CPUs allowed: server threads $(distinct "$s" affinity), openconnect $(distinct "$s" client_affinity)."
    for ((r = 1; r <= SAMPLES; r++)); do
      echo "- $s round $r: load average at start ${RR[$s.load#$r]:-?}; connect times (ms): ${RR[$s.conn_all#$r]:-?}."
    done
  done
  local m d line
  for s in "${SERVERS[@]}"; do
    for m in dtls legacy tls; do
      for d in up down; do
        line=
        for ((r = 1; r <= SAMPLES; r++)); do
          [[ -n ${RR[$s.drops_${m}_$d#$r]:-} ]] && line+="${line:+; }r$r: ${RR[$s.drops_${m}_$d#$r]}"
        done
        [[ -z $line ]] || echo "- $s $m $d drops: $line."
      done
    done
  done
  echo "- Verdict: 'tandem better/worse' only when the two servers' [min..max] ranges do not overlap; otherwise 'within spread'. The ratio is of the medians."
  echo "- CPU: utime+stime of all server processes (ocserv: main, sec-mod, workers) over the transfer, as % of one core. CPU per Gbit/s is computed per round, then its median taken."
  echo "- Memory per client: (sum over server processes with $CLIENTS clients - before) / $CLIENTS, of RSS and of anonymous memory (sum of Pss_Anon, each page counted once); ocserv forks one worker per client, so its RSS counts shared pages once per worker."
  echo "- DTLS figures are only reported when the client logged 'Established DTLS connection' (and tandemd logged tunnel_up kind=dtls), and CSTP/TCP stayed idle during the transfer."
  local n
  for n in "${NOTES[@]}"; do echo "- $n"; done
}

# ---------------------------------------------------------------------------------------------
# Main

say "work dir $WORK; servers: ${SERVERS[*]}; $SAMPLES rounds; ${DURATION}s transfers; deadline ${DEADLINE}s; server CPU $SERVER_CPUS, client CPU $CLIENT_CPUS; source $SRC_REV, binaries $BIN_REV"
((DIRTY == 0)) || say "warning: dirty tree, measuring because of --allow-dirty"
((PERF == 0)) || : >"$PERF_OUT"
setup_topology
write_vpnc_script
start_iperf_server
measure_ceiling
declare -a ORDER=()
for ((round = 1; round <= SAMPLES; round++)); do
  # Odd rounds run the servers in the given order, even rounds reversed: a drift in the machine's
  # load over the run then falls on both servers alike.
  order=("${SERVERS[@]}")
  if ((round % 2 == 0 && ${#SERVERS[@]} == 2)); then order=("${SERVERS[1]}" "${SERVERS[0]}"); fi
  ORDER[round]="${order[*]}"
  ORDER[round]=${ORDER[round]// / -> }
  say "===== round $round of $SAMPLES: ${ORDER[round]}"
  for s in "${order[@]}"; do
    mkdir -p "$WORK/$s"
    bench_server "$s" "$round"
  done
done
check_mtu
report >"$OUT"
cat "$OUT"
((PERF)) && [[ -s $PERF_OUT ]] && say "perf top symbols in $PERF_OUT"
say "table written to $OUT"
FAILED=0
