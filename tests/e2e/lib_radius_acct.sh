# shellcheck shell=bash
# FreeRADIUS (Debian's freeradius) as the accounting server of a test, in its own namespace
# with a generated config; source after lib.sh (and lib_pair.sh for a pair). Every record it
# acknowledges is written to its `detail` file in the test's directory
# (docs/radius-accounting.md).
TD_NS_RADIUS=$TD_ID-rad
TD_RADIUS_DIR=$TD_DIR/radius
TD_RADIUS_DETAIL=$TD_RADIUS_DIR/detail
TD_RADIUS_SECRET_FILE=$TD_DIR/radius-secret
TD_RADIUS_PID=
TD_RADIUS_IP=

# radius_ns_single: the namespace, linked to the single headend (10.203.0.2 <-> 10.203.0.1).
radius_ns_single() {
  td_netns_add "$TD_NS_RADIUS"
  ip -n "$TD_NS_RADIUS" link add "${TD_IFP}r" type veth peer name "${TD_IFP}hr" \
    netns "$TD_NS_HEADEND"
  ip -n "$TD_NS_RADIUS" addr add 10.203.0.2/24 dev "${TD_IFP}r"
  ip -n "$TD_NS_HEADEND" addr add 10.203.0.1/24 dev "${TD_IFP}hr"
  ip -n "$TD_NS_RADIUS" link set "${TD_IFP}r" up
  ip -n "$TD_NS_HEADEND" link set "${TD_IFP}hr" up
  TD_RADIUS_IP=10.203.0.2
  radius_write_config 10.203.0.1/32
}

# radius_ns_pair: the namespace on the pair's inside switch (10.201.0.3), reached by both nodes.
radius_ns_pair() {
  td_netns_add "$TD_NS_RADIUS"
  td_pair_link "$TD_NS_RADIUS" "${TD_IFP}r" 10.201.0.3/24 swin
  TD_RADIUS_IP=10.201.0.3
  radius_write_config 10.201.0.0/24
}

# radius_write_config CLIENT_NET: a generated secret and a config that answers accounting from
# CLIENT_NET and writes every record to the detail file.
radius_write_config() {
  mkdir -p "$TD_RADIUS_DIR/log" "$TD_RADIUS_DIR/run"
  (umask 077 && openssl rand -hex 16 >"$TD_RADIUS_SECRET_FILE")
  (umask 077 && cat >"$TD_RADIUS_DIR/radiusd.conf") <<CONF
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = $TD_RADIUS_DIR/log
raddbdir = $TD_RADIUS_DIR
radacctdir = $TD_RADIUS_DIR
name = freeradius
confdir = $TD_RADIUS_DIR
run_dir = $TD_RADIUS_DIR/run
db_dir = $TD_RADIUS_DIR
libdir = /usr/lib/freeradius
pidfile = $TD_RADIUS_DIR/run/radiusd.pid
dictdir = /usr/share/freeradius
max_request_time = 30
cleanup_delay = 5
max_requests = 1024
hostname_lookups = no
log {
  destination = files
  file = $TD_RADIUS_DIR/log/radius.log
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = no
}
client tandem {
  ipaddr = $1
  secret = $(cat "$TD_RADIUS_SECRET_FILE")
}
modules {
  detail {
    filename = $TD_RADIUS_DETAIL
    escape_filenames = no
    permissions = 0600
    header = "%t"
  }
}
server default {
  listen {
    type = acct
    ipaddr = $TD_RADIUS_IP
    port = 1813
  }
  preacct {
  }
  accounting {
    detail
  }
}
CONF
}

# radius_toml [INTERVAL [NAS_IDENTIFIER]]: the [radius] table for tandemd: this server,
# Interim-Updates every INTERVAL; without NAS_IDENTIFIER, the node's id is sent.
radius_toml() {
  cat <<TOML

[radius]
servers = ["$TD_RADIUS_IP"]
secret_file = "$TD_RADIUS_SECRET_FILE"
timeout = "1s"
retries = 0
interim_interval = "${1:-2s}"
${2:+nas_identifier = \"$2\"}
TOML
}

td_radius_ready() { ip netns exec "$TD_NS_RADIUS" ss -Hlun "sport = :1813" | grep -q .; }

radius_start() {
  step "start freeradius in $TD_NS_RADIUS ($TD_RADIUS_IP:1813)"
  ip netns exec "$TD_NS_RADIUS" freeradius -X -d "$TD_RADIUS_DIR" \
    >>"$TD_RADIUS_DIR/freeradius.out" 2>&1 &
  TD_RADIUS_PID=$!
  td_track "$TD_RADIUS_PID"
  wait_for 10 "freeradius listening" td_radius_ready
}

radius_stop() {
  step "stop freeradius (pid $TD_RADIUS_PID)"
  kill -TERM "$TD_RADIUS_PID"
  wait "$TD_RADIUS_PID" 2>/dev/null || true
  TD_RADIUS_PID=
}

# detail_records SESSION_ID [STATUS]: the detail file's records of that Acct-Session-Id (and
# Acct-Status-Type), one paragraph each, in the order the server received them.
detail_records() {
  [[ -f $TD_RADIUS_DETAIL ]] || return 0
  awk -v id="Acct-Session-Id = \"$1\"" -v st="${2:+Acct-Status-Type = $2}" \
    'BEGIN { RS = ""; ORS = "\n\n" } index($0, id) && (st == "" || index($0, st))' \
    "$TD_RADIUS_DETAIL"
}
detail_count() { detail_records "$@" | grep -c 'Acct-Session-Id' || true; }
# detail_values SESSION_ID STATUS ATTRIBUTE: that attribute's value in each record, in order.
detail_values() {
  detail_records "$1" "$2" | sed -n "s/^[[:space:]]*$3 = \"\{0,1\}\([^\"]*\)\"\{0,1\}\$/\1/p"
}
td_detail_has() { (($(detail_count "$1" "${2:-}") >= ${3:-1})); }
# wait_detail SECONDS SESSION_ID STATUS [MIN_COUNT]
wait_detail() {
  wait_for "$1" "freeradius detail: $3 of $2 (x${4:-1})" td_detail_has "$2" "$3" "${4:-1}"
}
# detail_input_octets SESSION_ID STATUS: 64-bit input octets (2^32 x Gigawords + Octets).
detail_input_octets() {
  paste -d' ' <(detail_values "$1" "$2" Acct-Input-Gigawords) \
    <(detail_values "$1" "$2" Acct-Input-Octets) | awk '{ printf "%.0f\n", $1 * 4294967296 + $2 }'
}
