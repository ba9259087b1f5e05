#!/usr/bin/env bash
# Per-group client networks (docs/group-networks.md), as the real openconnect hands them to its
# vpnc-script: DNS servers, split DNS, default domain, banner, split-include and split-exclude.
#  1. Two groups with different policies: alice (eng) and bob (sales, DNS from [pool]) each get
#     their own policy's values, exactly, in the script's environment at reason=connect.
#  2. A reload changes sales: bob's connected client is sent the new values at its next CONNECT
#     (SIGUSR2 resume; openconnect 9.01 still gives its script the first values at
#     reason=reconnect), a new sales session gets them at connect; alice's eng values do not
#     move.
#  3. A reload with a banner holding CR LF (header injection) is refused, naming the key and the
#     file; the running values stay, for a new session too.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The recording vpnc-script: every call gets a directory $TD_DIR/env-<tun>-<n>.<reason> with one
# file per variable that is set (multi-line values intact), then the shared script of lib.sh
# sets up the tun device and routes.
write_recording_script() {
  td_write_vpnc_script
  mv "$TD_VPNC_SCRIPT" "$TD_DIR/vpnc-base"
  {
    echo '#!/bin/sh'
    echo "LOG_DIR='$TD_DIR'"
    cat <<'EOF'
tun=${TUNDEV:-none}
n=$(ls -d "$LOG_DIR/env-$tun-"* 2>/dev/null | wc -l)
d="$LOG_DIR/env-$tun-$n.$reason"
mkdir -p "$d"
vars="INTERNAL_IP4_ADDRESS INTERNAL_IP4_DNS CISCO_DEF_DOMAIN CISCO_BANNER CISCO_SPLIT_DNS
      CISCO_SPLIT_INC CISCO_SPLIT_EXC"
i=0
while [ "$i" -lt "${CISCO_SPLIT_INC:-0}" ]; do
  vars="$vars CISCO_SPLIT_INC_${i}_ADDR CISCO_SPLIT_INC_${i}_MASKLEN"; i=$((i + 1))
done
i=0
while [ "$i" -lt "${CISCO_SPLIT_EXC:-0}" ]; do
  vars="$vars CISCO_SPLIT_EXC_${i}_ADDR CISCO_SPLIT_EXC_${i}_MASKLEN"; i=$((i + 1))
done
for v in $vars; do
  eval "set_=\${$v+x}"
  [ -n "$set_" ] && eval "printf '%s' \"\$$v\"" >"$d/$v"
done
exec "$LOG_DIR/vpnc-base"
EOF
  } >"$TD_VPNC_SCRIPT"
  chmod 0755 "$TD_VPNC_SCRIPT"
}

# env_dir ID REASON: the newest recorded call of that reason for the client ("" if none).
env_dir() {
  local tun=${TD_CLIENT_IF[$1]} n
  for ((n = $(find "$TD_DIR" -maxdepth 1 -name "env-$tun-*" | wc -l) - 1; n >= 0; n--)); do
    [[ -d $TD_DIR/env-$tun-$n.$2 ]] && { echo "$TD_DIR/env-$tun-$n.$2"; return 0; }
  done
  echo ""
}
env_dir_count() { find "$TD_DIR" -maxdepth 1 -type d -name "env-${TD_CLIENT_IF[$1]}-*.$2" | wc -l; }
has_env_dirs() { (($(env_dir_count "$1" "$2") >= $3)); }

# What the script saw: VAR's value, "<unset>" when it was not set.
seen() { if [[ -f $1/$2 ]]; then cat "$1/$2"; else echo '<unset>'; fi; }

# The split routes as "net/len" lines, sorted (openconnect hands them over in reverse order).
routes() { # DIR INC|EXC
  local n i
  n=$(seen "$1" "CISCO_SPLIT_$2")
  [[ $n == '<unset>' ]] && n=0
  for ((i = 0; i < n; i++)); do
    echo "$(seen "$1" "CISCO_SPLIT_${2}_${i}_ADDR")/$(seen "$1" "CISCO_SPLIT_${2}_${i}_MASKLEN")"
  done | sort | paste -sd' '
}
# CISCO_SPLIT_DNS is comma-separated; compare as a sorted set.
split_dns() { seen "$1" CISCO_SPLIT_DNS | tr ',' '\n' | sort | paste -sd' '; }

check_env() { # DIR WHO DNS SPLIT_DNS DEF_DOMAIN BANNER INCLUDES EXCLUDES
  local d=$1 who=$2
  step "$who: $(basename "$d"): DNS='$(seen "$d" INTERNAL_IP4_DNS)'" \
    "split_dns='$(split_dns "$d")' domain='$(seen "$d" CISCO_DEF_DOMAIN)'" \
    "inc='$(routes "$d" INC)' exc='$(routes "$d" EXC)'"
  assert_eq "$3" "$(seen "$d" INTERNAL_IP4_DNS)" "$who INTERNAL_IP4_DNS"
  assert_eq "$4" "$(split_dns "$d")" "$who CISCO_SPLIT_DNS"
  assert_eq "$5" "$(seen "$d" CISCO_DEF_DOMAIN)" "$who CISCO_DEF_DOMAIN"
  assert_eq "$6" "$(seen "$d" CISCO_BANNER)" "$who CISCO_BANNER"
  assert_eq "$7" "$(routes "$d" INC)" "$who split-include routes"
  assert_eq "$8" "$(routes "$d" EXC)" "$who split-exclude routes"
}

write_groups_config() { # SALES_POLICY_TOML
  write_config "
[policy.eng]
routes = [\"10.201.0.0/24\"]
exclude_routes = [\"10.201.0.128/25\"]
dns = [\"10.201.0.10\", \"10.201.0.11\"]
split_dns = [\"corp.example\", \"lab.example\"]
default_domain = \"corp.example\"
banner = \"\"\"
Engineering VPN
Authorised use only: 100% of sessions are logged.\"\"\"

[policy.sales]
$1

[tunnel_group.eng]
policy = \"eng\"
users = [\"alice\"]

[tunnel_group.sales]
policy = \"sales\"
"
  # [pool] dns: the servers of every policy that does not name its own.
  sed -i '0,/^routes = \["10.201.0.0\/24"\]$/s//&\ndns = ["10.201.0.53"]/' "$TD_CONFIG"
  grep -q '^dns = \["10.201.0.53"\]$' "$TD_CONFIG" || fail "no [pool] dns in $TD_CONFIG"
}

SALES_V1='routes = ["10.201.0.0/25"]
split_dns = ["sales.example"]
default_domain = "sales.example"
banner = "Sales VPN"'
SALES_V2='routes = ["10.201.0.0/24"]
exclude_routes = ["10.201.0.192/26"]
dns = ["10.201.0.60"]
split_dns = ["crm.example", "sales.example"]
default_domain = "crm.example sales.example"
banner = "Sales VPN, version 2"'

ENG_BANNER=$'Engineering VPN\nAuthorised use only: 100% of sessions are logged.'
ENG=("10.201.0.10 10.201.0.11" "corp.example lab.example" "corp.example" "$ENG_BANNER"
  "10.201.0.0/24 10.77.0.0/24" "10.201.0.128/25")
SALES1=("10.201.0.53" "sales.example" "sales.example" "Sales VPN"
  "10.201.0.0/25 10.77.0.0/24" "")
SALES2=("10.201.0.60" "crm.example sales.example" "crm.example sales.example"
  "Sales VPN, version 2" "10.201.0.0/24 10.77.0.0/24" "10.201.0.192/26")

setup_topology
add_client2_ns
add_user alice 'alice pw'
add_user bob 'bob pw'
write_groups_config "$SALES_V1"
start_tandemd
write_recording_script

# --- 1. two groups, two sets of values -----------------------------------------------------------
start_client a alice 'alice pw' --authgroup=eng
start_client --ns "$TD_NS_CLIENT2" b bob 'bob pw' --authgroup=sales
wait_tunnel a
wait_tunnel b
wait_for 5 "alice's connect recorded" has_env_dirs a connect 1
wait_for 5 "bob's connect recorded" has_env_dirs b connect 1
check_env "$(env_dir a connect)" alice "${ENG[@]}"
check_env "$(env_dir b connect)" bob "${SALES1[@]}"
# The headers as sent (the banner percent-encoded on one line, one Split-DNS line per domain).
assert_contains "$(client_log a)" 'X-CSTP-Banner: Engineering VPN%0AAuthorised use only: 100%25 of' \
  "alice's X-CSTP-Banner line"
assert_eq 2 "$(count_in "$(client_log a)" 'X-CSTP-Split-DNS: ')" "alice's X-CSTP-Split-DNS lines"
# The login reply carries the banner too (Cisco clients show it after login; openconnect does
# not print it, so its HTTP dump is where it shows).
authenticate a0 alice 'alice pw' --authgroup=eng --dump-http-traffic
assert_contains "$(client_log a0)" '< .*<banner>Engineering VPN$' "the banner in alice's login reply"
assert_contains "$(client_log a0)" '< Authorised use only: 100% of sessions are logged\.</banner>' \
  "the banner's second line in alice's login reply"
# The routes work: both reach the inside host through their tunnels.
assert_ping "$TD_NS_CLIENT" "$TD_INSIDE_IP" 2
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

# --- 2. a reload changes sales ------------------------------------------------------------------
write_groups_config "$SALES_V2"
out=$(tctl reload) || fail "tandemctl reload: $out"
step "tandemctl reload: $out"
assert_match "$out" "^reloaded $TD_CONFIG: 3 policies, 3 tunnel groups, 2 users\$" \
  "tandemctl reload output"

# A connected session is not disturbed by the reload. When its client next CONNECTs (a resume)
# the headend sends the values in force now. openconnect 9.01 keeps the ones of its first
# connect for the script (reason=reconnect sees those), so its routes and resolver stay as
# they were until the user connects anew (docs/group-networks.md).
for id in a b; do
  kill -USR2 "$(client_pid "$id")"
  wait_for 30 "client $id: reconnect recorded" has_env_dirs "$id" reconnect 1
done
assert_eq 2 "$(count_in "$(client_log b)" 'Got CONNECT response: HTTP/1.1 200')" \
  "bob's CONNECTs (login and resume)"
resume_headers() { # ID: the X-CSTP lines of the client's second CONNECT answer, without times
  awk '/Got CONNECT response/ {n++} n == 2 && /X-CSTP-/ {sub(/^\[[^]]*\] /, ""); print}' \
    "$(client_log "$1")"
}
resume_headers b >"$TD_DIR/b-resume-headers"
step "bob's resume answer: $(grep -E 'DNS|Domain|Banner|Split' "$TD_DIR/b-resume-headers" |
  paste -sd'|')"
assert_eq "X-CSTP-DNS: 10.201.0.60" "$(grep '^X-CSTP-DNS:' "$TD_DIR/b-resume-headers")" \
  "X-CSTP-DNS sent on bob's resume"
assert_eq "X-CSTP-Split-DNS: crm.example|X-CSTP-Split-DNS: sales.example" \
  "$(grep '^X-CSTP-Split-DNS:' "$TD_DIR/b-resume-headers" | paste -sd'|')" \
  "X-CSTP-Split-DNS sent on bob's resume"
assert_eq "X-CSTP-Default-Domain: crm.example sales.example" \
  "$(grep '^X-CSTP-Default-Domain:' "$TD_DIR/b-resume-headers")" \
  "X-CSTP-Default-Domain sent on bob's resume"
assert_eq "X-CSTP-Banner: Sales VPN, version 2" \
  "$(grep '^X-CSTP-Banner:' "$TD_DIR/b-resume-headers")" "X-CSTP-Banner sent on bob's resume"
assert_eq "X-CSTP-Split-Exclude: 10.201.0.192/255.255.255.192" \
  "$(grep '^X-CSTP-Split-Exclude:' "$TD_DIR/b-resume-headers")" \
  "X-CSTP-Split-Exclude sent on bob's resume"
# What openconnect gave its script on the resume: still the values of its first connect.
check_env "$(env_dir b reconnect)" "bob (resumed; openconnect keeps its first values)" \
  "${SALES1[@]}"
check_env "$(env_dir a reconnect)" "alice (resumed)" "${ENG[@]}"
resume_headers a >"$TD_DIR/a-resume-headers"
assert_eq "X-CSTP-DNS: 10.201.0.10|X-CSTP-DNS: 10.201.0.11" \
  "$(grep '^X-CSTP-DNS:' "$TD_DIR/a-resume-headers" | paste -sd'|')" \
  "X-CSTP-DNS sent on alice's resume (eng unchanged)"
assert_eq 3 "$(log_count login_ok)" "logins so far (the resumes are not logins)"

# A new sales session gets them at connect.
stop_client b INT
start_client --ns "$TD_NS_CLIENT2" b2 bob 'bob pw' --authgroup=sales
wait_tunnel b2
wait_for 5 "bob's second connect recorded" has_env_dirs b2 connect 1
check_env "$(env_dir b2 connect)" "bob (new session)" "${SALES2[@]}"
assert_ping "$TD_NS_CLIENT2" "$TD_INSIDE_IP" 2

# --- 3. a banner that would inject a header line is refused at reload ---------------------------
cp "$TD_CONFIG" "$TD_DIR/good.toml"
write_groups_config 'banner = "Sales\r\nX-CSTP-Split-Include: 0.0.0.0/0.0.0.0"'
rc=0
out=$(tctl reload 2>&1) || rc=$?
step "tandemctl reload: $out"
assert_eq 1 "$rc" "tandemctl reload exit code with a CR LF banner"
assert_match "$out" \
  "^tandemctl: configuration refused, the running one stays: $TD_CONFIG: policy\\.sales\\.banner: expected text .*carriage return" \
  "tandemctl reload refusal"
line=$(wait_log 5 reload_refused)
assert_match "$(field reason "$line")" 'policy\.sales\.banner' "reload_refused reason"
stop_client b2 INT
start_client --ns "$TD_NS_CLIENT2" b3 bob 'bob pw' --authgroup=sales
wait_tunnel b3
wait_for 5 "bob's third connect recorded" has_env_dirs b3 connect 1
check_env "$(env_dir b3 connect)" "bob (after the refused reload)" "${SALES2[@]}"
assert_not_contains "$(client_log b3)" 'X-CSTP-Split-Include: 0\.0\.0\.0' "an injected header"

stop_client b3 INT
stop_client a INT
stop_tandemd
