#pragma once
// The defaults both the node's config reader and replication/ use: the pair's timing, the
// arbiter's lease, the member's size. The node's own are in node/config/defaults.hpp.
#include <chrono>

namespace tandem::defaults {

// Replication (S18: a crash failover must be visible to clients within seconds).
inline constexpr auto kPollInterval = std::chrono::milliseconds(500);
inline constexpr auto kHoldTime = std::chrono::milliseconds(3000);
// [arbiter] (docs/arbiter.md): the active key's lease; renewed every third of it.
inline constexpr auto kLeaseTtl = std::chrono::milliseconds(2000);
// [member]: sessions a member is sized for, when the operator does not say.
inline constexpr int kMemberCapacity = 1000;
// How long a client's answer waits for the standby's acknowledgement of a durable change; past
// it the change is answered "failed" and the node is degraded (docs/replication.md).
inline constexpr auto kAckTimeout = std::chrono::milliseconds(1000);

}  // namespace tandem::defaults
