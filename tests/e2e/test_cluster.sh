#!/usr/bin/env bash
# Issue 10 item 5: a cluster of two members (m1 = nodes a, b; m2 = nodes c, d), one etcd, two
# directors, the real openconnect.
#  1. 10 logins through the directors (3 long-running tunnels, 7 `openconnect --authenticate`)
#     spread over both members: each gets at least 3, and each session is on the member the
#     director's redirect named.
#  2. m(t1)'s active is killed (-9) under those clients: its standby takes over and every session
#     of that member stays there with its index and address; the tunnels on it ping again with the
#     same address; the other member's sessions are untouched. The killed node comes back as the
#     new active's standby.
#  3. Every director stopped: a connected client forced to reconnect (its TCP connection destroyed
#     with ss -K) resumes at its member; a new login through a director's URL fails (exit code,
#     no session anywhere); one director back, a new login works.
#  4. `tandemctl drain` on the busier member: once the director has seen its record say draining,
#     new logins through the director all go to the other member, and the drained member keeps
#     every session it had (its tunnels still ping). After undrain its record is open again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"
source "$(dirname "$0")/lib_cluster.sh"
source "$(dirname "$0")/lib_members.sh"

# Capacity 7 per member: the directors never place on a full member, so 10 logins give each
# member at least 3 whatever the random draws (with capacity 100 the weighted draw is nearly a
# coin toss, and a 10-login split of 2-8 or worse comes out about 1 run in 10). Each login waits
# until the members' records in etcd count it, so every director's view is current (records are
# republished about once a second).
CAPACITY=7
LOGINS=10
TUNNELS=3
declare -A CLI_NS=([t1]=$TD_NS_CLIENT [t2]=$TD_NS_CLIENT2 [t3]=$TD_NS_CLIENT3)
declare -A PLACED=()     # user -> the member the director's redirect named
declare -A PLACED_N=([m1]=0 [m2]=0)

setup_members_topology
start_etcd
make_pair_pki
for i in $(seq 1 $((LOGINS + 3))); do add_user "u$i" "pw-$i"; done
start_members "$CAPACITY"
start_director 1
start_director 2

published_total() { echo $(($(member_sessions_published m1) + $(member_sessions_published m2))); }
published_is() { [[ $(published_total) == "$1" ]]; }
member_of_url() { # a URL or host -> m1 / m2
  case $1 in
  *"//$TD_SERVER_IP:"* | "$TD_SERVER_IP") echo m1 ;;
  *"//$TD_M2_SVC:"* | "$TD_M2_SVC") echo m2 ;;
  *) fail "not a member's address: $1" ;;
  esac
}
# The member the director named in its newest redirect (its log grew by exactly one).
last_redirect_member() { # DIRECTOR REDIRECTS_BEFORE
  local after line
  after=$(director_redirects "$1")
  assert_eq $(($2 + 1)) "$after" "redirect lines in director $1's log after one login"
  line=$(grep ' redirect ' "$TD_DIR/director-$1.log" | tail -n1)
  member_of_url "$(field location "$line")"
}
user_session() { # NODE USER FIELD
  nctl "$1" show sessions --user "$2" --json | jq -r ".sessions[] | .$3"
}
place() { # USER MEMBER
  PLACED[$1]=$2
  PLACED_N[$2]=$((PLACED_N[$2] + 1))
}

step "PHASE 1: $LOGINS logins through the directors ($TUNNELS tunnels, the rest --authenticate)"
for i in $(seq 1 $LOGINS); do
  d=$((i % 2 + 1)) # alternate the directors
  TD_URL=$(director_url "$d")
  before=$(director_redirects "$d")
  if ((i <= TUNNELS)); then
    start_client --ns "${CLI_NS[t$i]}" "t$i" "u$i" "pw-$i"
    wait_tunnel "t$i"
    m=$(last_redirect_member "$d" "$before")
    # openconnect went on to the member the director named: its CONNECT went there.
    assert_contains "$(client_log "t$i")" "Connected to ${TD_MEMBER_SVC[$m]}:$TD_PORT" \
      "client t$i connected to $m"
  else
    authenticate --ns "$TD_NS_CLIENT3" "a$i" "u$i" "pw-$i"
    m=$(last_redirect_member "$d" "$before")
    host=$(sed -n "s/^HOST='\{0,1\}\([^']*\)'\{0,1\}\$/\1/p" "$(client_log "a$i")" | tail -n1)
    assert_eq "$m" "$(member_of_url "$host")" "u$i: the member openconnect ended on (HOST=$host)"
  fi
  place "u$i" "$m"
  step "login $i (u$i) via director $d -> $m"
  wait_for 10 "the members' records count $i sessions" published_is "$i"
done

ACT1=$(member_active m1)
ACT2=$(member_active m2)
declare -A ACT=([m1]=$ACT1 [m2]=$ACT2)
# Each member's active lists exactly the users its directors' redirects named.
for m in m1 m2; do
  want=$(for u in "${!PLACED[@]}"; do if [[ ${PLACED[$u]} == "$m" ]]; then echo "$u"; fi; done |
    sort | xargs)
  got=$(nctl "${ACT[$m]}" show sessions --json | jq -r '.sessions[].username' | sort | xargs)
  assert_eq "$want" "$got" "the users with a session on $m (node ${ACT[$m]}), as the directors chose"
done
step "PLACEMENT m1 ${PLACED_N[m1]} of $LOGINS, m2 ${PLACED_N[m2]} of $LOGINS (capacity $CAPACITY each); director 1 redirected $(director_redirects 1), director 2 $(director_redirects 2)"
((PLACED_N[m1] >= 3 && PLACED_N[m2] >= 3)) || fail "a member got fewer than 3 of $LOGINS logins"
((PLACED_N[m1] <= CAPACITY && PLACED_N[m2] <= CAPACITY)) ||
  fail "a director placed a login on a full member"

declare -A TIP=() TINDEX=() TMEMBER=()
for t in t1 t2 t3; do
  u=u${t#t}
  TMEMBER[$t]=${PLACED[$u]}
  TIP[$t]=$(client_ip "$t")
  TINDEX[$t]=$(user_session "${ACT[${TMEMBER[$t]}]}" "$u" index)
  assert_eq "${TIP[$t]}" "$(user_session "${ACT[${TMEMBER[$t]}]}" "$u" assigned_ip)" \
    "$t's tunnel address is its session's on ${TMEMBER[$t]}"
  assert_ping "${CLI_NS[$t]}" "$TD_INSIDE_IP" 2
done

step "PHASE 2: crash failover inside ${TMEMBER[t1]} (the member of tunnel t1)"
FM=${TMEMBER[t1]}
OM=$([[ $FM == m1 ]] && echo m2 || echo m1)
OLD=${ACT[$FM]}
NEW=$(other_node "$OLD")
session_map "${ACT[$OM]}" >"$TD_DIR/other-before.map"
start_ping_stream p "${CLI_NS[t1]}" "$TD_INSIDE_IP" 0.05
sleep 1
TD_FO_CLIENT=t1 TD_FO_NS=${CLI_NS[t1]}
failover_begin "$OLD" p
step "kill -9 node $OLD (pid ${TD_NODE_PID[$OLD]})"
kill -KILL "${TD_NODE_PID[$OLD]}"
wait "${TD_NODE_PID[$OLD]}" 2>/dev/null || true
# A crash under the arbiter: the key passes once the dead node's lease has expired in etcd (TTL)
# and the standby's hold time is up; +1.5 s for the campaign and the client's reconnect, +1 s for a
# reconnecting client's dropped TCP SYN (as test_arbiter_isolated).
ttl_ms=$(td_duration_ms "$TD_TTL")
hold_ms=$(td_duration_ms "${TD_HOLD:-2s}")
assert_failover_outcome "$OLD" "$NEW" "${TIP[t1]}" "${TINDEX[t1]}" \
  "$(((ttl_ms > hold_ms ? ttl_ms : hold_ms) + 2500))"
GAP_MS=$TD_GAP_MS
assert_eq "node-$NEW" "$(key_holder "$FM")" "$FM's key holder"
assert_keeper_revoked "$(node_log "$OLD")"
for t in t1 t2 t3; do
  wait_for 20 "a fresh ping through $t (on ${TMEMBER[$t]})" ping_fresh "${CLI_NS[$t]}"
  assert_eq "${TIP[$t]}" "$(client_ip "$t")" "$t's address after the failover"
  if [[ ${TMEMBER[$t]} == "$FM" ]]; then
    assert_eq "${TINDEX[$t]}" "$(user_session "$NEW" "u${t#t}" index)" "$t's session on node $NEW"
  fi
done
[[ $(session_map "${ACT[$OM]}") == "$(cat "$TD_DIR/other-before.map")" ]] ||
  fail "$OM's sessions changed when $FM failed over"
step "$OM untouched: $(wc -l <"$TD_DIR/other-before.map") sessions as before"
stop_ping_stream p

step "node $OLD comes back as $FM's standby"
start_node "$OLD"
wait_for 30 "node $OLD following node $NEW and caught up" td_caught_up "$OLD"
[[ $(session_map "$OLD") == "$(session_map "$NEW")" ]] || fail "node $OLD lists other sessions"
wait_for 15 "$FM's record no longer degraded" member_open "$FM"
step "node $OLD follows node $NEW with the same sessions; $FM's record open again"
ACT[$FM]=$NEW

step "PHASE 3: every director stopped"
stop_director 1
stop_director 2
total_before=$(($(node_field "${ACT[m1]}" sessions) + $(node_field "${ACT[m2]}" sessions)))
# The resuming client: t2 (on either member).
RM=${TMEMBER[t2]}
RN=${ACT[$RM]}
connects() { count_in "$(client_log t2)" 'Got CONNECT response: HTTP/1.1 200'; }
resumes() { count_in "$(node_log "$RN")" "session_resumed index=${TINDEX[t2]} "; }
connects_before=$(connects)
resumes_before=$(resumes)
step "t2 (on $RM, node $RN): its TCP connection to ${TD_MEMBER_SVC[$RM]} destroyed (ss -K)"
t0=$(td_now_ms)
ip netns exec "${CLI_NS[t2]}" ss -K dst "${TD_MEMBER_SVC[$RM]}" dport = "$TD_PORT" >/dev/null \
  2>>"$TD_DIR/ss.log"
wait_for 30 "t2's session resumed on node $RN" bash -c "(( \$(grep -c 'session_resumed index=${TINDEX[t2]} ' '$(node_log "$RN")') > $resumes_before ))"
wait_for 30 "t2's CONNECT answered again" bash -c "(( \$(grep -c 'Got CONNECT response: HTTP/1.1 200' '$(client_log t2)') > $connects_before ))"
td_alive "$(client_pid t2)" || fail "t2 exited instead of resuming"
assert_eq "${TIP[t2]}" "$(client_ip t2)" "t2's address after the resume"
wait_for 10 "a fresh ping through t2" ping_fresh "${CLI_NS[t2]}"
step "RESUME without directors: t2 back on $RM in $(($(td_now_ms) - t0)) ms, same address ${TIP[t2]}"

step "a new login through director 1's URL fails while no director runs"
TD_URL=$(director_url 1)
td_launch n1 "$TD_NS_CLIENT3" "pw-11" --authenticate --user=u11 --passwd-on-stdin "$TD_URL"
client_wait_exit n1 30
assert_ne 0 "$TD_RC" "openconnect --authenticate exit code with no director"
assert_contains "$(client_log n1)" '[Cc]onnection refused|[Ff]ailed to connect' \
  "openconnect's reason for the failed login"
assert_eq "$total_before" "$(($(node_field "${ACT[m1]}" sessions) + $(node_field "${ACT[m2]}" sessions)))" \
  "sessions on the members after the refused login"

step "director 1 back: a new login works"
start_director 1
before=$(director_redirects 1)
authenticate --ns "$TD_NS_CLIENT3" n2 u11 pw-11
m=$(last_redirect_member 1 "$before")
assert_eq 1 "$(nctl "${ACT[$m]}" show sessions --user u11 --json | jq '.sessions | length')" \
  "u11's session on $m, where the director sent it"

RESTART_M=$m

step "PHASE 4: the busier member drained; new logins through director 1 go to the other one"
# 11 sessions over capacity 7 + 7: the busier member has at least 6, so the other has room for 2.
if (($(node_field "${ACT[m1]}" sessions) >= $(node_field "${ACT[m2]}" sessions))); then
  DM=m1 OM=m2
else
  DM=m2 OM=m1
fi
session_map "${ACT[$DM]}" >"$TD_DIR/drained-before.map"
dlog=$TD_DIR/director-1.log
from=$(($(wc -l <"$dlog") + 1))
member_draining() { [[ $(member_record "$1" | jq -r '.draining // false') == true ]]; }
director_saw() { # M DRAINING
  tail -n "+$from" "$dlog" | grep ' member_updated ' | grep " member=$1 " | grep -q " draining=$2 "
}
out=$(nctl "${ACT[$DM]}" drain)
step "tandemctl drain on node ${ACT[$DM]} ($DM): $out"
assert_match "$out" "^member $DM draining: " "tandemctl drain answer on a member"
wait_for 10 "$DM's record says draining" member_draining "$DM"
wait_for 10 "director 1 logged $DM draining" director_saw "$DM" true
for u in u12 u13; do
  before=$(director_redirects 1)
  authenticate --ns "$TD_NS_CLIENT3" "d$u" "$u" "pw-${u#u}"
  m=$(last_redirect_member 1 "$before")
  assert_eq "$OM" "$m" "the member director 1 sent $u to while $DM drains"
  assert_eq 1 "$(nctl "${ACT[$OM]}" show sessions --user "$u" --json | jq '.sessions | length')" \
    "$u's session on $OM"
done
[[ $(session_map "${ACT[$DM]}") == "$(cat "$TD_DIR/drained-before.map")" ]] ||
  fail "the drained member $DM lost or gained sessions"
for t in t1 t2 t3; do
  if [[ ${TMEMBER[$t]} == "$DM" ]]; then assert_ping "${CLI_NS[$t]}" "$TD_INSIDE_IP" 2; fi
done
step "$DM drained: $(wc -l <"$TD_DIR/drained-before.map") sessions kept, u12 and u13 placed on $OM"
nctl "${ACT[$DM]}" undrain >/dev/null
wait_for 10 "$DM's record open again" member_open "$DM"
wait_for 10 "director 1 logged $DM open again" director_saw "$DM" false

step "PHASE 5: a session limit below the capacity reaches the directors (docs/limits.md)"
# The node publishes min(capacity, max_sessions), so a director stops sending new clients to a
# member whose active would refuse them; without the limit the capacity is back.
n=${ACT[$OM]}
from=$(($(wc -l <"$dlog") + 1))
record_capacity() { member_record "$1" | jq -r '(.capacity // "0") | tonumber'; }
capacity_is() { [[ $(record_capacity "$1") == "$2" ]]; }
director_saw_capacity() { # M CAPACITY
  tail -n "+$from" "$dlog" | grep ' member_updated ' | grep " member=$1 " | grep -q " capacity=$2 "
}
assert_eq "$CAPACITY" "$(record_capacity "$OM")" "$OM's published capacity before the limit"
printf '\n[limits]\nmax_sessions = 3\n' >>"${TD_NODE_CONFIG[$n]}"
nctl "$n" reload >/dev/null
wait_for 10 "$OM's record says capacity 3" capacity_is "$OM" 3
wait_for 10 "director 1 logged $OM at capacity 3" director_saw_capacity "$OM" 3
sed -i '/^\[limits\]$/,$d' "${TD_NODE_CONFIG[$n]}"
nctl "$n" reload >/dev/null
wait_for 10 "$OM's record says capacity $CAPACITY again" capacity_is "$OM" "$CAPACITY"

step "SUMMARY placement m1 ${PLACED_N[m1]} / m2 ${PLACED_N[m2]}; failover gap $GAP_MS ms in $FM; t2 resumed with no director; login after director 1 restart -> $RESTART_M; $DM drained: new logins to $OM, its sessions kept"
