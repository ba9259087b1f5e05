# FreeRADIUS for the RADIUS e2e tests (docs/radius.md): Debian's freeradius, started in the
# inside namespace (TD_NS_INSIDE must exist) with a configuration generated in the test's
# directory, stopped by lib.sh's trap like every process the test starts.
# shellcheck shell=bash

command -v freeradius >/dev/null || fail "freeradius is not installed (deploy/setup.sh)"

RADIUS_IP=$TD_INSIDE_IP # FreeRADIUS, in the inside namespace
RADIUS_DIR=$TD_DIR/raddb
RADIUS_LOG=$TD_DIR/freeradius.log
SECRET=$(openssl rand -hex 16)
STATE_HEX=0x$(openssl rand -hex 8) # the State the challenge entry sends and then expects
OTP=$((RANDOM % 900000 + 100000))  # the one-time code the challenge entry checks

# A minimal FreeRADIUS 3.2 configuration: one client entry (RADIUS_CLIENTS: the headend's inside
# address, or the pair's inside network) that must sign every request with a Message-
# Authenticator (docs/radius.md), the files module with the users below, PAP. Debug
# mode (-X) logs every request, which the tests count. With RADIUS_DETAIL set (a file path), it
# also answers accounting on port 1813 and writes every record to that detail file (the readers
# are lib_radius_acct.sh's detail_* functions, with TD_RADIUS_DETAIL pointed at it).
write_radius_config() {
  mkdir -p "$RADIUS_DIR/log" "$RADIUS_DIR/run"
  local acct_module='' acct_server=''
  if [[ -n ${RADIUS_DETAIL:-} ]]; then
    acct_module="  detail {
    filename = $RADIUS_DETAIL
    escape_filenames = no
    permissions = 0600
    header = \"%t\"
  }"
    acct_server="  listen {
    type = acct
    ipaddr = $RADIUS_IP
    port = 1813
  }
  preacct {
  }
  accounting {
    detail
  }"
  fi
  cat >"$RADIUS_DIR/radiusd.conf" <<EOF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
raddbdir = $RADIUS_DIR
confdir = \${raddbdir}
modconfdir = \${confdir}
logdir = $RADIUS_DIR/log
run_dir = $RADIUS_DIR/run
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/radiusd.pid
name = freeradius
max_request_time = 10
cleanup_delay = 2
max_requests = 1024
hostname_lookups = no
log {
  destination = stdout
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
thread pool {
  start_servers = 2
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 4
  max_requests_per_server = 0
}
client tandem {
  ipaddr = ${RADIUS_CLIENTS:-$TD_INSIDE_GW}
  secret = $SECRET
  require_message_authenticator = yes
}
modules {
  files {
    filename = \${confdir}/users
  }
  pap {
  }
$acct_module
}
server default {
  listen {
    type = auth
    ipaddr = $RADIUS_IP
    port = 1812
  }
  authorize {
    files
    pap
  }
  authenticate {
    Auth-Type PAP {
      pap
    }
  }
$acct_server
}
EOF
  # The challenge recipe: the first entry matches only without a State and with the right
  # password (User-Password == is a comparison), and Response-Packet-Type turns the answer into
  # an Access-Challenge carrying a Reply-Message and a State. Any other first try is rejected by
  # the next entry. The answer comes back with that State, and its password must be the code.
  cat >"$RADIUS_DIR/users" <<EOF
alice Cleartext-Password := "alice-radius-pw"
	Class = "staff"

carol State !* ANY, User-Password == "carol-pw", Response-Packet-Type := Access-Challenge
	Reply-Message = "Enter the code from your token",
	State = $STATE_HEX

carol State !* ANY, Auth-Type := Reject

carol State == $STATE_HEX, Cleartext-Password := "$OTP"
	Class = "otp-user"

dave Cleartext-Password := "dave-pw"
	Framed-IP-Address = 10.77.0.50,
	Class = "contractors",
	Session-Timeout = 7200,
	Idle-Timeout = 900

mallory Auth-Type := Reject
	Reply-Message = "account locked"
EOF
}

start_freeradius() {
  step "start FreeRADIUS on $RADIUS_IP:1812 in $TD_NS_INSIDE"
  ip netns exec "$TD_NS_INSIDE" freeradius -f -X -d "$RADIUS_DIR" >"$RADIUS_LOG" 2>&1 &
  td_track $!
  wait_for 15 "FreeRADIUS ready" grep -q 'Ready to process requests' "$RADIUS_LOG"
}

access_requests() { count_in "$RADIUS_LOG" 'Received Access-Request'; }

# write_radius_secret: the shared secret in a file only root may read; path in
# RADIUS_SECRET_FILE.
write_radius_secret() {
  RADIUS_SECRET_FILE=$TD_DIR/radius-secret
  printf '%s\n' "$SECRET" >"$RADIUS_SECRET_FILE"
  chmod 0600 "$RADIUS_SECRET_FILE"
}
