#include "replication/address_keeper.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>

#include "base/log.hpp"

namespace tandem::replication {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<Duration>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void drop(const std::vector<ServiceAddress>& addresses, const char* why) {
  for (const auto& a : addresses) {
    if (auto r = remove_address(a); r && *r)
      log::warn("keeper_address_dropped", {{"address", a.text()}, {"reason", why}});
  }
}

// Messages on the pipe: a kind and a value, 16 bytes; a write that small to a pipe is atomic, so
// a read sees whole messages.
constexpr std::int64_t kDeadline = 1;  // milliseconds of the steady clock, 0 for none
constexpr std::int64_t kLease = 2;     // the daemon's etcd lease, 0 for none
constexpr std::size_t kMessage = 2 * sizeof(std::int64_t);
// Per step of a revoke (connect, TLS handshake, send, receive): the standby waits for the key
// meanwhile, at most its TTL.
constexpr Duration kRevokeTimeout = std::chrono::seconds(1);

void revoke(const std::optional<LeaseRevoker>& revoker, std::int64_t lease) {
  if (!revoker || lease == 0) return;
  auto r = revoke_lease(*revoker, lease, kRevokeTimeout);
  if (r && r->already_gone)
    log::info("keeper_lease_already_gone",
              {{"lease", std::to_string(lease)}, {"endpoint", r->endpoint}});
  else if (r)
    log::warn("keeper_lease_revoked", {{"lease", std::to_string(lease)},
                                       {"endpoint", r->endpoint},
                                       {"reason", "the daemon is gone"}});
  else
    log::error("keeper_lease_revoke_failed", {{"lease", std::to_string(lease)},
                                              {"reason", r.error()},
                                              {"then", "the key goes when the lease expires"}});
}

// The child's whole life.
[[noreturn]] void keep(int fd, const std::vector<ServiceAddress>& addresses,
                       const std::optional<LeaseRevoker>& revoker) {
  std::int64_t deadline = 0;
  std::int64_t lease = 0;
  for (;;) {
    int timeout = -1;
    if (deadline != 0)
      timeout = static_cast<int>(std::max<std::int64_t>(0, deadline - steady_ms()));
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, timeout);
    if (r == 0) {
      drop(addresses, "the serving deadline passed (the daemon is frozen or lost the arbiter)");
      deadline = 0;
      continue;
    }
    if (r < 0) continue;  // EINTR
    std::int64_t buf[64];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      drop(addresses, "the daemon is gone");
      revoke(revoker, lease);  // after the addresses: they matter first
      ::_exit(0);
    }
    const std::size_t words = static_cast<std::size_t>(n) / sizeof(std::int64_t);
    for (std::size_t i = 0; i + 1 < words; i += 2) {
      if (buf[i] == kDeadline) deadline = buf[i + 1];
      if (buf[i] == kLease) lease = buf[i + 1];
    }
  }
}

}  // namespace

Result<std::unique_ptr<AddressKeeper>> AddressKeeper::start(std::vector<ServiceAddress> addresses,
                                                            std::function<Result<void>()> setup,
                                                            std::optional<LeaseRevoker> revoker) {
  if (addresses.empty()) return std::unique_ptr<AddressKeeper>();
  int fds[2];
  int report[2];  // keeper -> daemon: one byte once its setup is done (EOF: it failed)
  if (::pipe(fds) != 0) return fail(std::string("keeper: pipe: ") + std::strerror(errno));
  if (::pipe(report) != 0) return fail(std::string("keeper: pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return fail(std::string("keeper: fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[1]);
    ::close(report[0]);
    ::prctl(PR_SET_NAME, "tandemd-keeper");
    std::signal(SIGINT, SIG_IGN);  // the daemon's Ctrl-C is the daemon's
    std::signal(SIGTERM, SIG_IGN);
    std::signal(SIGHUP, SIG_IGN);
    std::signal(SIGPIPE, SIG_IGN);  // a reset while revoking is an error to log, not our end
    if (setup) {
      if (auto r = setup(); !r) {
        log::error("privilege_drop_failed", {{"process", "keeper"}, {"reason", r.error()}});
        ::_exit(1);
      }
    }
    const char ok = 1;
    [[maybe_unused]] ssize_t n = ::write(report[1], &ok, 1);
    ::close(report[1]);
    keep(fds[0], addresses, revoker);
  }
  ::close(fds[0]);
  ::close(report[1]);
  ::fcntl(fds[1], F_SETFD, FD_CLOEXEC);  // held by the daemon alone, not by what it spawns
  ::fcntl(fds[1], F_SETFL, O_NONBLOCK);  // a full pipe drops a message; the next one comes
  char ok = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &ok, 1);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n != 1) {
    ::close(fds[1]);
    return fail("the keeper could not give up root (see its log line)");
  }
  return std::unique_ptr<AddressKeeper>(new AddressKeeper(fds[1]));
}

AddressKeeper::~AddressKeeper() { ::close(fd_); }

void AddressKeeper::serving_until(TimePoint deadline) {
  // A deadline lost to a full pipe is sent again with the next one.
  send(kDeadline, deadline == TimePoint{} ? 0 : deadline.time_since_epoch().count());
}

bool AddressKeeper::lease(std::int64_t id) { return send(kLease, id); }

bool AddressKeeper::send(std::int64_t kind, std::int64_t value) {
  const std::int64_t message[2] = {kind, value};
  static_assert(sizeof message == kMessage);
  return ::write(fd_, message, sizeof message) == static_cast<ssize_t>(sizeof message);
}

}  // namespace tandem::replication
