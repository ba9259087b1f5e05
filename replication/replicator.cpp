#include "replication/replicator.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "node/common/log.hpp"
#include "node/session/session_record.hpp"
#include "replication/grpc_link.hpp"
#include "replication/replicator_core.hpp"

namespace tandem::replication {

namespace {

void post_ack(ReplicatorHost& host, const session::ReplicationSink::Acked& acked, bool ok) {
  if (acked) host.post([acked, ok] { acked(ok); });
}

std::int64_t now_unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<Replicator>> Replicator::create(const config::Config& config,
                                                       ReplicatorHost& host) {
  auto store = SessionStore::open(config.state_dir + "/db");
  if (!store) return fail("session store: " + store.error());
  auto core = std::make_unique<Core>(config, host, std::move(*store));
  {
    std::lock_guard lock(core->mutex);
    core->report_quarantine_locked();  // before a promotion can remove them
  }
  return std::unique_ptr<Replicator>(new Replicator(std::move(core)));
}

Replicator::Replicator(std::unique_ptr<Core> core) : core_(std::move(core)) {}

Replicator::~Replicator() { stop(); }

Result<std::vector<proto::SessionRecord>> Replicator::stored_sessions() const {
  std::lock_guard lock(core_->mutex);
  auto rows = core_->store->load_sessions();
  core_->report_quarantine_locked();
  return rows;
}

Result<bool> Replicator::start() {
  core_->running = true;
  // A node starts as standby: an address left behind by a crashed predecessor goes, and the
  // SYN guard (service_address.hpp) stands for as long as the node runs.
  if (core_->peer.enabled) core_->release_service_address();
  {
    std::uint32_t guarded = core_->service ? core_->service->address : core_->listen_address;
    if (auto r = install_syn_guard(guarded, core_->service_port); !r)
      log::warn("syn_guard_unavailable", {{"reason", r.error()}});
  }
  if (!core_->peer.enabled) {
    std::lock_guard lock(core_->mutex);
    core_->promote_locked("standalone node");  // serves from the first request on
  } else {
    core_->link = std::make_unique<GrpcLink>(*core_);
    if (auto r = core_->link->start(); !r) return r;
  }
  core_->control_thread = std::thread([c = core_.get()] { c->control_loop(); });
  return true;
}

void Replicator::stop() {
  if (!core_ || !core_->running.exchange(false)) return;
  {
    std::lock_guard lock(core_->mutex);
    if (core_->cancel_follow) core_->cancel_follow();
    core_->wake.notify_all();
  }
  if (core_->link) core_->link->stop();
  if (core_->control_thread.joinable()) core_->control_thread.join();
  if (core_->takeover_thread.joinable()) core_->takeover_thread.join();
  core_->link.reset();
}

void Replicator::upsert(const session::Session& s, bool durable, Acked acked) {
  proto::SessionRecord record = session::to_record(s);
  std::lock_guard lock(core_->mutex);
  if (core_->role.role() != Role::active) {
    post_ack(core_->host, acked, false);
    return;
  }
  auto change = core_->store->record_upsert(record, core_->role.epoch(), durable);
  if (!change) {
    log::error("store_write_failed",
               {{"index", std::to_string(s.index)}, {"reason", change.error()}});
    post_ack(core_->host, acked, false);
    return;
  }
  change->set_at_unix_ms(change->at_unix_ms() ? change->at_unix_ms() : now_unix_ms());
  core_->enqueue_locked(*change, std::move(acked));
}

void Replicator::remove(std::uint64_t index, Acked acked) {
  std::lock_guard lock(core_->mutex);
  if (core_->role.role() != Role::active) {
    post_ack(core_->host, acked, false);
    return;
  }
  auto change = core_->store->record_remove(index, core_->role.epoch(), true);
  if (!change) {
    log::error("store_write_failed",
               {{"index", std::to_string(index)}, {"reason", change.error()}});
    post_ack(core_->host, acked, false);
    return;
  }
  core_->enqueue_locked(*change, std::move(acked));
}

ReplicationStatus Replicator::status() const {
  std::lock_guard lock(core_->mutex);
  const Core& c = *core_;
  ReplicationStatus s;
  s.role = to_string(c.role.role());
  s.epoch = c.role.epoch();
  s.last_sequence = c.store->last_sequence();
  s.degraded = c.peer.enabled && c.role.role() == Role::active && (!c.follower || c.degraded);
  s.accepting_logins = !c.draining;
  s.failovers = c.failovers;
  if (!c.peer.enabled) {
    s.peer_state = "none";
  } else if (c.role.role() == Role::active) {
    s.peer_state = c.follower ? "standby connected" : "no standby";
    if (c.follower) s.lag_sequence = s.last_sequence - std::min(s.last_sequence, c.follower->acked);
    if (!c.unacked_at_ms.empty())
      s.lag_ms = static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, now_unix_ms() - c.unacked_at_ms.begin()->second));
  } else {
    s.peer_state = c.following ? "following" : (c.peer_reachable ? "connecting" : "unreachable");
    s.lag_sequence = c.leader_last_sequence - std::min(c.leader_last_sequence, s.last_sequence);
  }
  return s;
}

bool Replicator::accepting_logins() const {
  std::lock_guard lock(core_->mutex);
  return core_->role.role() == Role::active && !core_->draining;
}

void Replicator::request_failover(std::function<void(Result<std::string>)> done) {
  Core& c = *core_;
  if (!c.peer.enabled) {
    c.host.post([done] {
      done(fail("this node is standalone: it has no standby to hand over to (configure [peer])"));
    });
    return;
  }
  bool standby = [&] {
    std::lock_guard lock(c.mutex);
    return c.role.role() == Role::standby;
  }();
  // On the standby, ask the active to hand over to us; the link calls it off the node's thread.
  if (standby)
    c.link->ask_peer_to_hand_over(std::move(done));
  else
    c.begin_handover(std::move(done));
}

void Replicator::Core::begin_handover(std::function<void(Result<std::string>)> done) {
  std::unique_lock lock(mutex);
  Core& c = *this;
  auto answer = [&](Result<std::string> r) { c.host.post([done, r] { done(r); }); };
  if (c.role.role() != Role::active) return answer(fail("this node is not the active one"));
  if (!c.follower) return answer(fail("no standby is connected: a handover would lose the member"));
  if (c.draining) return answer(fail("a handover is already in progress"));
  c.draining = true;  // no new logins from now on
  c.handover_done = std::move(done);
  log::warn("failover_requested", {{"to", c.follower->info.node_id()}});
  // on_ack sends take_over once the standby has everything; nudge it in case it already has.
  c.wake.notify_all();
  auto f = c.follower;
  lock.unlock();
  c.on_ack(f, f->acked);
}

}  // namespace tandem::replication
