// The replicator's shared state and its rules (see replicator_core.hpp): publishing changes,
// acknowledgements, promotion and step-down, the address takeover, and the leader/follower
// entry points the gRPC link calls.
#include "replication/replicator_core.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "node/common/log.hpp"
#include "node/config/defaults.hpp"
#include "node/session/address_pool.hpp"
#include "replication/grpc_link.hpp"

namespace tandem::replication {

namespace {

void post_ack(ReplicatorHost& host, const session::ReplicationSink::Acked& acked, bool ok) {
  if (acked) host.post([acked, ok] { acked(ok); });
}

}  // namespace

namespace {

std::optional<ServiceAddress> service_address(const std::string& cidr, const std::string& ifname) {
  if (cidr.empty()) return std::nullopt;
  auto a = parse_service_address(cidr, ifname);
  if (!a) return std::nullopt;  // the config loader validated it already
  return *a;
}

std::uint16_t listen_port(const std::string& listen) {
  auto colon = listen.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(listen.substr(colon + 1)));
}

}  // namespace

Replicator::Core::Core(const config::Config& config, ReplicatorHost& h,
                       std::unique_ptr<SessionStore> s)
    : node_id(config.node_id),
      peer(config.peer),
      ack_timeout(defaults::kAckTimeout),
      service(service_address(config.service_address, config.service_interface)),
      inside(service_address(config.inside_address, config.inside_interface)),
      service_port(listen_port(config.listen)),
      listen_address(
          session::parse_ipv4(config.listen.substr(0, config.listen.rfind(':'))).value_or(0)),
      host(h),
      store(std::move(s)),
      role({config.node_id, static_cast<std::uint32_t>(config.peer.priority)}, store->epoch(),
           config.peer.hold_time, clock.now()) {}

proto::NodeInfo Replicator::Core::self_info_locked() const {
  proto::NodeInfo n;
  n.set_node_id(node_id);
  n.set_role(to_string(role.role()));
  n.set_epoch(role.epoch());
  n.set_priority(static_cast<std::uint32_t>(peer.priority));
  n.set_last_sequence(store->position().sequence);
  n.set_last_epoch(store->position().epoch);
  n.set_accepting_logins(!draining);
  n.set_want_snapshot(!store->quarantined().empty());
  return n;
}

proto::NodeInfo Replicator::Core::self_info() const {
  std::lock_guard lock(mutex);
  return self_info_locked();
}

void Replicator::Core::enqueue_locked(const proto::Change& change,
                                      session::ReplicationSink::Acked acked) {
  if (follower && !follower->gone) {
    proto::LeaderMessage msg;
    *msg.mutable_change() = change;
    follower->outbound.push_back(std::move(msg));
    unacked_at_ms[change.seq()] = change.at_unix_ms();
    if (acked) waiters.push_back({change.seq(), clock.now() + ack_timeout, std::move(acked)});
    wake.notify_all();
    return;
  }
  // No standby to wait for: the change is on our disk; the client need not wait (degraded).
  if (peer.enabled) degraded = true;
  post_ack(host, acked, false);
}

void Replicator::Core::fail_waiters_locked() {
  for (auto& w : waiters) post_ack(host, w.acked, false);
  waiters.clear();
  unacked_at_ms.clear();
}

void Replicator::Core::promote_locked(const char* reason) {
  if (role.role() == Role::active) return;
  const std::uint64_t epoch = role.next_epoch();
  if (auto r = store->set_epoch(epoch); !r) {
    log::error("promotion_failed", {{"reason", r.error()}});
    return;
  }
  // A failover is taking over from an active; a start-up election or a standalone start is not.
  const std::string why = reason;
  if (why != "elected at start-up" && why != "standalone node") ++failovers;
  role.promoted(epoch);
  remove_quarantined_locked(epoch);
  degraded = peer.enabled;  // until a standby follows us
  draining = false;
  if (cancel_follow) cancel_follow();
  log::warn("role_change", {{"role", "active"},
                            {"epoch", std::to_string(epoch)},
                            {"reason", reason},
                            {"node", node_id},
                            {"last_sequence", std::to_string(store->last_sequence())}});
  const std::uint64_t next_index = store->next_session_index();
  host.post([&h = host, epoch, next_index] { h.become_active(epoch, next_index); });
  if (service || inside) {
    // Off this thread and off the lock: a few system calls per session for the tickles.
    auto records = store->load_sessions();
    if (takeover_thread.joinable()) takeover_thread.join();
    takeover_thread = std::thread(
        [this, records = records ? std::move(*records) : std::vector<proto::SessionRecord>{}] {
          take_service_address(records);
        });
  }
}

void Replicator::Core::take_service_address(const std::vector<proto::SessionRecord>& sessions) {
  std::lock_guard address_lock(address_mutex);
  std::uint64_t epoch = 0;
  {
    // A step-down may have come first: its release already ran, and must not be undone.
    std::lock_guard lock(mutex);
    if (role.role() != Role::active) return;
    epoch = role.epoch();
  }
  for (const auto* a : {&service, &inside}) {
    if (!*a) continue;
    if (auto r = add_address(**a); !r) {
      log::error("service_address_failed", {{"address", (*a)->text()}, {"reason", r.error()}});
      continue;
    }
    if (auto r = announce(**a, 3); !r)
      log::warn("gratuitous_arp_failed", {{"address", (*a)->text()}, {"reason", r.error()}});
    log::info("service_address_taken", {{"address", (*a)->text()}, {"interface", (*a)->interface}});
  }
  {
    std::lock_guard state(address_state_mutex);
    address_taken_epoch = epoch;
  }
  address_cv.notify_all();
  if (!service) return;
  std::size_t tickled = 0;
  for (const auto& rec : sessions) {
    for (const auto& t : rec.tunnels()) {
      if (t.kind() != proto::TunnelRecord::SSL || t.public_port() == 0) continue;
      auto client = session::parse_ipv4(t.public_ip());
      if (!client) continue;
      if (tickle(service->address, service_port, *client,
                 static_cast<std::uint16_t>(t.public_port())))
        ++tickled;
    }
  }
  log::info("clients_tickled", {{"connections", std::to_string(tickled)}});
}

void Replicator::Core::release_service_address() {
  std::lock_guard address_lock(address_mutex);
  for (const auto* a : {&service, &inside}) {
    if (!*a) continue;
    if (auto r = remove_address(**a); !r)
      log::error("service_address_release_failed",
                 {{"address", (*a)->text()}, {"reason", r.error()}});
    else
      log::info("service_address_released", {{"address", (*a)->text()}});
  }
}

void Replicator::Core::step_down_locked(const char* reason, bool handover) {
  if (role.role() != Role::active) return;
  // During a handover the new active's heartbeat can arrive before its promotion report: that
  // is the handover completing, not a conflict.
  if (draining) {
    handover = true;
    if (handover_done) {
      auto done = std::move(handover_done);
      handover_done = nullptr;
      std::string msg = "handed over to the standby (it is active now)";
      host.post([done, msg] { done(msg); });
    }
  }
  role.stepped_down(clock.now());
  if (follower) {
    follower->gone = true;
    follower.reset();
  }
  fail_waiters_locked();
  draining = false;
  wake.notify_all();
  const std::uint64_t epoch = role.epoch();
  log::warn("role_change", {{"role", "standby"},
                            {"epoch", std::to_string(epoch)},
                            {"reason", reason},
                            {"node", node_id}});
  // The node drops its client transports first (a handover resets them, so clients come back
  // at once to the new active, which already holds the address), then the address goes.
  // The node resets its clients' transports while the address is still its own (a reset needs
  // it as its source), then gives the address up. After a handover the new active announced
  // the address before it reported its promotion, so the clients' immediate reconnects go there.
  host.post([this, epoch, handover] {
    host.become_standby(epoch, handover);
    release_service_address();
  });
}

void Replicator::Core::apply_action_locked(Action action, const char* reason) {
  if (action == Action::promote)
    promote_locked(reason);
  else if (action == Action::step_down)
    step_down_locked(reason, false);
}

void Replicator::Core::on_peer_info(const proto::NodeInfo& info, bool is_heartbeat) {
  std::lock_guard lock(mutex);
  peer_reachable = true;
  PeerState p{{info.node_id(), info.priority()}, info.role() == "active", info.epoch()};
  if (is_heartbeat) leader_last_sequence = info.last_sequence();
  apply_action_locked(role.on_peer(p, clock.now()),
                      p.active ? "a peer with a higher epoch is active" : "elected at start-up");
}

void Replicator::Core::on_peer_refused() {
  std::lock_guard lock(mutex);
  peer_reachable = false;
  apply_action_locked(role.on_peer_refused(clock.now()), "the active's process is gone");
}

void Replicator::Core::on_peer_unreachable() {
  std::lock_guard lock(mutex);
  peer_reachable = false;
}

void Replicator::Core::report_quarantine_locked() {
  for (const auto& row : store->quarantined()) {
    if (!reported_quarantine.insert(row.index).second) continue;
    log::error("session_row_quarantined", {{"index", std::to_string(row.index)},
                                           {"reason", row.reason},
                                           {"detail", "the session is skipped; a copy is kept"}});
  }
}

void Replicator::Core::remove_quarantined_locked(std::uint64_t epoch) {
  // The active's word is the member's history: a session it cannot read is removed there, so
  // the standby drops it too and its address is never handed out twice.
  for (const auto& row : store->quarantined()) {
    auto change = store->record_remove(row.index, epoch, /*durable=*/true);
    if (!change) {
      log::error("store_write_failed",
                 {{"index", std::to_string(row.index)}, {"reason", change.error()}});
      continue;
    }
    log::warn("quarantined_session_removed", {{"index", std::to_string(row.index)}});
    enqueue_locked(*change, nullptr);
  }
}

std::shared_ptr<Follower> Replicator::Core::attach_follower(const proto::NodeInfo& start) {
  std::lock_guard lock(mutex);
  if (role.role() != Role::active) return nullptr;
  if (follower) follower->gone = true;  // a reconnecting standby replaces its old stream
  auto f = std::make_shared<Follower>();
  f->info = start;
  // First a heartbeat: the standby learns where our log ends before the backlog arrives, so its
  // own lag is right from the start.
  {
    proto::LeaderMessage hb;
    *hb.mutable_heartbeat()->mutable_node() = self_info_locked();
    f->outbound.push_back(std::move(hb));
  }
  Position from{start.last_sequence(), start.last_epoch()};
  // Replaying changes costs a synced write each on the standby; past a small backlog a snapshot
  // is far cheaper (100k sessions: 0.6 s against 27 s measured).
  constexpr std::size_t kMaxReplay = 1000;
  auto catchup = store->changes_after(from, kMaxReplay + 1);
  if (catchup && catchup->need_snapshot && !catchup->why.empty())
    log::info("replication_catchup_by_snapshot", {{"reason", catchup->why}});
  if (catchup && !start.want_snapshot() && !catchup->need_snapshot &&
      catchup->changes.size() <= kMaxReplay) {
    for (auto& change : catchup->changes) {
      proto::LeaderMessage msg;
      *msg.mutable_change() = std::move(change);
      f->outbound.push_back(std::move(msg));
    }
    f->acked = start.last_sequence();
  } else {
    auto snap = store->snapshot();
    report_quarantine_locked();
    if (!snap) {
      log::error("snapshot_failed", {{"reason", snap.error()}});
      return nullptr;
    }
    // Chunks keep each message far below gRPC's message size limit.
    constexpr std::size_t kChunk = 1000;
    std::size_t i = 0;
    do {
      proto::LeaderMessage msg;
      auto* s = msg.mutable_snapshot();
      for (std::size_t n = 0; n < kChunk && i < snap->sessions.size(); ++n, ++i)
        *s->add_sessions() = snap->sessions[i];
      if (i == snap->sessions.size()) {
        s->set_last(true);
        s->set_last_sequence(snap->position.sequence);
        s->set_last_epoch(snap->position.epoch);
        s->set_epoch(snap->epoch);
        s->set_next_session_index(snap->next_session_index);
      }
      f->outbound.push_back(std::move(msg));
    } while (i < snap->sessions.size());
    f->acked = 0;
    log::info("replication_snapshot",
              {{"sessions", std::to_string(snap->sessions.size())}, {"to", start.node_id()}});
  }
  follower = f;
  // Degraded means "a change could be lost with this node": no longer once the standby has
  // everything (acks clear it when it catches up from a snapshot or a backlog).
  if (f->acked >= store->last_sequence()) degraded = false;
  log::info("standby_connected", {{"node", start.node_id()},
                                  {"its_sequence", std::to_string(start.last_sequence())},
                                  {"our_sequence", std::to_string(store->last_sequence())}});
  wake.notify_all();
  return f;
}

void Replicator::Core::on_ack(const std::shared_ptr<Follower>& f, std::uint64_t seq) {
  std::lock_guard lock(mutex);
  if (f != follower) return;
  f->acked = std::max(f->acked, seq);
  while (!waiters.empty() && waiters.front().seq <= f->acked) {
    post_ack(host, waiters.front().acked, true);
    waiters.pop_front();
  }
  unacked_at_ms.erase(unacked_at_ms.begin(), unacked_at_ms.upper_bound(f->acked));
  if (f->acked >= store->last_sequence()) degraded = false;
  if (draining && !f->take_over_sent && f->acked >= store->last_sequence()) {
    // Everything we have is on the standby's disk: hand over.
    proto::LeaderMessage msg;
    *msg.mutable_take_over() = self_info_locked();
    f->outbound.push_back(std::move(msg));
    f->take_over_sent = true;
    wake.notify_all();
  }
}

void Replicator::Core::on_follower_promoted(const std::shared_ptr<Follower>& f,
                                            const proto::NodeInfo& info) {
  std::lock_guard lock(mutex);
  if (f != follower) return;
  role.on_peer({{info.node_id(), info.priority()}, true, info.epoch()}, clock.now());
  auto done = std::move(handover_done);
  handover_done = nullptr;
  step_down_locked("planned handover", true);
  if (done) {
    std::string msg =
        "handed over to " + info.node_id() + " (epoch " + std::to_string(info.epoch()) + ")";
    host.post([done, msg] { done(msg); });
  }
}

void Replicator::Core::detach_follower(const std::shared_ptr<Follower>& f) {
  std::lock_guard lock(mutex);
  f->gone = true;
  if (f != follower) return;
  follower.reset();
  fail_waiters_locked();
  if (role.role() == Role::active && peer.enabled) degraded = true;
  if (draining) {
    draining = false;
    if (handover_done) {
      auto done = std::move(handover_done);
      handover_done = nullptr;
      host.post([done] { done(fail("the standby went away during the handover")); });
    }
  }
  log::warn("standby_disconnected", {{"node", f->info.node_id()}});
  wake.notify_all();
}

Result<bool> Replicator::Core::apply_change(const proto::Change& change) {
  std::lock_guard lock(mutex);
  if (role.role() != Role::standby) return fail("not a standby");
  auto r = store->apply(change);
  if (!r) return r;
  if (change.has_upsert()) {
    auto rec = change.upsert();
    host.post([&h = host, rec] { h.replica_upsert(rec); });
  } else {
    auto index = change.remove_index();
    host.post([&h = host, index] { h.replica_remove(index); });
  }
  return true;
}

Result<bool> Replicator::Core::install_snapshot(const Snapshot& snap) {
  std::lock_guard lock(mutex);
  if (role.role() != Role::standby) return fail("not a standby");
  auto r = store->install_snapshot(snap);
  if (!r) return r;
  auto records = snap.sessions;
  host.post([&h = host, records = std::move(records)] { h.replica_reset(records); });
  log::info("replication_snapshot_installed",
            {{"sessions", std::to_string(snap.sessions.size())},
             {"sequence", std::to_string(snap.position.sequence)}});
  return true;
}

proto::NodeInfo Replicator::Core::take_over() {
  proto::NodeInfo info;
  {
    std::lock_guard lock(mutex);
    // The follow thread still needs this stream, to report the promotion: don't cancel it.
    cancel_follow = nullptr;
    if (role.on_handover(clock.now()) == Action::promote) promote_locked("planned handover");
    info = self_info_locked();
  }
  if (service || inside) {
    // Report only once the address is ours and announced (bounded: a stuck netlink call must not
    // hold the member hostage; the old active then still hands over).
    std::unique_lock state(address_state_mutex);
    address_cv.wait_for(state, std::chrono::seconds(2),
                        [&] { return address_taken_epoch >= info.epoch(); });
  }
  return info;
}

void Replicator::Core::control_loop() {
  const Duration tick = std::max(Duration{20}, std::min(Duration{100}, peer.poll_interval / 4));
  while (running) {
    std::this_thread::sleep_for(tick);
    std::lock_guard lock(mutex);
    if (!peer.enabled) {
      promote_locked("standalone node");
      continue;
    }
    apply_action_locked(role.on_tick(clock.now()), "the active was silent for hold_time");
    // Waits for the standby are bounded: past the deadline the client gets its answer anyway.
    const TimePoint now = clock.now();
    while (!waiters.empty() && waiters.front().deadline <= now) {
      post_ack(host, waiters.front().acked, false);
      waiters.pop_front();
      if (!degraded)
        log::warn("replication_degraded", {{"reason", "standby acknowledgement timed out"}});
      degraded = true;
    }
  }
}

}  // namespace tandem::replication
