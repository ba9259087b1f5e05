#pragma once
// What a member's active node tells the directors (proto/member.proto): its record under this
// node's lease, refreshed about once a second and at once when draining changes, so a member
// whose active is gone disappears from etcd by itself. A node that stops being active deletes
// the record if it is still the one under its lease (never the new active's).
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/clock.hpp"
#include "replication/core.hpp"
#include "replication/settings.hpp"

namespace tandem::replication {

class Arbiter;

struct MemberLoad {
  std::size_t sessions = 0;
  bool draining = false;
  std::uint64_t session_limit = 0;  // the node's max_sessions; 0 = none
};

// What the record says the member holds at most: [member] capacity, or the node's session limit
// when that is lower (the node would refuse logins beyond it).
std::uint64_t published_capacity(std::uint64_t configured, std::uint64_t session_limit);

class MemberPublisher {
 public:
  MemberPublisher(const Settings& config, Arbiter& arbiter);
  void tick(TimePoint now, const CoreStatus& status, const MemberLoad& load);

 private:
  void publish(TimePoint now, const CoreStatus& status, const MemberLoad& load);
  void withdraw();

  const Settings& config_;
  Arbiter& arbiter_;
  bool in_flight_ = false;
  bool published_ = false;
  std::int64_t published_lease_ = 0;
  bool last_draining_ = false;
  TimePoint next_{};
};

}  // namespace tandem::replication
