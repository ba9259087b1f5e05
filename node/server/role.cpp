#include "node/server/role.hpp"

#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "node/server/front_door.hpp"
#include "node/session/session_record.hpp"
#include "node/tun/tun_device.hpp"

namespace tandem::server {

void NodeRole::post(std::function<void()> work) { asio::post(io_, std::move(work)); }

void NodeRole::become_active(std::uint64_t epoch, std::uint64_t next_index) {
  if (!rt_) return;
  rt_->sessions.raise_next_index(next_index);
  // S17: every replicated session waits for its client to come back with its token, and the
  // disconnected timeout counts from now, not from when the old active last saw the client.
  rt_->sessions.start_waiting_all();
  if (auto r = tun::TunDevice::set_link_up(tun_name_, true); !r)
    log::error("tun_up_failed", {{"reason", r.error()}});
  // Down took the IPv6 address away with it (tun_device.hpp).
  if (const auto& pool6 = rt_->sessions.pool6()) {
    if (auto r = tun::TunDevice::add_ipv6(tun_name_, pool6->gateway(), pool6->net().prefix); !r)
      log::error("tun_ipv6_failed", {{"reason", r.error()}});
  }
  state_.serving_ = true;
  log::info("serving",
            {{"epoch", std::to_string(epoch)}, {"sessions", std::to_string(rt_->sessions.size())}});
}

void NodeRole::become_standby(std::uint64_t epoch, bool handover) {
  if (!rt_) return;
  state_.serving_ = false;
  rt_->sessions.drop_transports(handover ? session::EndReason::handover
                                         : session::EndReason::shutdown);
  reset_front_connections(*rt_);
  if (auto r = tun::TunDevice::set_link_up(tun_name_, false); !r)
    log::error("tun_down_failed", {{"reason", r.error()}});
  log::info("standing_by",
            {{"epoch", std::to_string(epoch)}, {"handover", handover ? "yes" : "no"}});
}

void NodeRole::flush_changes() {
  if (!rt_ || !state_.serving() || !rt_->sessions.sink()) return;
  ReplicationSink& sink = *rt_->sessions.sink();
  rt_->sessions.take_changed(
      [&sink](const session::Session& s) { sink.upsert(session::to_record(s), false, nullptr); });
}

void NodeRole::replica_upsert(const proto::SessionRecord& record) {
  if (rt_ && !state_.serving()) rt_->sessions.restore(session::from_record(record));
}

void NodeRole::replica_remove(std::uint64_t index) {
  if (rt_ && !state_.serving()) rt_->sessions.drop_replica(index);
}

void NodeRole::replica_reset(const std::vector<proto::SessionRecord>& records) {
  if (!rt_ || state_.serving()) return;
  rt_->sessions.drop_all_replicas();
  for (const auto& r : records) rt_->sessions.restore(session::from_record(r));
}

}  // namespace tandem::server
