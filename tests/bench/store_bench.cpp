// Session store throughput, by hand (not a test): durable vs non-durable upserts, the startup
// load of 100k sessions, and the snapshot path a far-behind standby takes.
//   store_bench [DIR]   DIR defaults to a fresh directory under $TMPDIR; pass a directory on the
//                       node's real state disk, since fsync cost is the whole point (tmpfs lies).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "replication/session_store.hpp"

namespace {

using tandem::replication::SessionStore;
using Clock = std::chrono::steady_clock;

tandem::proto::SessionRecord record(std::uint64_t index) {
  tandem::proto::SessionRecord r;
  r.set_index(index);
  r.set_username("user" + std::to_string(index));
  r.set_tunnel_group("default");
  r.set_group_policy("default");
  r.set_assigned_ipv4(0x0a000000u + static_cast<std::uint32_t>(index));
  r.set_token_hash(std::string(32, 'h'));
  r.set_login_time_unix(1700000000);
  r.set_public_ip("198.51.100.7");
  r.set_public_port(40000);
  r.set_client_type("Open AnyConnect VPN Agent v9.01-3");
  r.set_bytes_tx(123456789);
  r.set_bytes_rx(987654321);
  auto* t = r.add_tunnels();
  t->set_kind(tandem::proto::TunnelRecord::SSL);
  t->set_public_ip("198.51.100.7");
  t->set_public_port(40000);
  t->set_local_port(443);
  t->set_encapsulation("TLSv1.3");
  t->set_cipher("TLS_AES_256_GCM_SHA384");
  return r;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::unique_ptr<SessionStore> open_or_die(const std::string& dir) {
  auto s = SessionStore::open(dir);
  if (!s) {
    std::fprintf(stderr, "%s\n", s.error().c_str());
    std::exit(1);
  }
  return std::move(s).value();
}

void upserts(SessionStore& store, std::uint64_t first, std::uint64_t count, bool durable,
             const char* label) {
  const auto start = Clock::now();
  for (std::uint64_t i = first; i < first + count; ++i) {
    if (auto c = store.record_upsert(record(i), 1, durable); !c) {
      std::fprintf(stderr, "%s\n", c.error().c_str());
      std::exit(1);
    }
  }
  const double s = seconds_since(start);
  std::printf("%-28s %7llu in %7.3f s = %9.0f sessions/s\n", label,
              static_cast<unsigned long long>(count), s, static_cast<double>(count) / s);
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::string root;
  if (argc > 1) {
    root = (fs::path(argv[1]) / ("store-bench-" + std::to_string(::getpid()))).string();
  } else {
    root = (fs::temp_directory_path() / ("store-bench-" + std::to_string(::getpid()))).string();
  }
  std::printf("store bench in %s\n", root.c_str());
  {
    auto store = open_or_die(root + "/small");
    upserts(*store, 1, 10000, /*durable=*/true, "durable upserts");
    upserts(*store, 10001, 10000, /*durable=*/false, "non-durable upserts");
  }
  constexpr std::uint64_t kLoad = 100000;
  {
    auto store = open_or_die(root + "/big");
    upserts(*store, 1, kLoad, /*durable=*/false, "fill (non-durable)");
  }
  const auto start = Clock::now();
  auto store = open_or_die(root + "/big");
  const double open_s = seconds_since(start);
  const auto load_start = Clock::now();
  auto rows = store->load_sessions();
  const double load_s = seconds_since(load_start);
  if (!rows || rows->size() != kLoad) {
    std::fprintf(stderr, "load failed: %s\n", rows ? "wrong count" : rows.error().c_str());
    return 1;
  }
  std::printf("startup with %llu sessions:  open %.3f s + load_sessions %.3f s\n",
              static_cast<unsigned long long>(kLoad), open_s, load_s);

  const auto snap_start = Clock::now();
  auto snap = store->snapshot();
  const double snap_s = seconds_since(snap_start);
  auto standby = open_or_die(root + "/standby");
  const auto install_start = Clock::now();
  auto installed = standby->install_snapshot(*snap);
  const double install_s = seconds_since(install_start);
  if (!installed) {
    std::fprintf(stderr, "%s\n", installed.error().c_str());
    return 1;
  }
  std::printf("snapshot of %llu sessions:   take %.3f s + install %.3f s\n",
              static_cast<unsigned long long>(kLoad), snap_s, install_s);
  store.reset();
  standby.reset();
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
