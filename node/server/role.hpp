#pragma once
// The node side of the member's roles: what changes on this node when it starts or stops
// serving, and the standby's mirror of the active's sessions. Implements ReplicaHost;
// every method but post() runs on the node's thread.
#include <string>

#include "base/replication_port.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

class NodeRole final : public ReplicaHost {
 public:
  explicit NodeRole(asio::io_context& io) : io_(io) {}
  // Before any role change arrives.
  void attach(Runtime& rt, std::string tun_name) {
    rt_ = &rt;
    tun_name_ = std::move(tun_name);
  }

  // The role as the rest of the node reads it; this class is its only writer.
  const ServingState& state() const { return state_; }

  void post(std::function<void()> work) override;
  void become_active(std::uint64_t epoch, std::uint64_t next_index) override;
  void become_standby(std::uint64_t epoch, bool handover) override;
  void flush_changes() override;
  void replica_upsert(const proto::SessionRecord& record) override;
  void replica_remove(std::uint64_t index) override;
  void replica_reset(const std::vector<proto::SessionRecord>& records) override;

 private:
  asio::io_context& io_;
  Runtime* rt_ = nullptr;
  ServingState state_;
  std::string tun_name_;
};

}  // namespace tandem::server
