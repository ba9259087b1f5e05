#!/usr/bin/env bash
# systemd integration: tandemd under a NOTIFY_SOCKET (a socat datagram listener standing in for
# systemd) sends READY=1 once it listens, RELOADING=1 and READY=1 around a SIGHUP reload (the
# outcome, accepted or refused, in STATUS=), and STOPPING=1 on SIGTERM. The unit file passes
# `systemd-analyze verify` with ExecStart pointed at the built binary.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NOTIFY=$TD_DIR/notify.sock
GOT=$TD_DIR/notify.log

# The states received so far, one per line, in order (datagrams arrive back to back).
states() { grep -ao 'READY=1\|RELOADING=1\|STOPPING=1' "$GOT" | paste -sd ' ' || true; }
td_states_are() { [[ $(states) == "$1" ]]; }
wait_states() {
  poll_until 10 td_states_are "$1" || fail "notifications: expected '$1', got '$(states)'"
  step "notifications so far: $1"
}

unit=$TANDEM_SOURCE_DIR/deploy/systemd/tandemd.service
command -v systemd-analyze >/dev/null || fail "systemd-analyze is missing (deploy/setup.sh installs systemd)"
sed "s|^ExecStart=/usr/local/sbin/tandemd |ExecStart=$TD_TANDEMD |" "$unit" >"$TD_DIR/tandemd.service"
out=$(systemd-analyze verify "$TD_DIR/tandemd.service" 2>&1) || fail "systemd-analyze verify: $out"
# verify also loads the machine's other units and reports their problems, each line prefixed
# with that unit's path (e.g. Debian's freeradius.service); only ours count.
others=$(grep -E '^/(lib|usr/lib|etc|run)/systemd/' <<<"$out" || true)
ours=$(grep -vE '^/(lib|usr/lib|etc|run)/systemd/' <<<"$out" || true)
[[ -z $others ]] || step "systemd-analyze verify, about other units (ignored): $others"
[[ -z $ours ]] || fail "systemd-analyze verify complains: $ours"
step "systemd-analyze verify: clean"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"

setup_topology
add_user alice secret-a
write_config
socat -u "UNIX-RECV:$NOTIFY" "OPEN:$GOT,creat,append" 2>>"$TD_DIR/socat.log" &
td_track $!
wait_for 5 "the notify socket" test -S "$NOTIFY"
export NOTIFY_SOCKET=$NOTIFY
start_tandemd
unset NOTIFY_SOCKET
wait_states "READY=1"
assert_contains "$GOT" "STATUS=listening on $TD_SERVER_IP:$TD_PORT" "STATUS after start"

kill -HUP "$TD_TANDEMD_PID"
wait_log 10 reloaded >/dev/null
wait_states "READY=1 RELOADING=1 READY=1"
assert_contains "$GOT" "STATUS=reloaded $TD_CONFIG: 1 policies" "STATUS after a reload"

printf '\n[policy.default]\nbogus = 1\n' >>"$TD_CONFIG"
kill -HUP "$TD_TANDEMD_PID"
wait_log 10 reload_refused >/dev/null
wait_states "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1"
assert_contains "$GOT" "STATUS=reload refused: .*unknown key 'policy\\.default\\.bogus'" \
  "STATUS after a refused reload"

# A session is still served after the refused reload.
start_client c1 alice secret-a
wait_tunnel c1
stop_client c1 INT

stop_tandemd
wait_states "READY=1 RELOADING=1 READY=1 RELOADING=1 READY=1 STOPPING=1"
