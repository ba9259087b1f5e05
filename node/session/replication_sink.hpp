#pragma once
// The one narrow interface through which the node's session table reaches replication
// (DESIGN: node/ talks to replication/ through one interface). Implemented by
// replication::Replicator; called on the node's I/O thread.
#include <cstdint>
#include <functional>

#include "node/session/session.hpp"

namespace tandem::session {

class ReplicationSink {
 public:
  virtual ~ReplicationSink() = default;
  // Called on the node's thread once the change is on the standby's disk (true), or when
  // there is no standby or it did not answer in time (false: the node is degraded).
  using Acked = std::function<void(bool acknowledged)>;

  // Persist (and replicate) the session as it is now. `durable`: synced to disk before the call
  // returns, for what a client is told about (creation, resume); counters need not be.
  // `acked` may be empty when nobody waits.
  virtual void upsert(const Session& s, bool durable, Acked acked) = 0;
  virtual void remove(std::uint64_t index, Acked acked) = 0;
};

}  // namespace tandem::session
