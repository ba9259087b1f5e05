#!/usr/bin/env bash
# Scale of one node. Not a test: it is not registered with CTest, asserts nothing about speed,
# and prints one table (also written as Markdown to --out). See tests/bench/SCALE.md for the
# method and the recorded results. Needs root.
#
#   parked   N sessions logged in with tandem-load (no CONNECT): tandemd's RSS and anonymous
#            memory before and after (KB per parked session), the login rate, tandemd's CPU.
#   tunnels  T sessions logged in and CONNECTed, tunnels held open (CSTP over TLS): KB per
#            connected tunnel, file descriptors, kernel TCP memory; a fresh login must still
#            work with all of them up.
#   dtls     the same with a DTLS association beside each tunnel (tandem-load --dtls).
#   limits   what a node does at the limits it can hit: an address pool smaller than the logins
#            (refused with a reason?), and a descriptor limit (RLIMIT_NOFILE) below the tunnels
#            (refused cleanly, or does it spin or fall over?); after each, a fresh login and
#            CONNECT must still work.
#
# Topology: tests/e2e/lib.sh (client, headend, inside namespaces). The client namespace gets
# --sources addresses (10.200.0.20 ...): one source address reaches tandemd's one address:port
# from at most ~64k ports, and each held tunnel takes one, as does each login's connection while
# it lingers in TIME_WAIT. The client namespace also widens its port range and reuses TIME_WAIT
# ports (per-namespace sysctls).
#
# Hygiene: every wait and loop is bounded; --deadline bounds the whole run (watchdog); on
# EXIT/INT/TERM the harness's trap stops, by PID, every process this script started (and only
# while it is still our child), kills what is left inside our own namespaces and deletes them.

set -euo pipefail

SESSIONS=100000
TUNNELS=100000
CONCURRENCY=64
SOURCES=4
PARTS="parked,tunnels,dtls,limits"
STORM=10000
STORM_CONCURRENCY=1000
OUT=/tmp/tandem-scale-bench.md
DEADLINE=3000
KEEP=0
LIMIT_NOFILE=256  # tandemd's RLIMIT_NOFILE in the descriptor-limit case
LIMIT_TUNNELS=400 # tunnels tried against it
LIMIT_POOL=10.78.0.0/24
LIMIT_LOGINS=300 # logins tried against a /24 pool (253 addresses for clients)
LIMIT_SESSIONS=200 # [limits] max_sessions for the session-limit row (the same 300 logins)

usage() {
  cat <<EOF
Usage: $0 [options]          (as root)
  --sessions N       parked sessions, 1..1000000 (default $SESSIONS)
  --tunnels N        held tunnels, 1..1000000 (default $TUNNELS)
  --concurrency C    tandem-load logins/CONNECTs in progress at once, 1..1000 (default $CONCURRENCY)
  --sources K        client source addresses, 1..64 (default $SOURCES)
  --dtls-tunnels N   held tunnels with a DTLS association each, 1..1000000 (default: half of
                     --tunnels; tandem-load needs two descriptors per tunnel then)
  --only LIST        comma-separated subset of parked,tunnels,dtls,limits (default all), or storm
                     alone (it runs on an active/standby pair, a topology of its own)
  --storm N          tunnels dropped by the failover and resumed, 1..100000 (default $STORM)
  --storm-concurrency C  resumes in progress at once, 1..10000 (default $STORM_CONCURRENCY)
  --out FILE         Markdown copy of the table and notes (default $OUT)
  --deadline S       bound for the whole run, 60..14400 s (default $DEADLINE)
  --keep             keep the work directory (logs, configs, reports) even on success
Environment: TANDEM_BUILD_DIR (default <repo>/build).
EOF
}

BENCH_NAME=scale_bench
# shellcheck source=lib_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_bench.sh"

while (($#)); do
  case $1 in
    --sessions) SESSIONS=$(int_arg --sessions "${2:-}" 1 1000000); shift 2 ;;
    --tunnels) TUNNELS=$(int_arg --tunnels "${2:-}" 1 1000000); shift 2 ;;
    --dtls-tunnels) DTLS_TUNNELS=$(int_arg --dtls-tunnels "${2:-}" 1 1000000); shift 2 ;;
    --concurrency) CONCURRENCY=$(int_arg --concurrency "${2:-}" 1 1000); shift 2 ;;
    --storm) STORM=$(int_arg --storm "${2:-}" 1 100000); shift 2 ;;
    --storm-concurrency) STORM_CONCURRENCY=$(int_arg --storm-concurrency "${2:-}" 1 10000); shift 2 ;;
    --sources) SOURCES=$(int_arg --sources "${2:-}" 1 64); shift 2 ;;
    --only)
      PARTS=${2:?--only needs a value}
      [[ $PARTS =~ ^(parked|tunnels|dtls|limits)(,(parked|tunnels|dtls|limits))*$ ||
        $PARTS == storm ]] || die "--only takes parked,tunnels,dtls,limits, or storm alone"
      shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --deadline) DEADLINE=$(int_arg --deadline "${2:-}" 60 14400); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
part() { [[ ,$PARTS, == *,$1,* ]]; }

# Descriptors: tandemd holds one per tunnel and tandem-load one per tunnel and login in flight.
# Children inherit the limit; fs.nr_open (default 1048576) is the ceiling.
# Raising the hard limit needs CAP_SYS_RESOURCE; without it, the hard limit we were given caps
# the tunnels (tandemd needs about 100 descriptors besides one per tunnel).
NOFILE=$(cat /proc/sys/fs/nr_open)
ulimit -Hn "$NOFILE" 2>/dev/null || NOFILE=$(ulimit -Hn)
ulimit -Sn "$NOFILE"
TUNNELS_ASKED=$TUNNELS
((TUNNELS <= NOFILE - 1000)) || TUNNELS=$((NOFILE - 1000))
DTLS_TUNNELS=${DTLS_TUNNELS:-$((TUNNELS_ASKED / 2))}
DTLS_TUNNELS_ASKED=$DTLS_TUNNELS
((DTLS_TUNNELS <= (NOFILE - 1000) / 2)) || DTLS_TUNNELS=$(((NOFILE - 1000) / 2))

export TD_DEADLINE=$DEADLINE
export TD_KEEP=$KEEP
# shellcheck source=../e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"
# shellcheck source=../e2e/lib_pair.sh
source "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib_pair.sh"
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
# The pool: one address per session (leased at login), room for 262 141.
TD_POOL=10.64.0.0/14

step() { bench_step "$@"; }

# ---------------------------------------------------------------------------------------------
# Results, and printing them (also what was measured so far when the run is cut short)

ROWS=() # "figure|condition|value|detail"
NOTES=()
PRINTED=0
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git -C "$TANDEM_SOURCE_DIR" describe --always --dirty 2>/dev/null || echo unknown)

row() { ROWS+=("$1|$2|$3|$4"); }
note() { NOTES+=("$*"); step "note: $*"; }

print_table() {
  local r f c v d
  {
    printf '## Tandem scale of one node (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Commit %s. Host: %s CPUs (%s), %s GB RAM, kernel %s; load average %s at start, %s at the end.\n\n' \
      "$COMMIT" "$(nproc)" "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
      "$(awk '/^MemTotal:/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)" "$(uname -r)" \
      "$START_LOAD" "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| figure | condition | value | detail |\n'
    printf '|---|---|---:|---|\n'
    for r in "${ROWS[@]}"; do
      IFS='|' read -r f c v d <<<"$r"
      printf '| %s | %s | %s | %s |\n' "$f" "$c" "$v" "$d"
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
  if ((PRINTED == 0 && (${#ROWS[@]} > 0 || ${#NOTES[@]} > 0))); then
    NOTES+=("THE RUN WAS CUT SHORT (exit $rc): the table holds what was measured before that")
    print_table
  fi
  (exit "$rc")
  td_cleanup >&2
}
trap bench_exit EXIT

# ---------------------------------------------------------------------------------------------
# Measuring

CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; } # PID VmRSS|RssAnon
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
# Kernel TCP memory of the whole machine (pages, /proc/net/sockstat "mem"), and the headend
# namespace's TCP sockets in use.
tcp_mem_pages() { ip netns exec "$TD_NS_HEADEND" awk '/^TCP:/ { for (i = 2; i <= NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }
tcp_inuse() { ip netns exec "$TD_NS_HEADEND" awk '/^TCP:/ { print $3 }' /proc/net/sockstat; }
kb_per() { awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.2f", (b - a) / n }'; }
secs_since() { awk -v ms=$(($(td_now_ms) - $1)) 'BEGIN { printf "%.1f", ms / 1000 }'; }

status_json() { tctl status --json 2>/dev/null || echo '{}'; }
status_field() { status_json | jq -r ".$1 // \"-\""; }

# tandemd, afresh, with its own state directory (sessions persist across restarts otherwise).
# fresh_tandemd TAG [EXTRA_TOML] [POOL]
fresh_tandemd() {
  local tag=$1 extra=${2:-} pool=${3:-$TD_POOL}
  if [[ -n $TD_TANDEMD_PID ]] && td_alive "$TD_TANDEMD_PID"; then stop_tandemd; fi
  write_config "$POLICY
$extra"
  sed -i "s|^state_dir = .*|state_dir = \"$TD_DIR/state-$tag\"|; s|^ipv4 = .*|ipv4 = \"$pool\"|" "$TD_CONFIG"
  mkdir -p "$TD_DIR/state-$tag"
  TD_TANDEMD_LOG=$TD_DIR/tandemd-$tag.log
  start_tandemd
  HASH_THREADS=$(log_events listening | tail -n1)
  HASH_THREADS=$(field hash_threads "$HASH_THREADS" || echo "?")
}

# run_load TAG ARGS...: tandem-load in the client namespace, in the background (LOAD_PID), with
# our sources, pin and JSON report ($TD_DIR/load-TAG.json, log load-TAG.log).
run_load() {
  local tag=$1
  shift
  ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --pin "$TD_PIN" \
    --source "$SOURCE_LIST" --quiet --report-json "$TD_DIR/load-$tag.json" "$@" \
    >"$TD_DIR/load-$tag.log" 2>&1 &
  LOAD_PID=$!
  td_track "$LOAD_PID"
}

# wait_load SECONDS: wait for tandem-load (LOAD_PID) to exit; samples its CPU and RSS and
# tandemd's CPU every 0.5 s meanwhile (LOAD_CPU ticks, LOAD_RSS_KB peak); fails on the timeout.
wait_load() {
  local limit_ms=$(($(td_now_ms) + $1 * 1000)) c r
  LOAD_CPU=0 LOAD_RSS_KB=0
  while td_alive "$LOAD_PID"; do
    (($(td_now_ms) < limit_ms)) || fail "tandem-load did not finish within $1 s"
    c=$(cpu_ticks "$LOAD_PID") && ((c > LOAD_CPU)) && LOAD_CPU=$c
    r=$(status_kb "$LOAD_PID" VmRSS 2>/dev/null || echo 0) && ((${r:-0} > LOAD_RSS_KB)) && LOAD_RSS_KB=$r
    [[ -z $TD_TANDEMD_PID ]] || td_alive "$TD_TANDEMD_PID" ||
      fail "tandemd exited while tandem-load ran (see $TD_TANDEMD_LOG)"
    sleep 0.5
  done
  LOAD_RC=0
  wait "$LOAD_PID" || LOAD_RC=$?
  # 1 = some sessions failed (counted in the report); anything else is a set-up error.
  ((LOAD_RC <= 1)) || note "tandem-load exited with status $LOAD_RC: $(tail -n 2 "$TD_DIR"/load-*.log | tr '\n' ' ')"
}

json() { jq -r "$2" "$TD_DIR/load-$1.json"; }
json_c() { jq -c "$2" "$TD_DIR/load-$1.json"; }

# A fresh login and CONNECT from the client's main address while the node is loaded or was at a
# limit: the node must keep serving. Sets PROBE ("ok" or what failed).
probe_login() {
  local tag=$1
  PROBE=ok
  ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --pin "$TD_PIN" \
    --user bob --password-file "$TD_DIR/password-b" --sessions 1 --connect --hold 1 \
    --report-json "$TD_DIR/probe-$tag.json" >"$TD_DIR/probe-$tag.log" 2>&1 &
  local pid=$!
  td_track "$pid"
  local limit_ms=$(($(td_now_ms) + 60000))
  while td_alive "$pid" && (($(td_now_ms) < limit_ms)); do sleep 0.2; done
  if td_alive "$pid"; then
    kill -INT "$pid"
    PROBE="probe login+CONNECT did not finish in 60 s"
  fi
  wait "$pid" 2>/dev/null || true
  if [[ $PROBE == ok ]]; then
    [[ -s $TD_DIR/probe-$tag.json ]] || { PROBE="probe wrote no report"; return; }
    [[ $(jq -r .tunnels_up "$TD_DIR/probe-$tag.json") == 1 ]] ||
      PROBE="probe failed: $(jq -c .errors "$TD_DIR/probe-$tag.json")"
  fi
}

# ---------------------------------------------------------------------------------------------
# Set-up

for tool in jq perl ss awk; do command -v "$tool" >/dev/null || fail "missing tool: $tool"; done
[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
"$LOAD" --help | grep -q -- '--source' || fail "$LOAD has no --source option: rebuild it"

if part storm; then
  setup_pair_topology
  CLIENT_IF=${TD_IFP}c
  make_pair_pki
else
  setup_topology
  CLIENT_IF=${TD_IFP}c1
fi
SOURCE_LIST=
for ((k = 0; k < SOURCES; k++)); do
  # .11 and .12 are the pair's nodes: the sources start at .20.
  ip -n "$TD_NS_CLIENT" addr add "10.200.0.$((20 + k))/24" dev "$CLIENT_IF"
  SOURCE_LIST+=${SOURCE_LIST:+,}10.200.0.$((20 + k))
done
# Per-namespace: only our client namespace.
ip netns exec "$TD_NS_CLIENT" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" \
  net.ipv4.tcp_tw_reuse=1
# The headend's accept queue: bursts of --concurrency connections.
SERVER_NS=("$TD_NS_HEADEND")
if part storm; then SERVER_NS=("$TD_NS_NODE_A" "$TD_NS_NODE_B"); fi
for ns in "${SERVER_NS[@]}"; do
  ip netns exec "$ns" sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=8192
done

# bob: sha512crypt with 1000 rounds, the cheapest hash the users file accepts ($6$, see
# node/auth/users.cpp): the password check is then a small part of a login's cost.
BOB_SALT=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9./' | head -c 16)
BOB_HASH=$(perl -e 'print crypt($ARGV[0], $ARGV[1])' secret-b "\$6\$rounds=1000\$$BOB_SALT\$")
[[ $BOB_HASH == '$6$rounds=1000$'* ]] || fail "perl crypt() did not give a sha512crypt hash"
printf 'bob:%s\n' "$BOB_HASH" >"$TD_USERS"
printf 'secret-b\n' >"$TD_DIR/password-b"

# Many logins of one user from few addresses: no per-user session limit, per-address caps off
# (docs/limits.md says a load-testing client does this).
POLICY=$'[policy.default]\nsimultaneous_logins = 0'
POLICY+=$'\n[limits]\nconnections_per_address = 0\ntls_handshakes_per_address = 0'
POLICY+=$'\nlogins_in_flight_per_address = 0'

if ((TUNNELS != TUNNELS_ASKED)) && part tunnels; then
  note "RLIMIT_NOFILE is capped at $NOFILE here (hard limit; raising it needs CAP_SYS_RESOURCE, which this run does not have): $TUNNELS tunnels instead of $TUNNELS_ASKED, so that the limit is not what is measured (the limits part hits it on purpose)"
fi
if ((DTLS_TUNNELS != DTLS_TUNNELS_ASKED)) && part dtls; then
  note "RLIMIT_NOFILE is capped at $NOFILE here: $DTLS_TUNNELS tunnels with DTLS instead of $DTLS_TUNNELS_ASKED (tandem-load holds a TCP and a UDP socket per tunnel)"
fi
step "work dir $TD_DIR; parts $PARTS; sessions $SESSIONS, tunnels $TUNNELS, DTLS tunnels $DTLS_TUNNELS, concurrency $CONCURRENCY, sources $SOURCE_LIST; RLIMIT_NOFILE $NOFILE"
note "commit $COMMIT; tandem-load concurrency $CONCURRENCY from $SOURCES source addresses ($SOURCE_LIST); user bob with sha512crypt rounds=1000; pool $TD_POOL; RLIMIT_NOFILE $NOFILE for tandemd and tandem-load"

# ---------------------------------------------------------------------------------------------
# Parked sessions

run_parked() {
  local rss0 anon0 rss1 anon1 cpu0 cpu1 t0 wall have rate ok failed
  fresh_tandemd parked
  sleep 2
  rss0=$(status_kb "$TD_TANDEMD_PID" VmRSS) anon0=$(status_kb "$TD_TANDEMD_PID" RssAnon)
  cpu0=$(cpu_ticks "$TD_TANDEMD_PID")
  step "parked: logging in $SESSIONS sessions (tandemd RSS $rss0 kB, anon $anon0 kB, hash threads $HASH_THREADS)"
  t0=$(td_now_ms)
  run_load parked --user bob --password-file "$TD_DIR/password-b" --sessions "$SESSIONS" \
    --concurrency "$CONCURRENCY"
  wait_load $((SESSIONS / 20 + 300))
  wall=$(secs_since "$t0")
  cpu1=$(cpu_ticks "$TD_TANDEMD_PID")
  [[ -s $TD_DIR/load-parked.json ]] || fail "tandem-load wrote no report (see $TD_DIR/load-parked.log)"
  ok=$(json parked .logins_ok) failed=$(json parked .logins_failed) rate=$(json parked .logins_per_second)
  sleep 3 # let the store's writes settle before reading memory
  rss1=$(status_kb "$TD_TANDEMD_PID" VmRSS) anon1=$(status_kb "$TD_TANDEMD_PID" RssAnon)
  have=$(status_field sessions)
  step "parked: $ok logged in, $failed failed, node holds $have sessions; RSS $rss1 kB, anon $anon1 kB"
  ((failed == 0)) || note "parked: $failed of $SESSIONS logins failed: $(json_c parked .errors)"
  [[ $have == "$ok" ]] || note "parked: tandem-load counted $ok logins but the node says $have sessions"
  row "memory per parked session, KB" "$have sessions logged in, no tunnel (goal <= 2)" \
    "$(kb_per "$rss0" "$rss1" "$have")" \
    "VmRSS $rss0 -> $rss1 kB; RssAnon $anon0 -> $anon1 kB = $(kb_per "$anon0" "$anon1" "$have") KB per session"
  row "login rate, logins/s" "$SESSIONS logins, concurrency $CONCURRENCY, $HASH_THREADS hash threads" "$rate" \
    "p50 $(json parked .login_p50_ms) ms, p99 $(json parked .login_p99_ms) ms; wall $wall s; tandemd CPU $(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * t / hz / w }') % of one core, tandem-load $(awk -v t="$LOAD_CPU" -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * t / hz / w }') % (same $(nproc) CPUs); load average after $(cut -d' ' -f1-3 /proc/loadavg)"
  PARKED_KB=$(kb_per "$rss0" "$rss1" "$have")
  stop_tandemd
}

# ---------------------------------------------------------------------------------------------
# Held tunnels

# run_tunnels tunnels|dtls: TLS (CSTP) tunnels alone, or each with its DTLS association too.
run_tunnels() {
  local kind=$1 rss0 anon0 rss1 anon1 fd0 fd1 mem0 mem1 t0 up last_up last_change now limit_ms
  local wall cpu0 cpu1 load_rss TUNNELS=$TUNNELS what="a CSTP tunnel (TLS)" dtls_flag=()
  if [[ $kind == dtls ]]; then
    TUNNELS=$DTLS_TUNNELS what="a CSTP tunnel (TLS) and a DTLS association" dtls_flag=(--dtls)
  fi
  tunnels_up() { status_field "$([[ $kind == dtls ]] && echo tunnels_dtls || echo tunnels_ssl)"; }
  fresh_tandemd "$kind"
  sleep 2
  rss0=$(status_kb "$TD_TANDEMD_PID" VmRSS) anon0=$(status_kb "$TD_TANDEMD_PID" RssAnon)
  fd0=$(fd_count "$TD_TANDEMD_PID") mem0=$(tcp_mem_pages) cpu0=$(cpu_ticks "$TD_TANDEMD_PID")
  step "$kind: $TUNNELS logins + CONNECTs, held (tandemd RSS $rss0 kB, $fd0 descriptors)"
  t0=$(td_now_ms)
  run_load "$kind" --user bob --password-file "$TD_DIR/password-b" --sessions "$TUNNELS" \
    --concurrency "$CONCURRENCY" --connect "${dtls_flag[@]}" --hold forever
  # Until every tunnel is up, or no progress for 60 s, or tandem-load gave up.
  last_up=0 last_change=$(td_now_ms) limit_ms=$((t0 + (TUNNELS / 10 + 600) * 1000))
  while true; do
    now=$(td_now_ms)
    up=$(tunnels_up)
    [[ $up =~ ^[0-9]+$ ]] || up=$last_up
    if ((up != last_up)); then last_up=$up last_change=$now; fi
    ((up >= TUNNELS)) && break
    td_alive "$TD_TANDEMD_PID" || fail "tandemd exited with $up tunnels up (see $TD_TANDEMD_LOG)"
    td_alive "$LOAD_PID" || { note "$kind: tandem-load exited with $up tunnels up"; break; }
    if ((now - last_change > 60000 || now > limit_ms)); then
      note "$kind: stopped waiting at $up of $TUNNELS tunnels (no progress for 60 s or over the time limit)"
      break
    fi
    sleep 2
  done
  wall=$(secs_since "$t0")
  cpu1=$(cpu_ticks "$TD_TANDEMD_PID")
  sleep 5 # keepalives and the store settle
  up=$(tunnels_up)
  rss1=$(status_kb "$TD_TANDEMD_PID" VmRSS) anon1=$(status_kb "$TD_TANDEMD_PID" RssAnon)
  fd1=$(fd_count "$TD_TANDEMD_PID") mem1=$(tcp_mem_pages)
  load_rss=$(status_kb "$LOAD_PID" VmRSS 2>/dev/null || echo 0)
  step "$kind: $up up after $wall s; RSS $rss1 kB, anon $anon1 kB, $fd1 descriptors, TCP mem $mem0 -> $mem1 pages"
  ((up > 0)) || fail "no tunnel came up"
  row "memory per connected tunnel$([[ $kind == dtls ]] && echo " with DTLS"), KB" "$up sessions each with $what held open (goal <= 64)" \
    "$(kb_per "$rss0" "$rss1" "$up")" \
    "VmRSS $rss0 -> $rss1 kB; RssAnon $anon0 -> $anon1 kB = $(kb_per "$anon0" "$anon1" "$up") KB per tunnel; the session itself is in this figure${PARKED_KB:+ (parked: $PARKED_KB KB)}; headend ns TCP sockets in use $(tcp_inuse); machine-wide kernel TCP memory $mem0 -> $mem1 pages (/proc/net/sockstat, both ends, not in RSS)"
  row "tunnel set-up rate$([[ $kind == dtls ]] && echo " with DTLS"), tunnels/s" "$TUNNELS logins + CONNECTs$([[ $kind == dtls ]] && echo " + DTLS handshakes"), concurrency $CONCURRENCY" \
    "$(awk -v n="$up" -v w="$wall" 'BEGIN { printf "%.0f", n / w }')" \
    "$up up in $wall s; tandemd descriptors $fd0 -> $fd1; tandemd CPU $(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * t / hz / w }') % of one core; tandem-load RSS $load_rss kB ($(kb_per 0 "$load_rss" "$up") KB per tunnel on the client side)"
  # --source at work: the client addresses tandemd saw the tunnels come from.
  note "$kind: tandemd saw tunnels from $(grep -E ' tunnel_up ' "$TD_TANDEMD_LOG" | grep -oE 'public=[0-9.]+' | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), substr($2, 8), $1 }')"
  probe_login "$kind"
  row "fresh login + CONNECT with all tunnels up" "$up tunnels held$([[ $kind == dtls ]] && echo ", with DTLS")" "$PROBE" "probe: tandem-load --sessions 1 --connect from $TD_CLIENT_ADDR"
  step "$kind: releasing (SIGINT to tandem-load)"
  kill -INT "$LOAD_PID" 2>/dev/null || true
  wait_load 120
  [[ -s $TD_DIR/load-$kind.json ]] &&
    note "$kind: tandem-load: $(json "$kind" .tunnels_up) up, $(json "$kind" .tunnels_lost) lost while held, DTLS $(json "$kind" .dtls_up) up $(json "$kind" .dtls_failed) failed $(json "$kind" .dtls_lost) lost, logins $(json "$kind" .logins_per_second)/s, connect p50 $(json "$kind" .connect_p50_ms) ms p99 $(json "$kind" .connect_p99_ms) ms, errors $(json_c "$kind" .errors)"
  stop_tandemd
}

# ---------------------------------------------------------------------------------------------
# Limits

# refused_logins_row TAG FIGURE CONDITION EVENTS_RE EXPECTED: LIMIT_LOGINS logins of bob against
# the fresh tandemd (started by the caller), then a row with what the client saw, what tandemd
# logged (events matching EVENTS_RE, by level, name and reason) and a further login.
refused_logins_row() {
  local tag=$1 figure=$2 condition=$3 events=$4 expected=$5 ok failed reasons
  run_load "$tag" --user bob --password-file "$TD_DIR/password-b" --sessions "$LIMIT_LOGINS" \
    --concurrency 16
  wait_load 300
  ok=$(json "$tag" .logins_ok) failed=$(json "$tag" .logins_failed)
  reasons=$(grep -E " ($events) " "$TD_TANDEMD_LOG" | sed -E 's/^[^ ]+ ([a-z]+) ([a-z_]+) .*reason=("[^"]*"|[^ ]*).*/\1 \2 reason=\3/' |
    sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)/\2 x\1/' | paste -sd ';' -)
  probe_login "$tag"
  row "$figure" "$condition" "$ok ok, $failed refused" \
    "client saw: $(json_c "$tag" .errors); tandemd logged: ${reasons:-no refusal}; tandemd alive: $(td_alive "$TD_TANDEMD_PID" && echo yes || echo NO); a further login + CONNECT: $PROBE ($expected)"
  stop_tandemd
}

run_limits() {
  local ok failed reasons cpu0 cpu1 t0 wall failed_accepts lines
  # (a) The pool: fewer addresses than logins.
  fresh_tandemd limit-pool "" "$LIMIT_POOL"
  refused_logins_row limit-pool "pool exhausted" "$LIMIT_LOGINS logins, pool $LIMIT_POOL" \
    'login_refused|pool_[a-z_]*' "expected to be refused while the pool is full"

  # (a2) The session limit: [limits] max_sessions below the logins (docs/limits.md, "Sessions").
  # POLICY ends inside its [limits] table, so the key lands there.
  fresh_tandemd limit-sessions "max_sessions = $LIMIT_SESSIONS"
  refused_logins_row limit-sessions "session limit" \
    "$LIMIT_LOGINS logins, max_sessions $LIMIT_SESSIONS" login_refused \
    "expected to be refused at the limit"

  # (b) Descriptors: RLIMIT_NOFILE below the tunnels asked for.
  ulimit -Sn "$LIMIT_NOFILE"
  fresh_tandemd limit-nofile
  ulimit -Sn "$NOFILE"
  step "limits: $LIMIT_TUNNELS tunnels against tandemd with RLIMIT_NOFILE $LIMIT_NOFILE ($(fd_count "$TD_TANDEMD_PID") descriptors open at start)"
  cpu0=$(cpu_ticks "$TD_TANDEMD_PID")
  t0=$(td_now_ms)
  run_load limit-nofile --user bob --password-file "$TD_DIR/password-b" --sessions "$LIMIT_TUNNELS" \
    --concurrency 16 --connect --hold 10 --step-timeout 5
  wait_load 300
  wall=$(secs_since "$t0")
  cpu1=$(cpu_ticks "$TD_TANDEMD_PID")
  lines=$(wc -l <"$TD_TANDEMD_LOG")
  failed_accepts=$(grep -c ' accept_failed ' "$TD_TANDEMD_LOG" || true)
  reasons=$(grep -E '^[^ ]+ [a-z]+ [a-z_]+' "$TD_TANDEMD_LOG" | awk '$2 == "warn" || $2 == "error" { print $3 }' |
    sort | uniq -c | sort -rn | head -n 6 | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
  probe_login limit-nofile
  row "descriptors exhausted" "$LIMIT_TUNNELS tunnels, tandemd RLIMIT_NOFILE $LIMIT_NOFILE" \
    "$(json limit-nofile .tunnels_up) up ($(json limit-nofile .tunnels_lost) of them lost while held), $(json limit-nofile .sessions_failed) failed" \
    "client saw: $(json_c limit-nofile .errors); tandemd warnings/errors: ${reasons:-none} ($lines log lines, accept_failed x$failed_accepts; first refusal logged: $(grep -m1 -E ' (accept_failed|connection_refused) ' "$TD_TANDEMD_LOG" | sed -E 's/^[^ ]+ //')); tandemd CPU $(awk -v t=$((cpu1 - cpu0)) -v hz="$CLK_TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * t / hz / w }') % of one core over the $wall s; alive: $(td_alive "$TD_TANDEMD_PID" && echo yes || echo NO); login + CONNECT after the tunnels were released: $PROBE"
  if td_alive "$TD_TANDEMD_PID"; then stop_tandemd; fi
}

# ---------------------------------------------------------------------------------------------

# ---------------------------------------------------------------------------------------------
# Resume storm: STORM tunnels held on the active of a pair, dropped all at once by a planned
# failover (tandemctl failover), and resumed on the new active from their tokens.

run_storm() {
  local act stb t0 now up last_up limit_ms all_ms first_ms unauth resumed_json n
  for n in a b; do write_node_config "$n" "$POLICY"; done
  start_pair
  act=$(active_node)
  stb=$(other_node "$act")
  step "storm: $STORM tunnels held on node $act"
  run_load storm-hold --user bob --password-file "$TD_DIR/password-b" --sessions "$STORM" \
    --concurrency "$CONCURRENCY" --connect --hold forever --tokens-out "$TD_DIR/tokens"
  HOLD_PID=$LOAD_PID
  limit_ms=$(($(td_now_ms) + (STORM / 20 + 300) * 1000))
  while true; do
    up=$(node_field "$act" tunnels_ssl)
    [[ $up =~ ^[0-9]+$ ]] && ((up >= STORM)) && break
    td_alive "$HOLD_PID" || fail "tandem-load exited with ${up:-?} tunnels up (see $TD_DIR/load-storm-hold.log)"
    (($(td_now_ms) < limit_ms)) || fail "only ${up:-?} of $STORM tunnels came up in time"
    sleep 2
  done
  wait_for 120 "node $stb caught up" td_caught_up "$stb"
  step "storm: $up tunnels up on node $act, node $stb caught up; failover"
  t0=$(td_now_ms)
  nctl "$act" failover >"$TD_DIR/storm-failover.log" 2>&1 || true
  # The held tunnels were dropped (or are being): the holder lets go of whatever is left, and
  # every client comes back at once with its token.
  kill -INT "$HOLD_PID" 2>/dev/null || true
  # The client says when its last tunnel came up (--ready-out, wall-clock ms); the node confirms
  # the count once. Polling the node (tandemctl and jq five times a second) took a share of the
  # two CPUs the storm itself needs.
  local ready=$TD_DIR/storm-ready first_up last_ms count
  run_load storm-resume --resume-from "$TD_DIR/tokens" --retry-for 60 \
    --concurrency "$STORM_CONCURRENCY" --hold forever --ready-out "$ready"
  first_ms=- all_ms=- last_up=0
  limit_ms=$((t0 + 120000))
  while (($(td_now_ms) < limit_ms)) && [[ ! -s $ready ]] && td_alive "$LOAD_PID"; do
    sleep 0.2
  done
  if [[ -s $ready ]]; then
    read -r first_up last_ms count <"$ready"
    first_ms=$((first_up - t0))
    # The node counts the tunnel when the client already has its answer: a moment later.
    holding_all() {
      local up
      up=$(node_field "$stb" tunnels_ssl)
      [[ $up =~ ^[0-9]+$ ]] && ((up >= STORM))
    }
    if poll_until 10 holding_all; then all_ms=$((last_ms - t0)); fi
  fi
  last_up=$(node_field "$stb" tunnels_ssl)
  step "storm: $last_up of $STORM tunnels up on node $stb after $(secs_since "$t0") s"
  kill -INT "$LOAD_PID" 2>/dev/null || true
  wait_load 120
  resumed_json=$TD_DIR/load-storm-resume.json
  unauth=$(grep -c 'connect_refused.*status=401' "$(node_log "$stb")" || true)
  row "resume storm: all tunnels resumed after a failover, s" \
    "$STORM tunnels held, planned failover (tandemctl failover), resumes $STORM_CONCURRENCY at a time (goal <= 10 s)" \
    "$([[ $all_ms == - ]] && echo "NOT ALL ($last_up of $STORM in 120 s)" || awk -v ms="$all_ms" 'BEGIN { printf "%.1f", ms / 1000 }')" \
    "from the trigger to the last tunnel's 200 at the client (the node then confirmed it held all); first at +${first_ms} ms; tandem-load: connects $(jq -c .connects "$resumed_json"), $(jq -r .connect_attempts "$resumed_json") attempts, $(jq -r .connect_retries "$resumed_json") retries, connect p50 $(jq -r .connect_p50_ms "$resumed_json") ms p99 $(jq -r .connect_p99_ms "$resumed_json") ms; errors $(jq -c .errors "$resumed_json")"
  row "resume storm: 401s" "the same" "$(jq -r '.connects["401"]' "$resumed_json") (client), $unauth (new active's log)" \
    "401 = the new active did not know the session: a session lost"
  note "storm: holder $(jq -r .tunnels_up "$TD_DIR/load-storm-hold.json" 2>/dev/null) up, $(jq -r .tunnels_lost "$TD_DIR/load-storm-hold.json" 2>/dev/null) lost (dropped by the failover) of $(grep -c . "$TD_DIR/tokens") tokens; failover: $(tr '\n' ' ' <"$TD_DIR/storm-failover.log")"
  stop_node_quiet a
  stop_node_quiet b
}
stop_node_quiet() { td_alive "${TD_NODE_PID[$1]:-0}" && kill -TERM "${TD_NODE_PID[$1]}" 2>/dev/null || true; }

if part storm; then run_storm; fi
if part parked; then run_parked; fi
if part tunnels; then run_tunnels tunnels; fi
if part dtls; then run_tunnels dtls; fi
if part limits; then run_limits; fi
print_table
