#!/usr/bin/env bash
# Install a built Tandem on this machine (Debian 12, as root), for systemd:
#
#   /usr/local/sbin/tandemd, /usr/local/sbin/tandemctl      the binaries (replaced when changed)
#   /usr/local/sbin/tandem-director                         the director, when built
#   /usr/local/lib/systemd/system/tandemd.service           the unit (replaced when changed)
#   /usr/local/share/doc/tandem/                            README, docs and the examples
#   /etc/tandem/tandemd.toml                                standalone.toml, only if absent
#   /etc/tandem/examples/                                   the examples, each only if absent
#   /etc/tandem/users                                       empty, root:tandem 0640, only if absent
#   system user and group `tandem`                          created if absent (tandemd becomes
#                                                           it: [process] user, docs/privileges.md)
#
# Idempotent: a second run changes nothing that is already in place, and never overwrites a
# file under /etc/tandem. It does not enable or start the service; it prints how to.
# Build first: bash deploy/setup.sh (or cmake --build build).
#
# Environment: TANDEM_BUILD_DIR (default <repo>/build); DESTDIR (default empty: install into
# the live system; set it to stage into a directory instead, e.g. for packaging).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TANDEM_BUILD_DIR:-$repo/build}
dest=${DESTDIR:-}

say() { printf '[install] %s\n' "$*"; }
die() {
  printf '[install] error: %s\n' "$*" >&2
  exit 1
}

[[ $(id -u) -eq 0 || -n $dest ]] || die "run as root (or set DESTDIR to stage into a directory)"
for f in "$build_dir/node/tandemd" "$build_dir/node/tandemctl"; do
  [[ -x $f ]] || die "$f is not built: run deploy/setup.sh first"
done

changed=0 # set by put when it wrote something

# put MODE SOURCE TARGET: install SOURCE as TARGET, replacing it only when it differs.
put() {
  local mode=$1 src=$2 dst=$dest$3
  if [[ -f $dst ]] && cmp -s "$src" "$dst"; then
    say "unchanged  $3"
    return 0
  fi
  install -D -m "$mode" "$src" "$dst"
  say "installed  $3"
  changed=1
}

# put_new MODE SOURCE TARGET: install SOURCE as TARGET only when TARGET does not exist.
put_new() {
  local mode=$1 src=$2 dst=$dest$3
  if [[ -e $dst ]]; then
    say "kept       $3 (exists; not overwritten)"
    return 0
  fi
  install -D -m "$mode" "$src" "$dst"
  say "installed  $3"
}

put 0755 "$build_dir/node/tandemd" /usr/local/sbin/tandemd
put 0755 "$build_dir/node/tandemctl" /usr/local/sbin/tandemctl
binaries_changed=$changed
# The director (docs/director.md), when built: it runs on its own hosts, not beside tandemd.
if [[ -x $build_dir/director/tandem-director ]]; then
  put 0755 "$build_dir/director/tandem-director" /usr/local/sbin/tandem-director
fi
changed=0
put 0644 "$repo/deploy/systemd/tandemd.service" /usr/local/lib/systemd/system/tandemd.service
unit_changed=$changed

doc=/usr/local/share/doc/tandem
put 0644 "$repo/README.md" "$doc/README.md"
for f in "$repo"/docs/*.md; do put 0644 "$f" "$doc/$(basename "$f")"; done
for f in "$repo"/deploy/examples/*; do
  mode=0644
  [[ $f == *.sh ]] && mode=0755
  put "$mode" "$f" "$doc/examples/$(basename "$f")"
done

install -d -m 0755 "$dest/etc/tandem"
for f in "$repo"/deploy/examples/*; do
  mode=0644
  [[ $f == *.sh ]] && mode=0755
  put_new "$mode" "$f" "/etc/tandem/examples/$(basename "$f")"
done
put_new 0644 "$repo/deploy/examples/standalone.toml" /etc/tandem/tandemd.toml

# The service user tandemd becomes after start-up ([process] user = "tandem" in the examples).
# A staged install (DESTDIR) cannot create it: the package's scripts would.
if [[ -z $dest ]]; then
  if id -u tandem >/dev/null 2>&1; then
    say "unchanged  system user tandem"
  else
    useradd --system --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin --comment "Tandem VPN headend" tandem
    say "created    system user tandem"
  fi
fi
# The users file: tandemd reads it as tandem (at start and at every reload), tandemctl rewrites
# it as root keeping its owner, group and mode.
users=$dest/etc/tandem/users
if [[ ! -e $users ]]; then
  install -m 0640 /dev/null "$users"
  if [[ -z $dest ]]; then
    chgrp tandem "$users"
    say "installed  /etc/tandem/users (empty, root:tandem 0640)"
  else
    say "installed  /etc/tandem/users (empty, 0640; its group must become tandem on the target)"
  fi
elif [[ -z $dest && $(stat -c %G "$users") != tandem ]]; then
  say "warning: /etc/tandem/users is not group tandem: 'chgrp tandem /etc/tandem/users;"
  say "         chmod 0640 /etc/tandem/users', or tandemd (as tandem) cannot read it"
else
  say "kept       /etc/tandem/users (exists; not overwritten)"
fi

if [[ -z $dest && -d /run/systemd/system ]]; then
  if ((unit_changed)); then
    systemctl daemon-reload
    say "systemctl daemon-reload"
  fi
  if systemctl is-active --quiet tandemd && ((binaries_changed || unit_changed)); then
    say "tandemd is running the old files: 'systemctl restart tandemd' to switch (clients resume)"
  fi
elif [[ -z $dest ]]; then
  say "systemd is not running here: the unit is installed but not loaded"
fi

cat <<EOF
[install] done. Next steps:
  1. edit /etc/tandem/tandemd.toml (examples: /etc/tandem/examples/, pair: tandemd-a.toml
     and tandemd-b.toml, certificates: /etc/tandem/examples/gen-pki.sh)
  2. add users:        tandemctl passwd USER
  3. forward packets:  sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d/)
  4. start:            systemctl enable --now tandemd
  5. check:            systemctl status tandemd; tandemctl status; journalctl -u tandemd
EOF
