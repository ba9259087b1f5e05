#pragma once
// The keeper: a tiny child process, forked before any thread exists, that gives up the node's
// service and inside addresses when the daemon can no longer be trusted with them:
//  - the daemon died (its end of the pipe closed, however it ended, kill -9 included);
//  - the serving deadline the daemon last sent has passed (docs/arbiter.md): a daemon that is
//    frozen or starved cannot drop the address itself, and by then the other node may hold the
//    arbiter's key.
// It never adds an address: only the daemon does, when it wins the role. When the daemon died, it
// also revokes the daemon's etcd lease, if it was told of one (lease_revoke.hpp): the member's key
// goes at once, and the standby need not wait for the lease's TTL.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "replication/lease_revoke.hpp"
#include "replication/service_address.hpp"

namespace tandem::replication {

class AddressKeeper {
 public:
  // Forks the keeper, which first runs `setup` (dropping its privileges) and reports back.
  // Null when there is nothing to keep; an error when the fork or the keeper's setup failed.
  // `revoker`: where to revoke the lease (the [arbiter] endpoints and files); none without one.
  static Result<std::unique_ptr<AddressKeeper>> start(std::vector<ServiceAddress> addresses,
                                                      std::function<Result<void>()> setup,
                                                      std::optional<LeaseRevoker> revoker = {});
  ~AddressKeeper();
  AddressKeeper(const AddressKeeper&) = delete;
  AddressKeeper& operator=(const AddressKeeper&) = delete;

  // Past `deadline` (steady clock) the keeper drops the addresses; TimePoint{}: no deadline.
  // Any thread; never blocks.
  void serving_until(TimePoint deadline);
  // The daemon's etcd lease now (0: none). Any thread; never blocks. False when the pipe was
  // full: tell it again.
  bool lease(std::int64_t id);

 private:
  explicit AddressKeeper(int fd) : fd_(fd) {}
  bool send(std::int64_t kind, std::int64_t value);
  int fd_;
};

}  // namespace tandem::replication
