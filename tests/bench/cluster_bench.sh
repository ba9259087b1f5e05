#!/usr/bin/env bash
# Cluster benchmark (issue 10 item 7). Not a test: it is not registered with CTest, asserts
# nothing about speed, fails only when it cannot measure, and prints one table (also written as
# Markdown to --out). See tests/bench/CLUSTER.md for what each figure means. Needs root.
#
#   redirect  redirects per second from one tandem-director: `tandem-load --redirect-only` (TLS
#             handshake, the init POST, the 302 read and its Location parsed; no login), from 1
#             and from 3 client addresses at concurrency 8 each (the director admits 8 TLS
#             handshakes per source address). The director's log must count every redirect.
#   connect   extra connect time through the director: the real openconnect, from its start to
#             the first ping answered through the tunnel, pointed at the director and straight at
#             a member, the order alternating per round; medians and the paired difference.
#   spread    `tandem-load --follow-redirect`, --logins logins through the director over the two
#             members; the sessions each member's active counts (`tandemctl status --json`),
#             max/min; --spread-rounds rounds, everyone logged off in between.
#   gap       failover gap, heartbeats only next to the arbiter (etcd, lease_ttl 2 s), process
#             crash and machine crash: tests/bench/failover_bench.sh --only gap --arbiter both
#             run as a child with the same binaries; its rows are copied into this table.
#
# Topology: the e2e cluster harness (tests/e2e/lib_members.sh): two members of two nodes each
# (m1 = a, b on 10.200.0.1; m2 = c, d on 10.200.0.21), etcd and director 1 in the etcd
# namespace (10.200.0.30:5443), three client namespaces (10.200.0.2-.4), the inside host. Every
# address lives only inside the namespaces this script creates.
#
# Hygiene: every wait and loop is bounded; --deadline bounds the whole run (watchdog); on
# EXIT/INT/TERM the harness's trap stops, by PID, every process this script started (and only
# while it is still our child), kills what is left inside our own namespaces and deletes them.

set -euo pipefail

PARTS="redirect,connect,spread,gap"
REDIRECTS=5000          # per tandem-load process and sample
REDIRECT_SAMPLES=3
REDIRECT_CONCURRENCY=8  # per source address: the director's handshake cap per address
CONNECT_ROUNDS=10        # each round: one connect through the director, one straight
LOGINS=1000
SPREAD_ROUNDS=3
SPREAD_CONCURRENCY=8
CAPACITY=10000 # room for every round's sessions (none are logged off)
GAP_RUNS=3
GAP_KINDS=crash,machine
GAP_MODES=dtls
GAP_HOLDS=default,tuned
OUT=/tmp/tandem-cluster-bench.md
DEADLINE=1800
KEEP=0

usage() {
  cat <<EOF
Usage: $0 [options]          (as root)
  --only LIST             comma-separated subset of redirect,connect,spread,gap (default all)
  --redirects N           redirects per tandem-load process per sample, 100..100000 (default $REDIRECTS)
  --redirect-samples N    samples per redirect setting, 1..20 (default $REDIRECT_SAMPLES)
  --connect-rounds N      rounds of (director, straight) connects, 1..50 (default $CONNECT_ROUNDS)
  --logins N              logins per spread round, 10..100000 (default $LOGINS)
  --spread-rounds N       spread rounds, 1..20 (default $SPREAD_ROUNDS)
  --spread-concurrency C  tandem-load concurrency for the spread, 1..8 (default $SPREAD_CONCURRENCY;
                          the director admits 8 handshakes per source address)
  --capacity N            each member's [member] capacity, 10..1000000 (default $CAPACITY)
  --gap-runs N            failover_bench.sh --runs (default $GAP_RUNS)
  --gap-kinds LIST        failover_bench.sh --kinds (default $GAP_KINDS)
  --gap-modes LIST        failover_bench.sh --modes (default $GAP_MODES)
  --gap-holds LIST        failover_bench.sh --holds (default $GAP_HOLDS)
  --out FILE              Markdown copy of the table and notes (default $OUT)
  --deadline S            bound for the whole run, 120..7200 s (default $DEADLINE)
  --keep                  keep the work directory (logs, configs, reports) even on success
Environment: TANDEM_BUILD_DIR (default <repo>/build).
EOF
}

BENCH_NAME=cluster_bench
# shellcheck source=lib_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_bench.sh"

while (($#)); do
  case $1 in
    --only)
      PARTS=${2:?--only needs a value}
      [[ $PARTS =~ ^(redirect|connect|spread|gap)(,(redirect|connect|spread|gap))*$ ]] ||
        die "--only takes redirect,connect,spread,gap"
      shift 2 ;;
    --redirects) REDIRECTS=$(int_arg --redirects "${2:-}" 100 100000); shift 2 ;;
    --redirect-samples) REDIRECT_SAMPLES=$(int_arg --redirect-samples "${2:-}" 1 20); shift 2 ;;
    --connect-rounds) CONNECT_ROUNDS=$(int_arg --connect-rounds "${2:-}" 1 50); shift 2 ;;
    --logins) LOGINS=$(int_arg --logins "${2:-}" 10 100000); shift 2 ;;
    --spread-rounds) SPREAD_ROUNDS=$(int_arg --spread-rounds "${2:-}" 1 20); shift 2 ;;
    --spread-concurrency) SPREAD_CONCURRENCY=$(int_arg --spread-concurrency "${2:-}" 1 8); shift 2 ;;
    --capacity) CAPACITY=$(int_arg --capacity "${2:-}" 10 1000000); shift 2 ;;
    --gap-runs) GAP_RUNS=$(int_arg --gap-runs "${2:-}" 1 20); shift 2 ;;
    --gap-kinds) GAP_KINDS=${2:?}; shift 2 ;;  # failover_bench.sh checks these three
    --gap-modes) GAP_MODES=${2:?}; shift 2 ;;
    --gap-holds) GAP_HOLDS=${2:?}; shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --deadline) DEADLINE=$(int_arg --deadline "${2:-}" 120 7200); shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
  esac
done
part() { [[ ,$PARTS, == *,$1,* ]]; }
T_START=$(date +%s)

# The e2e harness: namespaces, PID tracking, the cleanup trap and the watchdog (TD_DEADLINE).
export TD_DEADLINE=$DEADLINE
export TD_KEEP=$KEEP
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../e2e/lib.sh
source "$HERE/../e2e/lib.sh"
# shellcheck source=../e2e/lib_pair.sh
source "$HERE/../e2e/lib_pair.sh"
# shellcheck source=../e2e/lib_cluster.sh
source "$HERE/../e2e/lib_cluster.sh"
# shellcheck source=../e2e/lib_members.sh
source "$HERE/../e2e/lib_members.sh"

# --logins sessions land on two members: /16 pools instead of the e2e tests' /24s.
TD_POOL=10.64.0.0/16
TD_M2_POOL=10.65.0.0/16
TD_NODE_POOL[c]=$TD_M2_POOL
TD_NODE_POOL[d]=$TD_M2_POOL

step() { bench_step "$@"; }

# ---------------------------------------------------------------------------------------------
# Results, and printing them (also what was measured so far when the run is cut short)

ROWS=() # "figure|condition|median|max|detail"
NOTES=()
PRINTED=0
START_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
COMMIT=$(git -C "$TANDEM_SOURCE_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $COMMIT != unknown ]] && ! git -C "$TANDEM_SOURCE_DIR" diff --quiet HEAD 2>/dev/null; then
  COMMIT+=-dirty
fi

row() { ROWS+=("$1|$2|$3|$4|$5"); }
note() { NOTES+=("$*"); step "note: $*"; }

print_table() {
  local r f c m x d
  {
    printf '## Tandem cluster benchmark (%s)\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf 'Commit %s (binaries built %s). Host: %s CPUs, load average %s at start, %s at the end.\n\n' \
      "$COMMIT" "$BUILT" "$(nproc)" "$START_LOAD" "$(cut -d' ' -f1-3 /proc/loadavg)"
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
  # Not at the end: never report success (an expansion error can leave $? at 0 here).
  ((PRINTED || rc)) || rc=1
  if ((PRINTED == 0 && ${#ROWS[@]} > 0)); then
    NOTES+=("THE RUN WAS CUT SHORT (exit $rc): the table holds what was measured before that")
    print_table
  fi
  (exit "$rc")
  td_cleanup >&2
}
trap bench_exit EXIT

# median and max of a list of numbers ("- -" for an empty list); even counts: the mean of the two
# middle values.
median_max() {
  (($#)) || { echo "- -"; return; }
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%s %s\n", f(m), f(v[NR]) }
    function f(x) { return (x == int(x)) ? sprintf("%d", x) : sprintf("%.2f", x) }'
}

# bg_wait CMD...: run CMD in the background (tracked) and wait for it, so that the watchdog's
# SIGTERM runs the cleanup trap at once. Exit status in BG_RC.
bg_wait() {
  local pid
  "$@" &
  pid=$!
  td_track "$pid"
  BG_RC=0
  wait "$pid" || BG_RC=$?
}

# CPU seconds (utime + stime) a process has used so far.
CLK_TCK=$(getconf CLK_TCK)
cpu_s() { awk -v t="$CLK_TCK" '{ printf "%.2f\n", ($14 + $15) / t }' "/proc/$1/stat"; }

# ---------------------------------------------------------------------------------------------
# Set-up

for tool in openconnect jq openssl perl ping etcd etcdctl git; do
  command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
for b in "$TD_TANDEMD" "$TD_TANDEMCTL" "$LOAD" "$TD_DIRECTOR"; do
  [[ -x $b ]] || fail "not built: $b (cmake --build $TANDEM_BUILD_DIR)"
done
BUILT=$(date -u -r "$LOAD" +%Y-%m-%dT%H:%MZ)
# Private copies in a build-tree layout: a rebuild during the run does not change what is
# measured, and the failover_bench.sh child gets the very same binaries (TANDEM_BUILD_DIR).
BIN=$TD_DIR/build
mkdir -p "$BIN/node" "$BIN/director" "$BIN/tests/tools"
cp "$TD_TANDEMD" "$TD_TANDEMCTL" "$BIN/node/"
cp "$TD_DIRECTOR" "$BIN/director/"
cp "$LOAD" "$BIN/tests/tools/"
TD_TANDEMD=$BIN/node/tandemd
TD_TANDEMCTL=$BIN/node/tandemctl
TD_DIRECTOR=$BIN/director/tandem-director
LOAD=$BIN/tests/tools/tandem-load

CLIENT_NS=("$TD_NS_CLIENT" "$TD_NS_CLIENT2" "$TD_NS_CLIENT3")
DIRECTOR_EP=$TD_ETCD_IP:${TD_DIRECTOR_PORT[1]}

cluster_up() {
  setup_members_topology
  start_etcd
  make_pair_pki
  local ns
  # tandem-load opens one TCP connection per request: room for many in each client ns.
  for ns in "${CLIENT_NS[@]}"; do
    ip netns exec "$ns" sysctl -qw net.ipv4.ip_local_port_range="1024 65000" net.ipv4.tcp_tw_reuse=1
  done
  # bob: sha512crypt with 1000 rounds, the cheapest hash tandemd accepts, so that password
  # hashing (yescrypt: ~15 ms idle, far more on a loaded host) does not drown what the director
  # adds, and the spread's logins are not all hashing. A users file needs one user from
  # tandemctl passwd too (alice), which is how lib.sh makes it.
  add_user alice secret-a
  local salt hash
  salt=$(head -c 64 /dev/urandom | tr -dc 'A-Za-z0-9./' | head -c 16)
  hash=$(perl -e 'print crypt($ARGV[0], $ARGV[1])' secret-b "\$6\$rounds=1000\$$salt\$")
  [[ $hash == '$6$rounds=1000$'* ]] || fail "perl crypt() did not give a sha512crypt hash"
  printf 'bob:%s\n' "$hash" >>"$TD_USERS"
  # One user per spread round (same hash): the rounds' sessions stay (see run_spread).
  local r
  for ((r = 1; r <= SPREAD_ROUNDS; r++)); do printf 'spread%d:%s\n' "$r" "$hash" >>"$TD_USERS"; done
  printf 'secret-b\n' >"$TD_DIR/password-b"
  # tandem-load logs in many times as one user from one address: no per-user or per-address caps.
  local policy=$'[policy.default]\nsimultaneous_logins = 0'
  policy+=$'\n[limits]\nconnections_per_address = 0\ntls_handshakes_per_address = 0'
  policy+=$'\nlogins_in_flight_per_address = 0'
  start_members "$CAPACITY" "$policy"
  start_director 1
}

member_sessions() { node_field "$(member_active "$1")" sessions; }

# ---------------------------------------------------------------------------------------------
# a. Redirects per second

# One sample: K tandem-load --redirect-only processes at once, one per client namespace.
redirect_sample() { # K TAG
  local k=$1 tag=$2 j pids=() json total=0 failed=0 window=0 w logs0 logs1 cpu0 cpu1 rate
  local dpid=${TD_DIRECTOR_PID[1]} p50s=() load_cpu=0 c
  logs0=$(director_redirects 1)
  cpu0=$(cpu_s "$dpid")
  for ((j = 0; j < k; j++)); do
    # bash's `times` prints the CPU its children used: tandem-load's, the load generator's cost.
    timeout 300 bash -c '"$@"; rc=$?; times; exit $rc' load ip netns exec "${CLIENT_NS[$j]}" \
      "$LOAD" --server "$DIRECTOR_EP" --redirect-only \
      --sessions "$REDIRECTS" --concurrency "$REDIRECT_CONCURRENCY" --pin "$TD_PIN" --quiet \
      --report-json "$TD_DIR/redir-$tag-$j.json" >"$TD_DIR/redir-$tag-$j.log" 2>&1 &
    pids+=($!)
    td_track "$!"
  done
  for j in "${!pids[@]}"; do wait "${pids[$j]}" || true; done
  cpu1=$(cpu_s "$dpid")
  for ((j = 0; j < k; j++)); do
    json=$TD_DIR/redir-$tag-$j.json
    [[ -s $json ]] || fail "tandem-load wrote no report (see $TD_DIR/redir-$tag-$j.log)"
    total=$((total + $(jq -r .redirects "$json")))
    failed=$((failed + $(jq -r .sessions_failed "$json")))
    w=$(jq -r .redirect_window_s "$json")
    window=$(awk -v a="$window" -v b="$w" 'BEGIN { print (b > a) ? b : a }')
    p50s+=("$(jq -r .redirect_p50_ms "$json")")
    # The last line of `times`: children's user and system time, "0m1.230s 0m0.450s".
    c=$(tail -n1 "$TD_DIR/redir-$tag-$j.log" | awk '$1 ~ /^[0-9]+m[0-9.]+s$/ && $2 ~ /^[0-9]+m[0-9.]+s$/ {
      split($1, u, "m"); split($2, y, "m"); printf "%.3f", u[1] * 60 + u[2] + y[1] * 60 + y[2] }')
    if [[ -n $c ]]; then load_cpu=$(awk -v a="$load_cpu" -v b="$c" 'BEGIN { print a + b }'); else load_cpu=-; fi
    ((failed == 0)) || note "redirect sample $tag, process $j: errors $(jq -c .errors "$json")"
  done
  ((total > 0)) || fail "no redirect in sample $tag (see $TD_DIR/redir-$tag-*.log)"
  # The director logs every redirect: its count must match what the clients counted.
  poll_until 5 bash -c "(( \$(grep -c ' redirect ' '$TD_DIR/director-1.log') >= $logs0 + $total ))" || true
  logs1=$(director_redirects 1)
  ((logs1 - logs0 == total)) ||
    note "redirect sample $tag: tandem-load counted $total redirects, the director logged $((logs1 - logs0))"
  rate=$(awk -v n="$total" -v w="$window" 'BEGIN { printf "%.1f", (w > 0) ? n / w : 0 }')
  RS_RATE=$rate
  RS_CPU=$(awk -v a="$cpu0" -v b="$cpu1" -v w="$window" 'BEGIN { printf "%.0f", (w > 0) ? (b - a) / w * 100 : 0 }')
  # The director's CPU per redirect: what one redirect costs it, whoever limited the rate.
  RS_LOAD_CPU=-
  [[ $load_cpu == - ]] || RS_LOAD_CPU=$(awk -v c="$load_cpu" -v w="$window" 'BEGIN { printf "%.0f", (w > 0) ? c / w * 100 : 0 }')
  RS_CPU_MS=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$total" 'BEGIN { printf "%.2f", (b - a) * 1000 / n }')
  RS_FAILED=$failed
  RS_P50=$(median_max "${p50s[@]}" | cut -d' ' -f1)
  RS_LANDED=$(for ((j = 0; j < k; j++)); do jq -r '.landed | to_entries[] | "\(.key) \(.value)"' "$TD_DIR/redir-$tag-$j.json"; done |
    awk '{ n[$1] += $2 } END { for (m in n) printf "%s %d; ", m, n[m] }' | sed 's/; $//')
  step "redirect sample $tag: $total redirects in ${window}s = $rate/s, $failed failed, director CPU $RS_CPU % ($RS_CPU_MS ms per redirect), tandem-load CPU $RS_LOAD_CPU %, p50 ${RS_P50} ms; $RS_LANDED"
}

run_redirect() {
  local k s rates cpus cpu_ms lcpus p50s fails details med mx
  for k in 1 3; do
    rates=() cpus=() cpu_ms=() lcpus=() p50s=() details=() fails=0
    for ((s = 1; s <= REDIRECT_SAMPLES; s++)); do
      redirect_sample "$k" "k$k-s$s"
      rates+=("$RS_RATE") cpus+=("$RS_CPU") cpu_ms+=("$RS_CPU_MS") lcpus+=("$RS_LOAD_CPU") p50s+=("$RS_P50")
      fails=$((fails + RS_FAILED))
      details+=("$RS_RATE")
    done
    read -r med mx <<<"$(median_max "${rates[@]}")"
    row "redirects/s from one director" \
      "tandem-load --redirect-only, $k client address(es) x concurrency $REDIRECT_CONCURRENCY, $REDIRECTS requests each" \
      "$med" "$mx" \
      "samples: ${details[*]}; director CPU (% of one core) median $(median_max "${cpus[@]}" | cut -d' ' -f1), per redirect median $(median_max "${cpu_ms[@]}" | cut -d' ' -f1) ms (samples ${cpu_ms[*]}); tandem-load CPU (% of one core, all processes) ${lcpus[*]}; request p50 ms median $(median_max "${p50s[@]}" | cut -d' ' -f1); failed $fails; last sample's Locations: $RS_LANDED"
  done
}

# ---------------------------------------------------------------------------------------------
# b. Connect time: through the director versus straight to a member

# Probe inside a client ns: ping the inside host until the first echo is answered; prints the
# wall-clock time in microseconds. Before the tunnel is up there is no route (ping fails at
# once); 4000 tries bound it (~30 s). As bench.sh.
PROBE='for ((i = 0; i < 4000; i++)); do
  if ping -n -q -c 1 -W 0.2 '"$TD_INSIDE_IP"' >/dev/null 2>&1; then echo "${EPOCHREALTIME/./}"; exit 0; fi
  sleep 0.005
done; exit 1'

# The client runs and says its tunnel is configured (without lib.sh's td_client_up, which fails
# the whole run when the client has exited: here that is one failed sample).
ct_up() { td_alive "$(client_pid "$1")" && grep -q 'Configured as ' "$(client_log "$1")"; }

# connect_once ID URL: openconnect (bob, DTLS) from the client ns to URL; CT_MS the time to the
# first answered ping ("" on failure), CT_MEMBER the address it ended its HTTPS connection on.
connect_once() {
  local id=$1 url=$2 t0 t1 redir0
  redir0=$(director_redirects 1)
  t0=${EPOCHREALTIME/./}
  TD_URL=$url start_client "$id" bob secret-b
  t1=$(timeout 40 ip netns exec "$TD_NS_CLIENT" bash -c "$PROBE" 2>/dev/null) || t1=
  CT_MS=
  CT_MEMBER=$(sed -n 's/.*Connected to HTTPS on \([0-9.]*\).*/\1/p' "$(client_log "$id")" | tail -n1)
  if [[ -n $t1 ]] && poll_until 5 ct_up "$id"; then
    CT_MS=$(((t1 - t0) / 1000))
  else
    note "connect $id to $url failed (client log $(client_log "$id"))"
  fi
  # Through the director exactly one redirect, straight none.
  CT_REDIRECTS=$(($(director_redirects 1) - redir0))
  if td_alive "$(client_pid "$id")"; then stop_client "$id" >&2; fi
}

run_connect() {
  local r via=() direct=() diffs=() d_ms s_ms member order landed=() first
  for ((r = 1; r <= CONNECT_ROUNDS; r++)); do
    # Straight: m1 in odd rounds, m2 in even ones (the director picks either).
    if ((r % 2)); then member=$TD_SERVER_IP; else member=$TD_M2_SVC; fi
    if ((r % 2)); then order="director straight"; else order="straight director"; fi
    d_ms='' s_ms=''
    for first in $order; do
      if [[ $first == director ]]; then
        connect_once "cd$r" "$(director_url 1)"
        ((CT_REDIRECTS == 1)) || note "round $r via the director: $CT_REDIRECTS redirects logged (want 1)"
        [[ $CT_MEMBER == "$TD_SERVER_IP" || $CT_MEMBER == "$TD_M2_SVC" ]] ||
          note "round $r via the director: ended on '$CT_MEMBER', not a member"
        d_ms=$CT_MS
        landed+=("$CT_MEMBER")
      else
        connect_once "cs$r" "https://$member:$TD_PORT/"
        ((CT_REDIRECTS == 0)) || note "round $r straight: the director logged $CT_REDIRECTS redirects"
        s_ms=$CT_MS
      fi
    done
    [[ -n $d_ms ]] && via+=("$d_ms")
    [[ -n $s_ms ]] && direct+=("$s_ms")
    [[ -n $d_ms && -n $s_ms ]] && diffs+=("$((d_ms - s_ms))")
    step "connect round $r ($order): director ${d_ms:-failed} ms (landed on ${landed[-1]:-?}), straight to $member ${s_ms:-failed} ms"
  done
  ((${#via[@]} && ${#direct[@]})) || fail "no connect time measured"
  local vm vx sm sx dm dx
  read -r vm vx <<<"$(median_max "${via[@]}")"
  read -r sm sx <<<"$(median_max "${direct[@]}")"
  read -r dm dx <<<"$(median_max "${diffs[@]}")"
  row "connect: openconnect start -> first ping through the tunnel, ms" "through director 1 (302 to a member)" \
    "$vm" "$vx" "samples: ${via[*]}; landed on: $(printf '%s\n' "${landed[@]}" | sort | uniq -c | awk '{ printf "%s x%d; ", $2, $1 }' | sed 's/; $//')"
  row "connect: openconnect start -> first ping through the tunnel, ms" "straight to a member (m1 odd rounds, m2 even)" \
    "$sm" "$sx" "samples: ${direct[*]}"
  row "connect: extra time through the director, ms" "per round: director minus straight (order alternating)" \
    "$dm" "$dx" "differences: ${diffs[*]}; difference of the medians $(awk -v a="$vm" -v b="$sm" 'BEGIN { print a - b }')"
  login_latency
}

# The same comparison without openconnect's start-up and the tunnel set-up around it: tandem-load
# logs in one session at a time (--concurrency 1, --sessions LAT_LOGINS) through the director
# (--follow-redirect) and straight to a member, alternating per round; the figure is each run's
# median login latency (first TCP connect .. token received).
LAT_LOGINS=20
login_latency() {
  local r member first how json via=() direct=() diffs=() d s
  for ((r = 1; r <= CONNECT_ROUNDS; r++)); do
    if ((r % 2)); then member=$TD_SERVER_IP; else member=$TD_M2_SVC; fi
    if ((r % 2)); then first="director straight"; else first="straight director"; fi
    d='' s=''
    for how in $first; do
      json=$TD_DIR/lat-$how-$r.json
      if [[ $how == director ]]; then
        bg_wait timeout 120 ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$DIRECTOR_EP" \
          --follow-redirect --user bob --password-file "$TD_DIR/password-b" --sessions "$LAT_LOGINS" \
          --concurrency 1 --pin "$TD_PIN" --quiet --report-json "$json" >"$json.log" 2>&1
      else
        bg_wait timeout 120 ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$member:$TD_PORT" \
          --user bob --password-file "$TD_DIR/password-b" --sessions "$LAT_LOGINS" \
          --concurrency 1 --pin "$TD_PIN" --quiet --report-json "$json" >"$json.log" 2>&1
      fi
      [[ -s $json ]] || fail "tandem-load wrote no report (see $json.log)"
      [[ $(jq -r .sessions_failed "$json") == 0 ]] ||
        note "login latency round $r $how: failures $(jq -c .errors "$json")"
      if [[ $how == director ]]; then d=$(jq -r .login_p50_ms "$json"); else s=$(jq -r .login_p50_ms "$json"); fi
    done
    via+=("$d") direct+=("$s")
    diffs+=("$(awk -v a="$d" -v b="$s" 'BEGIN { printf "%.2f", a - b }')")
    step "login latency round $r: director $d ms, straight to $member $s ms"
    nctl "$(member_active m1)" logoff --user bob >>"$TD_DIR/logoff.log" 2>&1 || fail "logoff on m1 failed"
    nctl "$(member_active m2)" logoff --user bob >>"$TD_DIR/logoff.log" 2>&1 || fail "logoff on m2 failed"
  done
  row "login latency (tandem-load, one at a time), median ms" "through director 1 (--follow-redirect)" \
    "$(median_max "${via[@]}" | cut -d' ' -f1)" "$(median_max "${via[@]}" | cut -d' ' -f2)" \
    "per-run medians of $LAT_LOGINS logins: ${via[*]}"
  row "login latency (tandem-load, one at a time), median ms" "straight to a member (m1 odd rounds, m2 even)" \
    "$(median_max "${direct[@]}" | cut -d' ' -f1)" "$(median_max "${direct[@]}" | cut -d' ' -f2)" \
    "per-run medians of $LAT_LOGINS logins: ${direct[*]}"
  row "login latency: extra through the director, ms" "per round: director minus straight (order alternating)" \
    "$(median_max "${diffs[@]}" | cut -d' ' -f1)" "$(median_max "${diffs[@]}" | cut -d' ' -f2)" \
    "differences: ${diffs[*]}"
}

# ---------------------------------------------------------------------------------------------
# c. Spread of logins over the members

# No logoff between rounds: `tandemctl logoff` of ~500 sessions at once blocked a member's active
# for ~1.5 s on this host, long enough for its arbiter lease to lapse (a step-down and a failover
# in each member; the logoffs, already acknowledged, were undone by the new active's snapshot:
# see CLUSTER.md). Each round logs in its own user instead, and counts what each member gained.
run_spread() {
  local r json m1 m2 b1 b2 ratio ratios=() details=() mx mn l1 l2 bad
  for ((r = 1; r <= SPREAD_ROUNDS; r++)); do
    json=$TD_DIR/spread-$r.json
    b1=$(member_sessions m1)
    b2=$(member_sessions m2)
    step "spread round $r: $LOGINS logins of spread$r through director 1 (concurrency $SPREAD_CONCURRENCY); members hold $b1 / $b2"
    bg_wait timeout $((LOGINS / 5 + 120)) ip netns exec "$TD_NS_CLIENT" "$LOAD" \
      --server "$DIRECTOR_EP" --follow-redirect --user "spread$r" --password-file "$TD_DIR/password-b" \
      --sessions "$LOGINS" --concurrency "$SPREAD_CONCURRENCY" --pin "$TD_PIN" --quiet \
      --landed-out "$TD_DIR/spread-$r.landed" --report-json "$json" >"$TD_DIR/spread-$r.log" 2>&1
    [[ -s $json ]] || fail "tandem-load wrote no report (see $TD_DIR/spread-$r.log)"
    bad=$(jq -r .sessions_failed "$json")
    ((bad == 0)) || note "spread round $r: $bad of $LOGINS logins failed: $(jq -c .errors "$json")"
    # This round's sessions on each member's active (its user only).
    m1=$(nctl "$(member_active m1)" show sessions --user "spread$r" --json | jq '.sessions | length')
    m2=$(nctl "$(member_active m2)" show sessions --user "spread$r" --json | jq '.sessions | length')
    [[ $m1 =~ ^[0-9]+$ && $m2 =~ ^[0-9]+$ ]] || fail "could not read the members' session counts"
    (((m1 + m2) == $(jq -r .sessions_ok "$json"))) ||
      note "spread round $r: members hold $m1 + $m2 sessions of spread$r, tandem-load logged in $(jq -r .sessions_ok "$json")"
    [[ $(($(member_sessions m1) - b1)) == "$m1" && $(($(member_sessions m2) - b2)) == "$m2" ]] ||
      note "spread round $r: the members' status counts moved by other than spread$r's sessions"
    l1=$(jq -r --arg k "$TD_SERVER_IP:$TD_PORT" '.landed[$k] // 0' "$json")
    l2=$(jq -r --arg k "$TD_M2_SVC:$TD_PORT" '.landed[$k] // 0' "$json")
    [[ $l1 == "$m1" && $l2 == "$m2" ]] ||
      note "spread round $r: tandem-load landed $l1 / $l2, the members count $m1 / $m2"
    if ((m1 > m2)); then mx=$m1 mn=$m2; else mx=$m2 mn=$m1; fi
    if ((mn > 0)); then
      ratio=$(awk -v a="$mx" -v b="$mn" 'BEGIN { printf "%.3f", a / b }')
      ratios+=("$ratio")
    else
      ratio=inf
      note "spread round $r: one member got no session ($m1 / $m2)"
    fi
    details+=("m1 $m1 / m2 $m2 ($(jq -r .logins_per_second "$json") logins/s)")
    step "spread round $r: m1 $m1, m2 $m2, max/min $ratio"
  done
  ((${#ratios[@]})) || fail "no spread measured"
  local med rmax
  read -r med rmax <<<"$(median_max "${ratios[@]}")"
  row "spread: max/min sessions across the 2 members" \
    "$LOGINS logins, tandem-load --follow-redirect via director 1, concurrency $SPREAD_CONCURRENCY, capacity $CAPACITY each" \
    "$med" "$rmax" "rounds (each a new user; earlier rounds' sessions stay): $(printf '%s; ' "${details[@]}" | sed 's/; $//'); counts from each member's active (tandemctl show sessions --user), checked against its status --json delta and tandem-load's --landed-out"
}

# ---------------------------------------------------------------------------------------------
# d. Failover gap, heartbeats only and with the arbiter: failover_bench.sh as a child

run_gap() {
  local left out=$TD_DIR/gap.md log=$TD_DIR/gap.log r
  left=$((DEADLINE - ($(date +%s) - T_START) - 30))
  ((left >= 120)) || fail "no time left for the gap part ($left s)"
  step "gap: failover_bench.sh --only gap --arbiter both --kinds $GAP_KINDS --modes $GAP_MODES --holds $GAP_HOLDS --runs $GAP_RUNS (deadline ${left}s; log $log)"
  local keep=()
  ((KEEP)) && keep=(--keep)
  bg_wait env TANDEM_BUILD_DIR="$BIN" bash "$HERE/failover_bench.sh" "${keep[@]}" --only gap --arbiter both \
    --ttl 2s --kinds "$GAP_KINDS" --modes "$GAP_MODES" --holds "$GAP_HOLDS" --runs "$GAP_RUNS" \
    --deadline "$((left > 7200 ? 7200 : left))" --out "$out" >"$log" 2>&1
  [[ -s $out ]] || fail "failover_bench.sh wrote no table (exit $BG_RC; see $log)"
  ((BG_RC == 0)) || note "failover_bench.sh exited $BG_RC: its table may be partial (see $log)"
  local f c m x d
  trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
  while IFS= read -r r; do
    IFS='|' read -r _ f c m x d _ <<<"$r"
    row "$(trim "$f")" "$(trim "$c")" "$(trim "$m")" "$(trim "$x")" "$(trim "$d")"
  done < <(grep '^| failover gap' "$out")
  note "gap rows: tests/bench/failover_bench.sh (FAILOVER.md) run as a child with these binaries; gap = longest silence between replies of a 50 ms ping through the tunnel; with the arbiter the standby promotes only when it wins the member's key in etcd. Its notes follow (prefixed gap:)."
  while IFS= read -r r; do NOTES+=("gap: ${r#- }"); done < <(sed -n '/^Notes:/,$p' "$out" | grep '^- ')
}

# ---------------------------------------------------------------------------------------------

step "work dir $TD_DIR; parts: $PARTS; commit $COMMIT"
if part redirect || part connect || part spread; then
  cluster_up
  note "cluster: 2 members x 2 tandemd (arbiter: one etcd, lease_ttl $TD_TTL), capacity $CAPACITY each, director 1 at $DIRECTOR_EP; all in namespaces on one host"
  if part redirect; then run_redirect; fi
  if part connect; then run_connect; fi
  if part spread; then run_spread; fi
  step "stopping the cluster before the gap part"
  stop_director 1 >&2
  for n in a b c d; do
    pid=${TD_NODE_PID[$n]:-}
    if [[ -n $pid ]] && td_alive "$pid" && td_is_ours "$pid"; then kill -TERM "$pid"; fi
  done
  for n in a b c d; do
    pid=${TD_NODE_PID[$n]:-}
    [[ -n $pid ]] || continue
    poll_until 15 td_not_alive "$pid" || { td_is_ours "$pid" && kill -KILL "$pid"; }
    wait "$pid" 2>/dev/null || true
  done
  stop_etcd >&2
fi
if part gap; then run_gap; fi
print_table
