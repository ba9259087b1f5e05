#!/usr/bin/env bash
# Install Tandem's build and test dependencies (Debian 12) and build the tree with CMake/Ninja.
# Idempotent: apt is skipped entirely when every package is already installed, and the build
# is incremental (ccache across clean builds).
#
# Environment:
#   TANDEM_BUILD_DIR  build directory (default: <repo>/build)
#   CI=true           warnings become errors (-DTANDEM_WERROR=ON)
#   TANDEM_SKIP_BUILD=1  only install packages
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${TANDEM_BUILD_DIR:-$repo/build}

packages=(
  # toolchain
  g++ cmake ninja-build pkgconf ccache lld
  # libFuzzer (tests/fuzz): clang 14 and its runtime libraries
  clang libclang-rt-14-dev
  # libraries
  openssl libssl-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  librocksdb-dev libboost1.81-dev libgtest-dev libgmock-dev libtomlplusplus-dev libsystemd-dev
  libsodium-dev libmnl-dev libcap-dev libcrypt-dev
  # end-to-end tests and the demo: the real client, a reference server, namespaces and traffic
  # (socat carries the checksummed transfers; iperf3 gives no checksum; curl scrapes metrics)
  openconnect ocserv iperf3 iproute2 nftables iputils-ping procps psmisc socat jq curl systemd
  # RocksDB's ldb writes corrupt rows for the quarantine tests
  rocksdb-tools
  # libfaketime moves one node's wall clock in the clock-jump fault test
  faketime
  # strace counts the store's fsyncs in the bulk-logoff test (one per burst, not per change)
  strace
  # etcd 3.4 (cluster membership; docs/etcd.md): the server and etcdctl, and the .proto files its
  # C++ client is generated from (rpc.proto and what it imports)
  etcd-server etcd-client golang-etcd-server-dev golang-github-gogo-protobuf-dev
  golang-github-grpc-ecosystem-grpc-gateway-dev
  # RADIUS (docs/radius.md): FreeRADIUS and radclient for the tests (the client is our own)
  freeradius freeradius-utils
)

say() { printf '[setup] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  say "must run as root (apt-get, and the tests use network namespaces)" >&2
  exit 1
fi

missing=()
for pkg in "${packages[@]}"; do
  # "ii " = wanted install, installed OK; anything else (absent, half-configured) needs apt.
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null || true)
  [[ $status == "ii " ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  say "all ${#packages[@]} packages already installed; skipping apt"
else
  say "missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  say "apt-get update"
  apt-get update -q
  say "apt-get install ${#packages[@]} packages"
  apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "${packages[@]}"
fi

if [[ ${TANDEM_SKIP_BUILD:-0} == 1 ]]; then
  say "TANDEM_SKIP_BUILD=1: not building"
  exit 0
fi

cmake_args=(-S "$repo" -B "$build_dir" -G Ninja
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [[ ${CI:-} == true ]]; then
  cmake_args+=(-DTANDEM_WERROR=ON)
fi

say "configure: cmake ${cmake_args[*]}"
cmake "${cmake_args[@]}"
say "build: cmake --build $build_dir"
cmake --build "$build_dir"
ccache --show-stats 2>/dev/null | grep -E 'Hits|Misses' | sed 's/^/[setup] ccache: /' || true
say "built into $build_dir"
