#!/usr/bin/env bash
# Least privilege (docs/privileges.md): a pair with [process] user set. Each tandemd, once it
# listens, runs as that user: every uid and gid of every thread is the user's, every thread's
# effective, permitted and bounding sets are exactly CAP_NET_ADMIN + CAP_NET_RAW, nothing
# inheritable or ambient, NoNewPrivs 1; its keeper runs as the user with CAP_NET_ADMIN only. The
# admin socket is the user's, mode 0600: root's tandemctl works, another user is refused. Then
# the privileged work done after the drop: the active holds the addresses, a crash failover
# (kill -9: the keeper removes the dead node's addresses) and a planned failover each end with a
# fresh ping through the tunnel (assert_failover_outcome), the killed node restarts from its own
# store (sessions=1 in its `listening` line, the store's files all the user's), a users file
# rewritten by tandemctl stays readable and a reload takes it, and a SIGTERM'd active gives its
# addresses up. An admin socket in a shared directory (/tmp) stops start-up. TD_LP_USER (default
# tandem) is created if missing and removed afterwards only if this test created it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_pair.sh"

LP_USER=${TD_LP_USER:-tandem}
ensure_service_user "$LP_USER"
LP_UID=$(id -u "$LP_USER")
LP_GID=$TD_SERVICE_GID
LP_CAPS=0000000000003000   # CAP_NET_ADMIN (12) + CAP_NET_RAW (13)
LP_KEEPER_CAPS=0000000000001000

# status_line PID-or-PID/task/TID KEY: the value of KEY in /proc/.../status (tabs as spaces).
status_line() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
# creds PID-or-PID/task/TID: its ids, capability sets and NoNewPrivs on one line (one read).
creds() {
  awk '$1 ~ /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs):$/ {
    k = $1; $1 = ""; sub(/^ /, ""); printf "%s%s; ", k, $0 }' "/proc/$1/status"
}
# What every thread of a daemon must show after the drop (in /proc's order), and the keeper.
want_creds() { # CAPS
  local u="$LP_UID $LP_UID $LP_UID $LP_UID" g="$LP_GID $LP_GID $LP_GID $LP_GID"
  printf 'Uid:%s; Gid:%s; Groups:; CapInh:%s; CapPrm:%s; CapEff:%s; CapBnd:%s; CapAmb:%s; NoNewPrivs:1; ' \
    "$u" "$g" 0000000000000000 "$1" "$1" "$1" 0000000000000000
}

# assert_dropped NODE: the daemon, each of its threads, and its keeper.
assert_dropped() {
  local n=$1 pid=${TD_NODE_PID[$1]} task threads=0 keeper want
  want=$(want_creds "$LP_CAPS")
  for task in /proc/"$pid"/task/*; do
    task=${task#/proc/}
    assert_eq "$want" "$(creds "$task")" "node $n: credentials of thread $task"
    threads=$((threads + 1))
  done
  ((threads > 3)) || fail "node $n has only $threads threads: gRPC and RocksDB should have started theirs"
  keeper=$(pgrep -P "$pid" -x tandemd-keeper) || fail "node $n: no tandemd-keeper child"
  assert_eq "$(want_creds "$LP_KEEPER_CAPS")" "$(creds "$keeper")" "node $n: keeper's credentials"
  step "node $n: pid $pid, all $threads threads: $want"
  step "node $n: keeper $keeper: CapEff $(status_line "$keeper" CapEff), uid $(status_line "$keeper" Uid)"
}

# listening_sessions NODE K: the sessions= of the node's K-th `listening` line.
listening_sessions() {
  grep -E '^[^ ]+ [a-z]+ listening ' "$(node_log "$1")" | sed -n "$2p" | grep -oE ' sessions=[0-9]+' | tr -d ' '
}

setup_pair_topology
make_pair_pki
add_user alice secret-a
# The users file is read as the service user (at start and at every reload).
chgrp "$LP_GID" "$TD_USERS"
chmod 0640 "$TD_USERS"
write_node_config a "[process]
user = \"$LP_USER\""
write_node_config b "[process]
user = \"$LP_USER\""
# The keys stay root's alone: tandemd reads them before the drop.
chmod 0600 "$TD_PKI"/*.key
# Refused: an admin socket in a shared directory (/tmp) would have to be handed to the user.
sed "s|^admin_socket = .*|admin_socket = \"/tmp/td-lp-$$.sock\"|" "${TD_NODE_CONFIG[a]}" \
  >"$TD_DIR/shared-socket.toml"
rc=0
timeout 30 ip netns exec "${TD_NODE_NS[a]}" "$TD_TANDEMD" --config "$TD_DIR/shared-socket.toml" \
  >"$TD_DIR/shared-socket.log" 2>&1 || rc=$?
assert_eq 1 "$rc" "exit code with the admin socket in /tmp"
grep -q "privilege_drop_failed process=tandemd .*/tmp is not private to tandemd" \
  "$TD_DIR/shared-socket.log" || fail "no privilege_drop_failed line: $(tail -n 2 "$TD_DIR/shared-socket.log")"
[[ ! -e /tmp/td-lp-$$.sock ]] || fail "a socket was made in /tmp"
step "admin socket in /tmp: refused before serving (exit 1, privilege_drop_failed)"

start_pair
act=$(active_node)
stb=$(other_node "$act")
for n in a b; do
  grep -q "privileges_dropped user=$LP_USER uid=$LP_UID .*capabilities=cap_net_admin,cap_net_raw" \
    "$(node_log "$n")" || fail "node $n: no privileges_dropped line"
  assert_dropped "$n"
done
td_has_vips "$act" || fail "node $act (active, unprivileged) does not hold both addresses"
for n in a b; do
  ip netns exec "${TD_NODE_NS[$n]}" nft list table inet tandem_syn_guard >/dev/null ||
    fail "node $n: no SYN guard"
done
step "node $act took both addresses as $LP_USER; SYN guard in place on both"

# The admin socket: the service user's, mode 0600. Root connects (tandemctl above); another
# unprivileged user does not.
sock_stat=$(stat -c '%U %a' "$TD_DIR/admin-$act.sock")
assert_eq "$LP_USER 600" "$sock_stat" "admin socket owner and mode"
if ip netns exec "${TD_NODE_NS[$act]}" setpriv --reuid=65534 --regid=65534 --clear-groups \
  "$TD_TANDEMCTL" --socket "$TD_DIR/admin-$act.sock" status >/dev/null 2>&1; then
  fail "user nobody could use the admin socket"
fi
step "admin socket $sock_stat: root's tandemctl answered, nobody's refused"

start_client c1 alice secret-a
wait_tunnel c1
ip1=$(client_ip c1)
index=$(session_field "$act" index)
TD_INDEX=$index # wait_resumed looks for it
step "client up: $ip1, session index $index on node $act"
start_ping_stream p "$TD_NS_CLIENT" "$TD_INSIDE_IP" 0.05
sleep 1.5 # the session reaches the standby's store

step "CRASH: kill -9 node $act"
failover_begin "$act"
kill -KILL "${TD_NODE_PID[$act]}"
wait_for 15 "node $stb active" td_is_active "$stb"
wait_resumed "$stb"
assert_failover_outcome "$act" "$stb" "$ip1" "$index" "$(td_crash_gap_bound_ms)"

# The killed node comes back from its own store, as the user again.
start_node "$act"
wait_for 20 "node $act following node $stb" td_following "$act"
wait_for 10 "node $act caught up (lag 0)" td_caught_up "$act"
restored=$(listening_sessions "$act" 2)
assert_eq sessions=1 "$restored" "node $act's own store after the restart"
assert_dropped "$act"
foreign=$(find "$TD_DIR/state-a" "$TD_DIR/state-b" ! -user "$LP_USER" | head -n 3)
assert_eq "" "$foreign" "files in the state directories not owned by $LP_USER"
step "node $act restarted from its store ($restored), every state file $LP_USER's"

step "PLANNED: tandemctl failover on node $stb"
failover_begin "$stb"
out=$(nctl "$stb" failover) || fail "tandemctl failover: $out"
wait_resumed "$act"
assert_failover_outcome "$stb" "$act" "$ip1" "$index" "$TD_PLANNED_GAP_MS"

# A users file rewritten by tandemctl (as root) keeps its group and mode, and a reload reads it.
add_user bob secret-b
assert_eq "root $LP_USER 640" "$(stat -c '%U %G %a' "$TD_USERS")" "users file after a rewrite"
out=$(nctl "$act" reload) || fail "reload as $LP_USER: $out"
[[ $out == *", 2 users"* ]] || fail "the reload did not read the rewritten users file: $out"
step "users file rewritten (root $LP_USER 640) and reloaded: $out"

stop_ping_stream p
ping_stream_stats p 50
step "pings: $TD_PING_SENT sent, $TD_PING_RECV answered, $TD_PING_LOST lost"

# A stopped active gives its addresses up (the keeper, as the user, at the latest).
step "SIGTERM node $act"
kill -TERM "${TD_NODE_PID[$act]}"
wait_for 20 "node $act exited" td_not_alive "${TD_NODE_PID[$act]}"
poll_until 3 td_holds_none "$act" || fail "node $act still holds $(td_node_addrs "$act") after SIGTERM"
wait_for 15 "node $stb active" td_is_active "$stb"
for n in a b; do
  if grep -Eq ' (service_address_failed|service_address_release_failed|gratuitous_arp_failed|syn_guard_unavailable|privilege_drop_failed) ' \
    "$(node_log "$n")"; then
    fail "node $n: a privileged step failed: $(grep -E '_failed|unavailable' "$(node_log "$n")" | head -n 3)"
  fi
done
step "node $act stopped and holds no address; node $stb active; no privileged step failed"
