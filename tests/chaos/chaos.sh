#!/usr/bin/env bash
# Chaos suite (issue 9 item 6): sessions from tandem-load churn (login, resume, log off) while, at
# random moments, the pair is hit: the active killed -9 (and restarted), the active frozen longer
# than the hold time and woken, the node-to-node link cut and healed, the standby restarted.
# After every event, once the member has one active again:
#   - every session a client holds a token for resumes on the active (a 401 is a lost session);
#   - no address is assigned twice;
#   - no session's counters went backwards.
# Ends with a table: events, sessions, resumed, lost (must be 0), duplicate addresses (must be 0),
# counters gone back (must be 0), and the longest gap (event to the first resume answered again).
#
# Environment: CHAOS_DURATION (seconds of events, default 60; the README shows a long run),
# CHAOS_SESSIONS (initial sessions, default 500), CHAOS_SEED (random seed; printed, so a run can
# be repeated). Bounded: TD_DEADLINE is set from the duration. Everything runs inside namespaces
# the harness creates and removes.
CHAOS_DURATION=${CHAOS_DURATION:-60}
CHAOS_SESSIONS=${CHAOS_SESSIONS:-500}
CHAOS_SEED=${CHAOS_SEED:-$((RANDOM * 32768 + RANDOM))}
export TD_DEADLINE=$((CHAOS_DURATION + 420))
source "$(dirname "$0")/../e2e/lib.sh"
source "$(dirname "$0")/../e2e/lib_pair.sh"
RANDOM=$((CHAOS_SEED % 32768))
TD_POOL=10.77.0.0/21 # room for every session (lib.sh's default /24 holds 253)

LOAD=$TANDEM_BUILD_DIR/tests/tools/tandem-load
[[ -x $LOAD ]] || fail "tandem-load not built: $LOAD"
HELD=$TD_DIR/held-tokens # every token a client holds now: "<index>-<secret>" per line
: >"$HELD"

setup_pair_topology
make_pair_pki
add_user alice secret-a
printf 'secret-a\n' >"$TD_DIR/password"
policy=$'[policy.default]\nsimultaneous_logins = 0\ndisconnected_timeout = "30m"'
# Every load session comes from one client address: the per-address caps (docs/limits.md) are for
# the internet, not for this load client.
policy+=$'\n[limits]\nconnections_per_address = 0\ntls_handshakes_per_address = 0\nlogins_in_flight_per_address = 0'
write_node_config a "$policy"
write_node_config b "$policy"
start_pair
hold_s=2 # TD_HOLD of lib_pair

# ---- churn --------------------------------------------------------------------------------

load() { ip netns exec "$TD_NS_CLIENT" "$LOAD" --server "$TD_SERVER_IP:$TD_PORT" --pin "$TD_PIN" "$@"; }

login_batch() { # N: new sessions; their tokens join HELD
  rm -f "$TD_DIR/new-tokens"
  # Password hashing is slow on purpose: a generous step timeout, few logins at a time.
  load --user alice --password-file "$TD_DIR/password" --sessions "$1" --concurrency 8 \
    --hold 0 --tokens-out "$TD_DIR/new-tokens" --step-timeout 30 --quiet \
    >>"$TD_DIR/logins.log" 2>&1 || true
  [[ -f $TD_DIR/new-tokens ]] && cat "$TD_DIR/new-tokens" >>"$HELD"
  return 0
}

# resume_all: every held token CONNECTs once (retrying connection failures and 503 for 30 s).
# Sets RESUMED and LOST (401s).
resume_all() {
  local report=$TD_DIR/resume.json
  load --resume-from "$HELD" --retry-for 30 --concurrency 50 --step-timeout 5 --quiet \
    --report-json "$report" >"$TD_DIR/resume.log" 2>&1 || true
  RESUMED=$(jq -r '.connects["200"]' "$report")
  LOST=$(jq -r '.connects["401"]' "$report")
  OTHER=$(jq -r '.connects["503"] + .connects.other + .connects.connection_failed' "$report")
}

# logoff_some K: the operator logs off K random sessions; their tokens leave HELD.
logoff_some() {
  local act idx n=0
  act=$(active_node)
  # K random held sessions, from the run's seed (awk reads all its input: no broken pipe).
  for idx in $(cut -d- -f1 "$HELD" | awk -v seed="$RANDOM" 'BEGIN { srand(seed) } { print rand() "\t" $0 }' |
    sort | awk -v k="$1" -F'\t' 'NR <= k { print $2 }'); do
    nctl "$act" logoff --index "$idx" >/dev/null 2>&1 || true
    sed -i "/^$idx-/d" "$HELD"
    n=$((n + 1))
  done
  LOGGED_OFF=$((LOGGED_OFF + n))
}

# ---- events -------------------------------------------------------------------------------

td_single_active() {
  local n count=0
  for n in a b; do td_alive "${TD_NODE_PID[$n]:-0}" && td_is_active "$n" && count=$((count + 1)); done
  ((count == 1))
}

settle() { # wait for one active holding the address and the other following with lag 0
  local act stb
  wait_for 40 "exactly one active node" td_single_active
  act=$(active_node)
  stb=$(other_node "$act")
  wait_for 20 "node $act holding the service address" td_has_vip "$act"
  td_has_vip "$stb" && fail "node $stb still holds the service address after the event"
  wait_for 40 "node $stb following node $act with lag 0" td_caught_up "$stb"
}

# first_answer_ms T0: ms from T0 until one held token resumes again.
first_answer_ms() {
  head -n 1 "$HELD" >"$TD_DIR/one-token"
  load --resume-from "$TD_DIR/one-token" --retry-for 30 --step-timeout 2 --quiet \
    >/dev/null 2>&1 || true
  echo $(($(td_now_ms) - $1))
}

nft_cut() { # ACTION add|delete: drop everything between the two nodes' addresses, in node a
  local ns=${TD_NODE_NS[a]}
  if [[ $1 == add ]]; then
    ip netns exec "$ns" nft -f - <<EOF
table inet chaos_cut {
  chain in { type filter hook input priority -50; ip saddr ${TD_NODE_IP[b]} drop; ip saddr ${TD_NODE_INSIDE_IP[b]} drop; }
  chain out { type filter hook output priority -50; ip daddr ${TD_NODE_IP[b]} drop; ip daddr ${TD_NODE_INSIDE_IP[b]} drop; }
}
EOF
  else
    ip netns exec "$ns" nft delete table inet chaos_cut 2>/dev/null || true
  fi
}

event() { # NAME: one fault, then back to one active; sets GAP_MS
  local name=$1 act stb t0
  act=$(active_node)
  stb=$(other_node "$act")
  t0=$(td_now_ms)
  case $name in
    kill_active)
      kill -KILL "${TD_NODE_PID[$act]}"
      wait "${TD_NODE_PID[$act]}" 2>/dev/null || true
      wait_for 15 "node $stb active" td_is_active "$stb"
      GAP_MS=$(first_answer_ms "$t0")
      start_node "$act"
      ;;
    freeze_active)
      kill -STOP "${TD_NODE_PID[$act]}"
      sleep $((hold_s + 1))
      kill -CONT "${TD_NODE_PID[$act]}"
      GAP_MS=$(first_answer_ms "$t0")
      ;;
    cut_link)
      # Without an arbiter both nodes serve during the cut (documented); no churn runs then.
      nft_cut add
      sleep $((hold_s + 1))
      nft_cut delete
      GAP_MS=$(first_answer_ms "$t0")
      ;;
    restart_standby)
      kill -TERM "${TD_NODE_PID[$stb]}"
      wait_for 10 "node $stb stopped" td_not_alive "${TD_NODE_PID[$stb]}"
      wait "${TD_NODE_PID[$stb]}" 2>/dev/null || true
      start_node "$stb"
      GAP_MS=$(first_answer_ms "$t0")
      ;;
  esac
  settle
}

# ---- checks -------------------------------------------------------------------------------

declare -A SEEN_BYTES=() # index -> highest bytes_tx+bytes_rx seen
check_member() { # after an event: addresses and counters on the active
  local act view dups idx total back=0
  act=$(active_node)
  view=$(nctl "$act" show sessions --json)
  dups=$(jq '[.sessions[].assigned_ip] | group_by(.) | map(select(length > 1)) | length' <<<"$view")
  DUP_TOTAL=$((DUP_TOTAL + dups))
  while read -r idx total; do
    if ((total < ${SEEN_BYTES[$idx]:-0})); then
      back=$((back + 1))
      step "counters of session $idx went back: ${SEEN_BYTES[$idx]} -> $total"
    fi
    ((total > ${SEEN_BYTES[$idx]:-0})) && SEEN_BYTES[$idx]=$total
  done < <(jq -r '.sessions[] | "\(.index) \((.bytes_tx | tonumber) + (.bytes_rx | tonumber))"' <<<"$view")
  BACK_TOTAL=$((BACK_TOTAL + back))
  SESSIONS_NOW=$(jq '.sessions | length' <<<"$view")
}

# ---- run ----------------------------------------------------------------------------------

step "chaos: seed $CHAOS_SEED, $CHAOS_SESSIONS sessions, ${CHAOS_DURATION}s of events"
login_batch "$CHAOS_SESSIONS"
held=$(grep -c . "$HELD" || true)
((held >= CHAOS_SESSIONS * 9 / 10)) || fail "only $held of $CHAOS_SESSIONS initial logins succeeded"
EVENTS=0 LOST_TOTAL=0 DUP_TOTAL=0 BACK_TOTAL=0 LOGGED_OFF=0 MAX_GAP=0 RESUMED_TOTAL=0
declare -A BY_KIND=()
resume_all
check_member
kinds=(kill_active freeze_active cut_link restart_standby)
t_end=$((SECONDS + CHAOS_DURATION))
while ((SECONDS < t_end)); do
  kind=${kinds[RANDOM % ${#kinds[@]}]}
  sleep "0.$((RANDOM % 10))"
  step "event $((EVENTS + 1)): $kind"
  event "$kind"
  EVENTS=$((EVENTS + 1))
  BY_KIND[$kind]=$((${BY_KIND[$kind]:-0} + 1))
  ((GAP_MS > MAX_GAP)) && MAX_GAP=$GAP_MS
  resume_all
  LOST_TOTAL=$((LOST_TOTAL + LOST))
  RESUMED_TOTAL=$((RESUMED_TOTAL + RESUMED))
  check_member
  step "  after $kind: gap ${GAP_MS} ms; $RESUMED resumed, $LOST lost (401), $OTHER not answered; $SESSIONS_NOW sessions on the active"
  ((LOST == 0)) || step "  LOST: $(grep -c 'status=401' "$TD_DIR/resume.log" || true) tokens refused"
  # Churn between events: new logins, some log-offs.
  login_batch 20
  logoff_some 5
done

held=$(grep -c . "$HELD" || true)
printf '\n%-28s %s\n' "chaos (seed $CHAOS_SEED)" "result"
printf '%-28s %s\n' "events" "$EVENTS ($(for k in "${!BY_KIND[@]}"; do printf '%s %s ' "$k" "${BY_KIND[$k]}"; done))"
printf '%-28s %s\n' "sessions held at the end" "$held"
printf '%-28s %s\n' "resumed (all checks)" "$RESUMED_TOTAL"
printf '%-28s %s\n' "lost (must be 0)" "$LOST_TOTAL"
printf '%-28s %s\n' "duplicate addresses (0)" "$DUP_TOTAL"
printf '%-28s %s\n' "counters gone back (0)" "$BACK_TOTAL"
printf '%-28s %s\n' "logged off by the operator" "$LOGGED_OFF"
printf '%-28s %s ms\n' "longest gap" "$MAX_GAP"
((EVENTS > 0)) || fail "no event ran"
assert_eq 0 "$LOST_TOTAL" "sessions lost"
assert_eq 0 "$DUP_TOTAL" "addresses assigned twice"
assert_eq 0 "$BACK_TOTAL" "counters that went backwards"
