#!/usr/bin/env bash
# Failover benchmark of a Tandem active/standby pair. Not a test: it is not registered with CTest,
# asserts nothing about speed, and prints one table (also written as Markdown to --out).
# See tests/bench/FAILOVER.md for what each figure means and what limits it. Needs root.
#
#   1. Failover gap seen by a real openconnect client pinging an inside host every 50 ms:
#      planned (`tandemctl failover`), crash (kill -9 of the active tandemd) and machine crash
#      (the node's links down, then kill -9); DTLS and TLS-only (--no-dtls); the default
#      hold_time (no poll_interval/hold_time in [peer]: 500 ms / 3 s) and a tuned one.
#      --runs samples each, median and max. --arbiter on|both adds the pair under an etcd
#      arbiter ([arbiter] lease_ttl --ttl, etcd in its own namespace as in the e2e tests);
#      --kinds/--modes/--holds pick a subset of the cases.
#   2. Standby catch-up: N sessions are created on the active while the standby is stopped; then
#      the standby is started (a) with its old state_dir (the active replays the change log) and
#      (b) with an empty state_dir (the active sends a snapshot). Time from starting the standby
#      until its `status --json` says peer_state "following" and replication_lag_seq 0, and until
#      its session count reaches N, polled every 50 ms.
#   3. Session creations per second through logins (tandem-load, no CONNECT) with the standby
#      acknowledging every creation (pair up) and without (standby stopped, active degraded).
#
# Topology: the e2e pair harness (tests/e2e/lib.sh, lib_pair.sh): client, switch, nodes a and b,
# inside host, each in its own namespace; the service address 10.200.0.1 moves between the nodes.
# Every address lives only inside the namespaces this script creates.
#
# Hygiene: every wait and loop is bounded; --deadline bounds the whole run (watchdog); on
# EXIT/INT/TERM the harness's trap stops, by PID, every process this script started (and only
# while it is still our child), kills what is left inside our own namespaces and deletes them.

set -euo pipefail

RUNS=3
TUNED_HOLD=1s
TUNED_POLL=200ms
CATCHUP_COUNTS="10000 100000"
RATE_SESSIONS=500
RATE_CONCURRENCY=20
RATE_ROUNDS=2
LOAD_CONCURRENCY=50
SNAPSHOT_CHURN_MAX=20000
PARTS="gap,catchup,rate"
OUT=/tmp/tandem-failover-bench.md
DEADLINE=1140
KEEP=0
ARBITER=off # off: heartbeats only; on: [arbiter] with etcd; both: the two, samples interleaved
TTL=2s
KINDS=planned,crash,machine
MODES=dtls,tls
HOLDS=default,tuned
RESUME_LIMIT=45 # seconds a failover sample may take before it is counted as "not resumed"

usage() {
  cat <<EOF
Usage: $0 [options]          (as root)
  --runs N               samples per failover case, 1..20 (default $RUNS)
  --tuned-hold DUR       the tuned [peer] hold_time (default $TUNED_HOLD)
  --tuned-poll DUR       the tuned [peer] poll_interval (default $TUNED_POLL)
  --catchup "N1 N2 .."   session counts for the catch-up figure, each 1..1000000
                         (default "$CATCHUP_COUNTS"; "" skips it)
  --load-concurrency C   tandem-load concurrency when creating the catch-up sessions (default $LOAD_CONCURRENCY)
  --snapshot-churn-max N the snapshot catch-up needs the change log trimmed (106 250 changes): at
                         most N extra logins+logoffs are spent on that per count (default
                         $SNAPSHOT_CHURN_MAX: measured at 100k, not at 10k, which needs ~48k)
  --rate-sessions N      logins per creation-rate run, 10..100000 (default $RATE_SESSIONS)
  --rate-concurrency C   tandem-load concurrency for the rate runs, 1..1000 (default $RATE_CONCURRENCY)
  --rate-rounds N        alternating ack-on/ack-off rounds per password hash, 1..10 (default $RATE_ROUNDS)
  --only LIST            comma-separated subset of gap,catchup,rate (default all)
  --arbiter off|on|both  gap samples heartbeat-only (off, default), under an etcd arbiter (on),
                         or both, interleaved sample by sample
  --ttl DUR              the arbiter's lease_ttl, whole seconds (default $TTL)
  --kinds LIST           gap cases: subset of planned,crash,machine (default all)
  --modes LIST           gap cases: subset of dtls,tls (default both)
  --holds LIST           gap cases: subset of default,tuned (default both)
  --out FILE             Markdown copy of the table and notes (default $OUT)
  --deadline S           bound for the whole run, 60..7200 s (default $DEADLINE)
  --keep                 keep the work directory (logs, configs, captures) even on success
DUR is a [peer] duration such as 1s or 200ms; hold_time must exceed poll_interval.
Environment: TANDEM_BUILD_DIR (default <repo>/build).
EOF
}

BENCH_NAME=failover_bench
# shellcheck source=lib_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_bench.sh"
dur_arg() { # NAME VALUE
  [[ $2 =~ ^[1-9][0-9]*(ms|s)$ ]] || die "$1 must look like 1s or 200ms, got '$2'"
  printf '%s\n' "$2"
}
dur_ms() { if [[ $1 == *ms ]]; then echo "${1%ms}"; else echo $((${1%s} * 1000)); fi; }

while (($#)); do
  case $1 in
    --runs) RUNS=$(int_arg --runs "${2:-}" 1 20); shift 2 ;;
    --tuned-hold) TUNED_HOLD=$(dur_arg --tuned-hold "${2:-}"); shift 2 ;;
    --tuned-poll) TUNED_POLL=$(dur_arg --tuned-poll "${2:-}"); shift 2 ;;
    --catchup)
      CATCHUP_COUNTS=${2-}
      for c in $CATCHUP_COUNTS; do int_arg --catchup "$c" 1 1000000 >/dev/null; done
      shift 2 ;;
    --load-concurrency) LOAD_CONCURRENCY=$(int_arg --load-concurrency "${2:-}" 1 1000); shift 2 ;;
    --snapshot-churn-max) SNAPSHOT_CHURN_MAX=$(int_arg --snapshot-churn-max "${2:-}" 0 200000); shift 2 ;;
    --rate-sessions) RATE_SESSIONS=$(int_arg --rate-sessions "${2:-}" 10 100000); shift 2 ;;
    --rate-concurrency) RATE_CONCURRENCY=$(int_arg --rate-concurrency "${2:-}" 1 1000); shift 2 ;;
    --rate-rounds) RATE_ROUNDS=$(int_arg --rate-rounds "${2:-}" 1 10); shift 2 ;;
    --only)
      PARTS=${2:?--only needs a value}
      [[ $PARTS =~ ^(gap|catchup|rate)(,(gap|catchup|rate))*$ ]] || die "--only takes gap,catchup,rate"
      shift 2 ;;
    --arbiter)
      ARBITER=${2:-}
      [[ $ARBITER =~ ^(off|on|both)$ ]] || die "--arbiter takes off, on or both"
      shift 2 ;;
    --ttl)
      TTL=${2:-}
      [[ $TTL =~ ^[1-9][0-9]?s$ ]] || die "--ttl must be whole seconds such as 2s, got '$TTL'"
      shift 2 ;;
    --kinds)
      KINDS=${2:-}
      [[ $KINDS =~ ^(planned|crash|machine)(,(planned|crash|machine))*$ ]] || die "--kinds takes planned,crash,machine"
      shift 2 ;;
    --modes)
      MODES=${2:-}
      [[ $MODES =~ ^(dtls|tls)(,(dtls|tls))*$ ]] || die "--modes takes dtls,tls"
      shift 2 ;;
    --holds)
      HOLDS=${2:-}
      [[ $HOLDS =~ ^(default|tuned)(,(default|tuned))*$ ]] || die "--holds takes default,tuned"
      shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --deadline) DEADLINE=$(int_arg --deadline "${2:-}" 60 7200); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
(($(dur_ms "$TUNED_HOLD") > $(dur_ms "$TUNED_POLL"))) || die "--tuned-hold must exceed --tuned-poll"
part() { [[ ,$PARTS, == *,$1,* ]]; }
in_list() { [[ ,$1, == *,$2,* ]]; } # LIST ITEM
case $ARBITER in
  off) ARB_CASES=off ;;
  on) ARB_CASES=on ;;
  both) ARB_CASES="off on" ;;
esac
[[ $ARBITER == off ]] || [[ $PARTS == gap ]] || die "--arbiter applies to the gap part only: add --only gap"

# The e2e harness: namespaces, PID tracking, the cleanup trap and the watchdog (TD_DEADLINE).
export TD_DEADLINE=$DEADLINE
export TD_KEEP=$KEEP
# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
# shellcheck source=../e2e/lib_pair.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib_pair.sh"
TD_TTL=$TTL
# shellcheck source=../e2e/lib_cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib_cluster.sh"

step() { bench_step "$@"; }

# ---------------------------------------------------------------------------------------------
# Results, and printing them (also what was measured so far when the run is cut short)

ROWS=()    # "figure|condition|median|max|detail"
NOTES=()
PRINTED=0
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

row() { ROWS+=("$1|$2|$3|$4|$5"); }
note() { NOTES+=("$*"); step "note: $*"; }

print_table() {
  local r f c m x d
  {
    printf '## Tandem failover benchmark (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Host: %s CPUs, load average %s at start, %s at the end. Runs per failover case: %s.\n\n' \
      "$(nproc)" "$START_LOAD" "$(cut -d' ' -f1-3 /proc/loadavg)" "$RUNS"
    printf '| figure | condition | median | max | detail |\n'
    printf '|---|---|---:|---:|---|\n'
    for r in "${ROWS[@]}"; do
      IFS='|' read -r f c m x d <<<"$r"
      printf '| %s | %s | %s | %s | %s |\n' "$f" "$c" "$m" "$x" "$d"
    done
    if ((${#NOTES[@]})); then
      printf '\nNotes:\n\n'
      for r in "${NOTES[@]}"; do printf -- '- %s\n' "$r"; done
    fi
  } | tee "$OUT"
  PRINTED=1
}

bench_exit() {
  local rc=$?
  set +e
  if ((PRINTED == 0 && ${#ROWS[@]} > 0)); then
    NOTES+=("THE RUN WAS CUT SHORT (exit $rc): the table holds what was measured before that")
    print_table
  fi
  (exit "$rc")
  td_cleanup >&2
}
trap bench_exit EXIT

# median and max of a list of integers ("-" for an empty list); even counts: the mean of the two
# middle values.
median_max() {
  (($#)) || { echo "- -"; return; }
  printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s\n", f(m), f(v[NR]) }
    function f(x) { return (x == int(x)) ? sprintf("%d", x) : sprintf("%.2f", x) }'
}

# bg_wait CMD...: run CMD in the background (tracked) and wait for it, so that the watchdog's
# SIGTERM runs the cleanup trap at once instead of after a long foreground command. Exit status
# of CMD in BG_RC.
bg_wait() {
  local pid
  "$@" &
  pid=$!
  td_track "$pid"
  BG_RC=0
  wait "$pid" || BG_RC=$?
}

# ---------------------------------------------------------------------------------------------
# Set-up

for tool in openconnect jq openssl perl ping ss awk; do
  command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
if [[ $ARBITER != off ]]; then
  for tool in etcd etcdctl; do command -v "$tool" >/dev/null || fail "missing tool: $tool (etcd-server, etcd-client)"; done
fi
HAVE_TCPDUMP=0
command -v tcpdump >/dev/null && HAVE_TCPDUMP=1
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
if [[ ! -x $TD_TANDEMD || ! -x $TD_TANDEMCTL || ! -x $LOAD ]]; then
  step "binaries missing: ninja -C $TANDEM_BUILD_DIR"
  timeout 900 ninja -C "$TANDEM_BUILD_DIR" >&2 || fail "build failed"
fi
# Private copies: a rebuild during the run does not change what is measured.
mkdir -p "$TD_DIR/bin"
cp "$TD_TANDEMD" "$TD_TANDEMCTL" "$LOAD" "$TD_DIR/bin/"
TD_TANDEMD=$TD_DIR/bin/tandemd
TD_TANDEMCTL=$TD_DIR/bin/tandemctl
LOAD=$TD_DIR/bin/tandem-load

setup_pair_topology
[[ $ARBITER == off ]] || start_etcd
make_pair_pki
# The load client opens one TCP connection per login: 100k logins in a few minutes run the client
# ns out of ephemeral ports (TIME_WAIT) with the default range. Only our client namespace.
ip netns exec "$TD_NS_CLIENT" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
  net.ipv4.tcp_tw_reuse=1
# alice: tandemctl passwd's hash (libxcrypt's default, yescrypt) - what a deployment has.
add_user alice secret-a
printf 'secret-a\n' >"$TD_DIR/password-a"
# bob: sha512crypt with 1000 rounds, the cheapest hash tandemd accepts. Only for creating many
# sessions quickly (password hashing dominates a login) and for the creation rate without it.
BOB_SALT=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9./' | head -c 16)
BOB_HASH=$(perl -e 'print crypt($ARGV[0], $ARGV[1])' secret-b "\$6\$rounds=1000\$$BOB_SALT\$")
[[ $BOB_HASH == '$6$rounds=1000$'* ]] || fail "perl crypt() did not give a sha512crypt hash"
printf 'bob:%s\ncarol:%s\n' "$BOB_HASH" "$BOB_HASH" >>"$TD_USERS" # carol: churn, same password
printf 'secret-b\n' >"$TD_DIR/password-b"
YESCRYPT_PARAMS=$(awk -F'$' '/^alice:/ {print "$" $2 "$" $3 "$"}' "$TD_USERS")

POLICY=$'[policy.default]\nsimultaneous_logins = 0'
# tandem-load logs in up to --load-concurrency/--rate-concurrency at a time from one address:
# the per-address caps (docs/limits.md) would refuse most of it, so they are off here.
POLICY+=$'\n[limits]\nconnections_per_address = 0\ntls_handshakes_per_address = 0'
POLICY+=$'\nlogins_in_flight_per_address = 0'
BIG_POOL=10.64.0.0/14 # sessions lease an address at login: room for 262 141 of them

# Per-sample logs: the harness names a node's log with node_log; SAMPLE prefixes it.
SAMPLE=s0
node_log() { echo "$TD_DIR/$SAMPLE-node-$1.log"; }

# configure HOLD POLL POOL [ARB]: both nodes' configs. HOLD "default" leaves poll_interval and
# hold_time out of [peer] (tandemd's defaults, 500 ms and 3 s). ARB "on" adds [arbiter] and
# [member] (lib_cluster.sh's arbiter_config: member m1, lease_ttl TD_TTL).
configure() {
  local n cfg node_extra=$POLICY
  [[ ${4:-off} == on ]] && node_extra+=$'\n'$(arbiter_config)
  for n in a b; do
    TD_HOLD=${1/default/3s} TD_POLL=${2/default/500ms} write_node_config "$n" "$node_extra"
    cfg=${TD_NODE_CONFIG[$n]}
    if [[ $1 == default ]]; then
      sed -i '/^poll_interval = /d; /^hold_time = /d' "$cfg"
      ! grep -Eq '^(poll_interval|hold_time) = ' "$cfg" || fail "could not drop the [peer] timers"
    fi
    sed -i "s|^ipv4 = \".*\"|ipv4 = \"$3\"|" "$cfg"
    grep -q "^ipv4 = \"$3\"" "$cfg" || fail "could not set the pool to $3"
  done
}

# stop_pid PID SIGNAL SECONDS: signal a process of ours, wait for it, KILL it if it lingers.
stop_pid() {
  local pid=$1
  [[ -n $pid ]] || return 0
  if td_alive "$pid" && td_is_ours "$pid"; then
    kill -"$2" "$pid" 2>/dev/null || true
    poll_until "$3" td_not_alive "$pid" || { td_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null; }
  fi
  wait "$pid" 2>/dev/null || true
}

# The pair's namespaces hold nothing of ours any more (the keeper exits by itself after its
# daemon); anything left after 5 s is killed - these namespaces are ours.
td_node_ns_empty() { [[ -z $(ip netns pids "$TD_NS_NODE_A")$(ip netns pids "$TD_NS_NODE_B") ]]; }
node_ns_clear() {
  local ns pid
  poll_until 5 td_node_ns_empty && return 0
  for ns in "$TD_NS_NODE_A" "$TD_NS_NODE_B"; do
    for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null || true; done
  done
  poll_until 5 td_node_ns_empty || fail "processes left in the node namespaces"
}

stop_node() { # NODE: SIGTERM (clean stop)
  stop_pid "${TD_NODE_PID[$1]:-}" TERM 15
  TD_NODE_PID[$1]=
}

links() { # NODE up|down
  ip -n "${TD_NODE_NS[$1]}" link set "${TD_IFP}${1}o" "$2"
  ip -n "${TD_NODE_NS[$1]}" link set "${TD_IFP}${1}i" "$2"
}

# A fresh pair: both stopped, links up, empty state, new configs, started, one following.
# With the arbiter (ARB on): etcd's /tandem/ keys are deleted first (a crashed sample's key would
# otherwise hold until its lease expires), and the active must hold the member's key.
fresh_pair() { # TAG HOLD POLL POOL [ARB]
  SAMPLE=$1
  stop_node a
  stop_node b
  node_ns_clear
  links a up
  links b up
  rm -rf "$TD_DIR/state-a" "$TD_DIR/state-b"
  if [[ ${5:-off} == on ]]; then
    ectl del --prefix /tandem/ >/dev/null || fail "etcdctl del --prefix /tandem/ failed"
  fi
  configure "$2" "$3" "$4" "${5:-off}"
  start_pair
  if [[ ${5:-off} == on ]]; then
    wait_for 10 "the active holds member m1's key" td_active_holds_key
  fi
}
td_active_holds_key() { [[ $(key_holder) == "node-$(active_node)" ]]; }

# The client network's counter of retransmitted SYNs (/proc/net/netstat is per namespace).
syn_retrans() {
  ip netns exec "$TD_NS_CLIENT" awk '$1 == "TcpExt:" { if (!h) { for (i = 2; i <= NF; i++) k[i] = $i; h = 1 }
    else for (i = 2; i <= NF; i++) if (k[i] == "TCPSynRetrans") print $i }' /proc/net/netstat
}

# ---------------------------------------------------------------------------------------------
# 1. Failover gap

declare -A GAPS=() LOSTS=() PROMOTES=() VIPS=() RESUMES=() SYNS=() MISSED=() INVALID=()
CAP_PID=

td_capture_ready() { grep -q 'listening on' "$1" 2>/dev/null; }

# Handshake packets (SYN, FIN, RST) of the client's connections to the service address.
start_capture() { # FILE
  CAP_PID=
  ((HAVE_TCPDUMP)) || return 0
  ip netns exec "$TD_NS_CLIENT" tcpdump -i "${TD_IFP}c" -n -tt -l \
    "tcp port $TD_PORT and (tcp[tcpflags] & (tcp-syn|tcp-rst|tcp-fin) != 0)" \
    >"$1" 2>"$1.err" &
  CAP_PID=$!
  td_track "$CAP_PID"
  poll_until 5 td_capture_ready "$1.err" || step "tcpdump did not start; no capture"
}

# "+MS DIR FLAGS :PORT" for each captured packet from T0_MS on; DIR is c>s or s>c.
capture_events() { # FILE T0_MS
  awk -v t0="$2" -v srv="$TD_SERVER_IP.$TD_PORT" '$2 == "IP" {
      ms = int($1 * 1000 + 0.5) - t0; if (ms < 0) next
      src = $3; dst = $5; sub(/:$/, "", dst)
      f = $0; sub(/.*Flags \[/, "", f); sub(/\].*/, "", f)
      if (src == srv) { dir = "s>c"; p = dst } else { dir = "c>s"; p = src }
      sub(/.*\./, "", p)
      printf "+%d %s [%s] :%s\n", ms, dir, f, p }' "$1"
}

# One failover sample. Sets the result arrays under KEY "kind|mode|hold|arb".
gap_sample() { # KIND(planned|crash|machine) MODE(dtls|tls) HOLD(default|tuned) RUN ARB(off|on)
  local kind=$1 mode=$2 hold=$3 run=$4 arb=${5:-off} key="$1|$2|$3|${5:-off}" act stb id t0 t_act t_res line
  local cap syn0 syn1 events ev_brief
  id="$kind-$mode-$hold-$run"
  [[ $arb == on ]] && id+=-arb
  cap="$TD_DIR/s-$id.cap"
  if [[ $hold == default ]]; then
    fresh_pair "$id" default default "$TD_POOL" "$arb"
  else
    fresh_pair "$id" "$TUNED_HOLD" "$TUNED_POLL" "$TD_POOL" "$arb"
  fi
  act=$(active_node)
  stb=$(other_node "$act")
  local extra=()
  [[ $mode == tls ]] && extra+=(--no-dtls)
  start_client "c-$id" alice secret-a "${extra[@]}"
  wait_tunnel "c-$id"
  if [[ $mode == dtls ]]; then
    wait_for 10 "DTLS up (client $id)" grep -q 'Established DTLS connection' "$(client_log "c-$id")"
  fi
  start_ping_stream "p-$id" "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
  sleep 2
  wait_for 10 "node $stb caught up before the failover" td_caught_up "$stb"
  sleep 1.2 # tunnel changes and counters reach the standby about once a second
  start_capture "$cap"
  syn0=$(syn_retrans)

  t0=$(td_now_ms)
  case $kind in
    planned) nctl "$act" failover >"$TD_DIR/s-$id.failover" 2>&1 || true ;;
    crash) kill -KILL "${TD_NODE_PID[$act]}" ;;
    machine)
      # Links first: a dead machine sends nothing, not even the FIN/RST its kernel would send
      # for the killed daemon's sockets (with kill first, those escape and the standby and the
      # client see a process crash instead).
      links "$act" down
      kill -KILL "${TD_NODE_PID[$act]}"
      ;;
  esac

  # Resumed: the new active logged session_resumed and a ping reply arrived after that.
  local resumed=0 deadline=$((t0 + RESUME_LIMIT * 1000)) res_ms=0
  while (($(td_now_ms) < deadline)); do
    line=$(grep -m1 'session_resumed ' "$(node_log "$stb")" 2>/dev/null || true)
    if [[ -n $line ]]; then
      res_ms=$(log_ms "$line")
      if (($(ping_last_reply_ms "p-$id") > res_ms)); then resumed=1; break; fi
    fi
    td_alive "$(client_pid "c-$id")" || break
    sleep 0.1
  done
  sleep 1.5
  syn1=$(syn_retrans)
  stop_pid "${TD_PING_PID[p-$id]}" INT 5
  [[ -n $CAP_PID ]] && stop_pid "$CAP_PID" INT 5
  ping_stream_stats "p-$id" 50

  # The standby's promotion after the trigger. One before it means the roles changed on their
  # own during the sample's set-up (seen once with hold_time 1 s on a host at load 9: a missed
  # heartbeat); the trigger then hit the wrong node, and the sample measures nothing.
  local early=0 ms
  t_act=-1
  while IFS= read -r line; do
    ms=$(log_ms "$line")
    if ((ms < t0)); then early=1; elif ((t_act < 0)); then t_act=$((ms - t0)); fi
  done < <(grep 'role_change role=active' "$(node_log "$stb")" 2>/dev/null || true)
  t_res=-1
  ((res_ms > 0)) && t_res=$((res_ms - t0))
  line=$(grep -m1 "service_address_taken address=$TD_SERVER_IP/" "$(node_log "$stb")" 2>/dev/null || true)
  local t_vip=-1
  [[ -n $line ]] && t_vip=$(($(log_ms "$line") - t0))
  events=
  [[ -s $cap ]] && events=$(capture_events "$cap" "$t0")
  ev_brief=$(head -n 12 <<<"$events" | paste -sd ';' - | sed 's/;/; /g')
  if ((early)); then
    INVALID[$key]=$((${INVALID[$key]:-0} + 1))
    note "$id: INVALID, left out: node $stb had become active before the trigger (roles changed during the set-up); logs in $TD_DIR"
  elif ((resumed)); then
    GAPS[$key]+=" $TD_PING_GAP_MS"
    LOSTS[$key]+=" $TD_PING_LOST"
    PROMOTES[$key]+=" $t_act"
    VIPS[$key]+=" $t_vip"
    RESUMES[$key]+=" $t_res"
    SYNS[$key]+=" $((syn1 - syn0))"
  else
    MISSED[$key]=$((${MISSED[$key]:-0} + 1))
    note "$id: NOT RESUMED within ${RESUME_LIMIT}s (client $(td_alive "$(client_pid "c-$id")" && echo alive || echo exited)); logs in $TD_DIR"
  fi
  step "SAMPLE $id: gap ${TD_PING_GAP_MS} ms, lost $TD_PING_LOST, promoted +${t_act} ms, address +${t_vip} ms, resumed +${t_res} ms, SYN retransmits $((syn1 - syn0)); handshake packets: ${ev_brief:-none}"
  SAMPLE_LINES+=("$id: gap ${TD_PING_GAP_MS} ms, lost $TD_PING_LOST, new active +${t_act} ms, service address taken +${t_vip} ms, session_resumed +${t_res} ms, client SYN retransmits $((syn1 - syn0)); client TCP SYN/FIN/RST after the trigger: ${ev_brief:-(no capture)}")

  stop_pid "$(client_pid "c-$id")" INT 10
  if [[ $kind == machine ]]; then links "$act" up; fi
}
SAMPLE_LINES=()

run_gaps() {
  local run hold kind mode key gm gx lm lx pm rsm sm vm label holdlabel arb arblabel
  for ((run = 1; run <= RUNS; run++)); do
    for hold in default tuned; do
      in_list "$HOLDS" "$hold" || continue
      for kind in planned crash machine; do
        in_list "$KINDS" "$kind" || continue
        for mode in dtls tls; do
          in_list "$MODES" "$mode" || continue
          for arb in $ARB_CASES; do
            gap_sample "$kind" "$mode" "$hold" "$run" "$arb"
          done
        done
      done
    done
  done
  stop_node a
  stop_node b
  for arb in $ARB_CASES; do
  for hold in default tuned; do
    in_list "$HOLDS" "$hold" || continue
    if [[ $arb == on ]]; then arblabel=", arbiter (etcd, lease_ttl $TTL)"; else arblabel=", heartbeats only"; fi
    if [[ $hold == default ]]; then
      holdlabel="hold_time 3 s (default; poll 500 ms)"
    else
      holdlabel="hold_time $TUNED_HOLD, poll $TUNED_POLL"
    fi
    for kind in planned crash machine; do
      in_list "$KINDS" "$kind" || continue
      for mode in dtls tls; do
        in_list "$MODES" "$mode" || continue
        key="$kind|$mode|$hold|$arb"
        case $kind in
          planned) label="planned (tandemctl failover)" ;;
          crash) label="crash (kill -9 tandemd)" ;;
          machine) label="machine crash (links down, then kill -9)" ;;
        esac
        # shellcheck disable=SC2086
        read -r gm gx <<<"$(median_max ${GAPS[$key]:-})"
        # shellcheck disable=SC2086
        read -r lm lx <<<"$(median_max ${LOSTS[$key]:-})"
        # shellcheck disable=SC2086
        read -r pm _ <<<"$(median_max ${PROMOTES[$key]:-})"
        # shellcheck disable=SC2086
        read -r rsm _ <<<"$(median_max ${RESUMES[$key]:-})"
        # shellcheck disable=SC2086
        read -r vm _ <<<"$(median_max ${VIPS[$key]:-})"
        # shellcheck disable=SC2086
        read -r sm _ <<<"$(median_max ${SYNS[$key]:-})"
        row "failover gap, ms" "$label, ${mode^^}, $holdlabel$arblabel" "$gm" "$gx" \
          "lost pings median $lm max $lx; medians: new active +$pm ms, service address +$vm ms, session resumed +$rsm ms, client SYN retransmits $sm; samples:${GAPS[$key]:- none}${MISSED[$key]:+; ${MISSED[$key]} NOT resumed in ${RESUME_LIMIT} s}${INVALID[$key]:+; ${INVALID[$key]} invalid (roles changed before the trigger), left out}"
      done
    done
  done
  done
}

# ---------------------------------------------------------------------------------------------
# 2. Standby catch-up

# One status poll of node N: "role peer_state lag sessions" ("- - - -" when it does not answer).
status_line() {
  node_status "$1" |
    jq -r '"\(.role) \(.peer_state | gsub(" "; "_")) \(.replication_lag_seq) \(.sessions)"' 2>/dev/null ||
    echo "- - - -"
}

# create_sessions NODE N: N logins as bob (cheap hash) against the service address; sets
# CREATE_RATE (logins/s) and CREATE_S (wall seconds).
create_sessions() { # NODE COUNT [USER]
  local n=$1 count=$2 user=${3:-bob} t0 json log before have missing attempt rates=()
  before=$(node_field "$n" sessions)
  t0=$(td_now_ms)
  missing=$count
  # A login that fails (seen: one "TCP connect timed out" in 10 000) is made up by another run;
  # at most three runs.
  for attempt in 1 2 3; do
    json=$TD_DIR/$SAMPLE-create-$user-$attempt.json
    log=$TD_DIR/$SAMPLE-create-$user-$attempt.log
    bg_wait timeout $((missing / 20 + 120)) ip netns exec "$TD_NS_CLIENT" "$LOAD" \
      --server "$TD_SERVER_IP:$TD_PORT" --user "$user" --password-file "$TD_DIR/password-b" \
      --sessions "$missing" --concurrency "$LOAD_CONCURRENCY" --pin "$TD_PIN" --quiet \
      --report-json "$json" >"$log" 2>&1
    [[ -s $json ]] || fail "tandem-load wrote no report (see $log)"
    rates+=("$(jq -r .logins_per_second "$json")")
    have=$(node_field "$n" sessions)
    missing=$((before + count - have))
    ((missing > 0)) || break
    note "creating $count sessions of $user: run $attempt left $missing missing ($(jq -c .errors "$json")); another run makes them up"
  done
  ((missing <= 0)) || fail "node $n has $have sessions after creating $count more than $before"
  CREATE_S=$(awk -v ms=$(($(td_now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')
  CREATE_RATE=${rates[0]}
}

# catchup_run NODE N: start NODE (stopped) and poll its status, and the active's, every 50 ms
# until it follows with lag 0 and holds N sessions and the active says its standby is connected
# with lag 0. Sets CU_FOLLOW_S (the standby first said following + lag 0), CU_ALL_S, CU_ACTIVE_S
# (seconds, "-" if never) and CU_PATH.
catchup_run() {
  local n=$1 count=$2 t0 now role=- ps=- lag=- ses=- limit_ms seen alog other aps alag
  other=$(other_node "$n")
  limit_ms=$((60000 + count * 3)) # generous: 60 s + 3 ms per session
  CU_FOLLOW_S=-
  CU_FOLLOW_SES=-
  CU_ALL_S=-
  CU_MAX_LAG=0
  CU_POLLS=0
  CU_ACTIVE_S=-
  CU_ACTIVE_MAX_LAG=0
  alog=$(node_log "$(other_node "$n")")
  seen=$(wc -l <"$alog")
  t0=$(td_now_ms)
  start_node "$n"
  while true; do
    now=$(td_now_ms)
    ((now - t0 < limit_ms)) || break
    read -r role ps lag ses <<<"$(status_line "$n")"
    CU_POLLS=$((CU_POLLS + 1))
    # The active's view: its last sequence minus what the standby acknowledged.
    if [[ $CU_ACTIVE_S == - ]]; then
      read -r _ aps alag _ <<<"$(status_line "$other")"
      [[ $alag =~ ^[0-9]+$ ]] && ((alag > CU_ACTIVE_MAX_LAG)) && CU_ACTIVE_MAX_LAG=$alag
      if [[ $aps == standby_connected && $alag == 0 ]]; then
        CU_ACTIVE_S=$(awk -v ms=$(($(td_now_ms) - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
      fi
    fi
    [[ $lag =~ ^[0-9]+$ ]] && ((lag > CU_MAX_LAG)) && CU_MAX_LAG=$lag
    if [[ $ps == following && $lag == 0 ]]; then
      if [[ $CU_FOLLOW_S == - ]]; then
        CU_FOLLOW_S=$(awk -v ms=$((now - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
        CU_FOLLOW_SES=$ses
      fi
      if [[ $ses =~ ^[0-9]+$ ]] && ((ses >= count)) && [[ $CU_ACTIVE_S != - ]]; then
        CU_ALL_S=$(awk -v ms=$(($(td_now_ms) - t0)) 'BEGIN { printf "%.2f", ms / 1000 }')
        break
      fi
    fi
    sleep 0.05
  done
  CU_PATH=$(tail -n +$((seen + 1)) "$alog" | grep -E 'replication_snapshot|standby_connected' |
    head -n 2 | sed -E 's/^[^ ]+ [a-z]+ //' | paste -sd ';' - | sed 's/;/; /g')
  step "catch-up of node $n to $count sessions: following+lag0 after ${CU_FOLLOW_S}s, all sessions after ${CU_ALL_S}s ($CU_PATH; last status: $role $ps lag=$lag sessions=$ses)"
}

# Two rows per catch-up: what `status --json` claims, and when the sessions really were there.
catchup_rows() { # CONDITION COUNT
  local how=change-log
  [[ $CU_PATH == *replication_snapshot* ]] && how=snapshot
  row "standby catch-up: status says following + lag 0, s" "$1 (active sent: $how)" "$CU_FOLLOW_S" "" \
    "at that moment the standby held $CU_FOLLOW_SES of $2 sessions; highest lag seen $CU_MAX_LAG; $CU_POLLS polls"
  row "standby catch-up: all sessions on the standby, s" "$1 (active sent: $how)" "$CU_ALL_S" "" \
    "standby status: following, lag 0, sessions >= $2, and the active's status: standby connected, lag 0 (first seen at $CU_ACTIVE_S s; its highest lag $CU_ACTIVE_MAX_LAG); active logged: $CU_PATH"
}

# The active keeps the last changelog_limit (100 000) changes and trims once it holds over
# limit + limit/16; a standby whose position is older than the retained log gets a snapshot.
CHANGELOG_TRIM_AT=106250

run_catchup() {
  local count act stb label churn t0
  for count in $CATCHUP_COUNTS; do
    label=$(awk -v n="$count" 'BEGIN { if (n % 1000 == 0) printf "%dk", n / 1000; else printf "%d", n }')
    fresh_pair "catchup-$count" default default "$BIG_POOL"
    act=$(active_node)
    stb=$(other_node "$act")
    stop_node "$stb"
    wait_for 10 "node $act degraded (standby stopped)" td_degraded_is "$act" true
    step "creating $count sessions on node $act (standby stopped)"
    create_sessions "$act" "$count"
    note "catch-up $label: $count sessions created on the active (standby stopped) in ${CREATE_S} s, $CREATE_RATE logins/s (bob, sha512crypt rounds=1000, concurrency $LOAD_CONCURRENCY); active RSS $(awk '/^VmRSS:/ {print $2}' "/proc/${TD_NODE_PID[$act]}/status") kB"

    # (a) The standby comes back with its state_dir (stopped right after the pair formed, so it
    # holds nothing): the active replays its change log.
    catchup_run "$stb" "$count"
    catchup_rows "$label sessions, standby restarted with its state_dir (stopped since the pair formed)" "$count"
    stop_node "$stb"

    # (b) Snapshot: push the active's change log past its trim point with sessions of carol that
    # are created and logged off again (2 changes each), then start the standby from an empty
    # state_dir, which is then older than the retained log.
    churn=$(((CHANGELOG_TRIM_AT - count) / 2 + 500))
    ((churn < 500)) && churn=500
    if ((churn > SNAPSHOT_CHURN_MAX)); then
      row "standby catch-up: all sessions on the standby, s" "$label sessions, standby started with an empty state_dir (active sent: snapshot)" \
        "not measured" "" "forcing a snapshot needs $churn extra logins + logoffs to push the change log past its trim point ($CHANGELOG_TRIM_AT changes); over --snapshot-churn-max $SNAPSHOT_CHURN_MAX"
    else
      step "churn: $churn sessions of carol created and logged off, to trim the change log"
      create_sessions "$act" "$churn" carol
      t0=$(td_now_ms)
      bg_wait timeout 300 ip netns exec "${TD_NODE_NS[$act]}" "$TD_TANDEMCTL" \
        --socket "$TD_DIR/admin-$act.sock" logoff --user carol >"$TD_DIR/$SAMPLE-logoff.log" 2>&1
      ((BG_RC == 0)) || fail "tandemctl logoff --user carol failed: $(tail -n 3 "$TD_DIR/$SAMPLE-logoff.log")"
      [[ $(node_field "$act" sessions) == "$count" ]] || fail "node $act does not hold $count sessions after the churn"
      note "catch-up $label snapshot set-up: $churn carol sessions created at $CREATE_RATE logins/s and logged off in $(( $(td_now_ms) - t0 )) ms (one tandemctl logoff)"
      rm -rf "$TD_DIR/state-$stb"
      mkdir -p "$TD_DIR/state-$stb"
      catchup_run "$stb" "$count"
      catchup_rows "$label sessions, standby started with an empty state_dir after the change log was trimmed" "$count"
    fi
    stop_node a
    stop_node b
  done
}

# ---------------------------------------------------------------------------------------------
# 3. Session creation rate, standby acknowledgement on and off

td_degraded_is() { [[ $(node_field "$1" degraded) == "$2" ]]; }

rate_run() { # USER PASSWORD_FILE TAG; RATE_RESULT="logins/s p50_ms ok failed"
  local json=$TD_DIR/rate-$3.json
  bg_wait timeout $((RATE_SESSIONS / 5 + 120)) ip netns exec "$TD_NS_CLIENT" "$LOAD" \
    --server "$TD_SERVER_IP:$TD_PORT" --user "$1" --password-file "$2" \
    --sessions "$RATE_SESSIONS" --concurrency "$RATE_CONCURRENCY" --pin "$TD_PIN" --quiet \
    --report-json "$json" >"$TD_DIR/rate-$3.log" 2>&1
  [[ -s $json ]] || fail "tandem-load wrote no report (see $TD_DIR/rate-$3.log)"
  RATE_RESULT=$(jq -r '"\(.logins_per_second) \(.login_p50_ms) \(.sessions_ok) \(.sessions_failed)"' "$json")
}

# rate_one USER PASSWORD_FILE on|off TAG: one run on a fresh pair (every run starts from zero
# sessions: AddressPool::allocate walks the leased addresses, so the rate depends on how many
# sessions exist). Appends to RATE_R and RATE_P.
rate_one() {
  local act stb r p ok bad
  fresh_pair "rate-$4" default default "$BIG_POOL"
  act=$(active_node)
  stb=$(other_node "$act")
  if [[ $3 == on ]]; then
    wait_for 20 "node $stb caught up" td_caught_up "$stb"
    # An active whose follower has had nothing to acknowledge yet still says degraded=true; it
    # waits for acknowledgements all the same (enqueue_locked), so this does not change the run.
    if td_degraded_is "$act" true && [[ -z ${DEGRADED_NOTED:-} ]]; then
      DEGRADED_NOTED=1
      note "status: a fresh active reports degraded=true while its standby is following with lag 0, until the first change is acknowledged (Replicator clears degraded only in on_ack)"
    fi
  else
    stop_node "$stb"
    wait_for 10 "node $act degraded" td_degraded_is "$act" true
  fi
  rate_run "$1" "$2" "$4"
  read -r r p ok bad <<<"$RATE_RESULT"
  ((bad == 0)) || note "rate run $4: $bad of $RATE_SESSIONS logins failed"
  RATE_R+=("$r")
  RATE_P+=("$p")
  step "rate $4: $r logins/s (p50 $p ms, $ok ok, $bad failed)"
}

run_rate() {
  local round who pw hash on off lat_on lat_off first second mode
  for who in alice bob; do
    if [[ $who == alice ]]; then hash="yescrypt $YESCRYPT_PARAMS (tandemctl passwd)"; else hash="sha512crypt rounds=1000"; fi
    pw=$TD_DIR/password-${who:0:1}
    on=() off=() lat_on=() lat_off=()
    for ((round = 1; round <= RATE_ROUNDS; round++)); do
      # Alternate the order so that a trend in the machine's load does not favour one side.
      if ((round % 2)); then first=on second=off; else first=off second=on; fi
      for mode in $first $second; do
        RATE_R=() RATE_P=()
        rate_one "$who" "$pw" "$mode" "$who-$mode-$round"
        if [[ $mode == on ]]; then on+=("${RATE_R[0]}") lat_on+=("${RATE_P[0]}")
        else off+=("${RATE_R[0]}") lat_off+=("${RATE_P[0]}"); fi
      done
    done
    row "session creations/s" "standby acknowledging (pair up), $hash" \
      "$(median_max "${on[@]}" | cut -d' ' -f1)" "$(median_max "${on[@]}" | cut -d' ' -f2)" \
      "runs: ${on[*]}; login p50 ms: ${lat_on[*]}"
    row "session creations/s" "standby stopped (active degraded, no wait), $hash" \
      "$(median_max "${off[@]}" | cut -d' ' -f1)" "$(median_max "${off[@]}" | cut -d' ' -f2)" \
      "runs: ${off[*]}; login p50 ms: ${lat_off[*]}"
  done
  note "creation rate: tandem-load, $RATE_SESSIONS logins per run (no CONNECT), concurrency $RATE_CONCURRENCY, each run on a fresh pair (zero sessions at the start); ack-on and ack-off runs alternate"
  stop_node a
  stop_node b
}

# ---------------------------------------------------------------------------------------------

step "work dir $TD_DIR; parts: $PARTS; tcpdump: $HAVE_TCPDUMP"
if part gap; then run_gaps; fi
if part rate; then run_rate; fi
if part catchup && [[ -n ${CATCHUP_COUNTS// /} ]]; then run_catchup; fi
node_ns_clear

if part gap; then
  note "gap = longest silence between consecutive replies of \`ping -i 0.05\` from the client ns to the inside host through the tunnel; lost = sequence numbers never answered. Times (+ms) count from the trigger (taken just before tandemctl failover, the kill -9 or the links going down)."
  for l in "${SAMPLE_LINES[@]}"; do NOTES+=("sample $l"); done
fi
print_table
