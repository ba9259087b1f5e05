#include "replication/replicator.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>

#include "base/defaults.hpp"
#include "base/log.hpp"
#include "replication/address_keeper.hpp"
#include "replication/address_owner.hpp"
#include "replication/arbiter.hpp"
#include "replication/core.hpp"
#include "replication/grpc_link.hpp"
#include "replication/member_publisher.hpp"

namespace tandem::replication {
namespace asio = boost::asio;

namespace {

CoreSettings core_settings(const Settings& c) {
  CoreSettings s;
  s.node_id = c.node_id;
  s.priority = static_cast<std::uint32_t>(c.peer.priority);
  s.standalone = !c.peer.enabled;
  s.hold_time = c.peer.hold_time;
  s.heartbeat_interval = c.peer.poll_interval;
  s.ack_timeout = defaults::kAckTimeout;
  s.defer_acks = true;  // the standby's group commit; GrpcLink flushes 2 ms after a change
  s.arbiter = c.arbiter.enabled && c.peer.enabled;
  // The standby's word holds an active until hold_time after a heartbeat it heard, less this
  // margin; a wider one makes an isolated active stop sooner (docs/arbiter.md).
  s.witness_margin = std::max(Duration{500}, c.peer.hold_time / 4);
  return s;
}

}  // namespace

struct Replicator::Impl final : public CoreEffects {
  Impl(const Settings& c, ReplicatorHost& h, std::unique_ptr<SessionStore> store, PeerKeys keys)
      : config(c),
        peer_keys(std::move(keys)),
        host(h),
        addresses(c),
        core(core_settings(c), std::move(store), *this, clock.now()),
        tick_timer(io),
        hello_timer(io) {}

  const Settings config;
  const PeerKeys peer_keys;
  ReplicatorHost& host;
  SteadyClock clock;
  asio::io_context io{1};
  AddressOwner addresses;
  AddressKeeper* keeper = nullptr;
  etcd::LeaseId told_keeper = 0;  // the lease the keeper knows of
  bool stopping = false;          // on the executor: no tick does anything any more
  // Cluster (with [arbiter]): the lease and key in etcd, the member record for the directors.
  std::unique_ptr<Arbiter> arbiter;
  std::unique_ptr<MemberPublisher> publisher;
  std::unordered_set<std::uint64_t> live;  // the member's sessions, for its published load
  std::atomic<bool> draining{false};
  std::atomic<std::uint64_t> session_limit{0};
  ReplicationCore core;
  std::unique_ptr<GrpcLink> link;
  asio::steady_timer tick_timer;
  asio::steady_timer hello_timer;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::thread thread;
  bool running = false;

  // The node's changes waiting for the executor, drained in bursts (group commit: one fsync per
  // burst, docs/replication.md). Filled from the node's thread.
  std::mutex queue_mutex;
  std::vector<ReplicationCore::Publication> queued;  // guarded by queue_mutex

  mutable std::mutex status_mutex;
  CoreStatus status_copy;          // guarded by status_mutex
  bool arbiter_reachable = false;  // guarded by status_mutex

  // At most this many changes share one fsync; the rest wait for the next pass, so that a burst
  // of thousands lets the tick and the arbiter's callbacks run in between.
  static constexpr std::size_t kMaxBurst = 256;

  // Queues one change; the first of a burst schedules the drain.
  void enqueue(ReplicationCore::Publication p) {
    bool first = false;
    {
      std::lock_guard lock(queue_mutex);
      first = queued.empty();
      queued.push_back(std::move(p));
    }
    if (first) schedule_drain();
  }
  void schedule_drain() {
    asio::post(io, [this] {
      if (drain()) schedule_drain();
      refresh();
    });
  }
  // Publishes up to kMaxBurst queued changes; true when more wait.
  bool drain() {
    std::vector<ReplicationCore::Publication> burst;
    bool more = false;
    {
      std::lock_guard lock(queue_mutex);
      const std::size_t n = std::min(queued.size(), kMaxBurst);
      burst.assign(std::make_move_iterator(queued.begin()),
                   std::make_move_iterator(queued.begin() + static_cast<std::ptrdiff_t>(n)));
      queued.erase(queued.begin(), queued.begin() + static_cast<std::ptrdiff_t>(n));
      more = !queued.empty();
    }
    for (const auto& p : burst) {
      if (p.upsert)
        live.insert(p.index);
      else
        live.erase(p.index);
    }
    if (!burst.empty()) core.publish_batch(std::move(burst), clock.now());
    return more;
  }

  // A planned handover begins once the node has handed over its unsent changes (counters), so
  // that they are on the standby before it takes over: the node's flush runs on its thread and
  // queues them, and post() publishes them before the core starts draining. Any thread.
  void start_handover(HandoverDone done) {
    host.post([this, done = std::move(done)]() mutable {
      host.flush_changes();
      post([this, done = std::move(done)]() mutable {
        core.begin_handover(std::move(done), clock.now());
      });
    });
  }

  // Runs `fn` on the executor, then refreshes the status the node reads.
  void post(std::function<void()> fn) {
    asio::post(io, [this, fn = std::move(fn)] {
      // The node's changes queued before `fn` go first, as they would have in one queue.
      while (drain()) {
      }
      fn();
      refresh();
    });
  }
  void refresh() {
    CoreStatus s = core.status(clock.now());
    const bool reachable = arbiter && arbiter->reachable();
    std::lock_guard lock(status_mutex);
    status_copy = s;
    arbiter_reachable = reachable;
  }

  // Time: the core's deadlines (hold time, acks, heartbeats, handover) are checked a few times
  // per heartbeat interval.
  Duration tick_period() const {
    return std::clamp(config.peer.poll_interval / 4, Duration{20}, Duration{100});
  }
  void arm_tick() {
    tick_timer.expires_after(tick_period());
    tick_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping) return;  // a tick queued before the cancel finds us stopping
      const TimePoint now = clock.now();
      core.tick(now);
      if (arbiter) arbiter->tick(now);
      tell_keeper_the_lease();
      if (publisher)
        publisher->tick(now, core.status(now),
                        {live.size(), draining.load(), session_limit.load()});
      refresh();
      arm_tick();
    });
  }
  // The keeper revokes the lease if the daemon dies (address_keeper.hpp): it hears of each new
  // one within a tick.
  void tell_keeper_the_lease() {
    const etcd::LeaseId lease = arbiter ? arbiter->lease() : 0;
    if (stopping || !keeper || lease == told_keeper) return;
    if (keeper->lease(lease)) told_keeper = lease;  // else the next tick tells it again
  }
  // The peer is asked who it is once per poll interval, unless we follow its stream.
  void arm_hello() {
    hello_timer.expires_after(config.peer.poll_interval);
    hello_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      if (!link->following()) link->hello();
      arm_hello();
    });
  }

  // --- CoreEffects (on the executor) ---
  void send_to_follower(StreamId id, proto::LeaderMessage msg) override {
    if (link) link->send_to_follower(id, std::move(msg));
  }
  void close_follower(StreamId id) override {
    if (link) link->close_follower(id);
  }
  void send_to_leader(proto::FollowerMessage msg) override {
    if (link) link->send_to_leader(std::move(msg));
  }
  void stop_following() override {
    if (link) link->stop_following();
  }
  void acknowledge(Acked acked, Persisted where) override {
    if (acked) host.post([acked = std::move(acked), where] { acked(where); });
  }
  void become_active(std::uint64_t epoch, std::uint64_t next_index,
                     std::vector<proto::SessionRecord> sessions) override {
    // The status the node reads says "active, accepting" before the node serves: a client that
    // reconnects in the first milliseconds must not meet the standby's refusal.
    refresh();
    host.post([&h = host, epoch, next_index] { h.become_active(epoch, next_index); });
    live.clear();
    for (const auto& r : sessions) live.insert(r.index());
    // Before the core reports a planned promotion, so the old active's clients find us at once.
    if (addresses.any()) addresses.take(sessions);
  }
  void become_standby(std::uint64_t epoch, bool handover) override {
    // The node resets its clients' transports while the address is still its own (a reset needs
    // it as its source); then the address goes, back on this executor.
    host.post([this, epoch, handover] {
      host.become_standby(epoch, handover);
      asio::post(io, [this] { addresses.release(); });
    });
  }
  void campaign() override {
    if (arbiter) arbiter->campaign();
  }
  void resign() override {
    if (arbiter) arbiter->resign();
  }
  void serving_deadline(TimePoint deadline) override {
    if (keeper) keeper->serving_until(deadline);
  }
  void reclaim_addresses(std::vector<proto::SessionRecord> sessions) override {
    if (addresses.any()) addresses.take(sessions);
  }
  void replica_upsert(const proto::SessionRecord& record) override {
    host.post([&h = host, record] { h.replica_upsert(record); });
  }
  void replica_remove(std::uint64_t index) override {
    host.post([&h = host, index] { h.replica_remove(index); });
  }
  void replica_reset(std::vector<proto::SessionRecord> records) override {
    host.post([&h = host, records = std::move(records)] { h.replica_reset(records); });
  }
  void handover_finished(HandoverDone done, Result<std::string> result) override {
    done(std::move(result));
  }
};

void install_syn_guard(const Settings& config) { AddressOwner(config).install_guard(); }

Result<std::unique_ptr<Replicator>> Replicator::create(const Settings& config, ReplicatorHost& host,
                                                       PeerKeys peer_keys) {
  auto store = SessionStore::open(config.state_dir + "/db");
  if (!store) return fail(store.code(), "session store: " + store.error());
  return std::unique_ptr<Replicator>(new Replicator(
      std::make_unique<Impl>(config, host, std::move(*store), std::move(peer_keys))));
}

Replicator::Replicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Replicator::~Replicator() { stop(); }

Result<std::vector<proto::SessionRecord>> Replicator::stored_sessions() const {
  return impl_->core.stored_sessions();  // before start(): the executor is not running yet
}

void Replicator::set_keeper(AddressKeeper* keeper) { impl_->keeper = keeper; }

Result<void> Replicator::start() {
  Impl& d = *impl_;
  // A node starts as standby: an address left behind by a crashed predecessor goes.
  if (d.config.peer.enabled) d.addresses.release();
  if (d.config.arbiter.enabled) {
    auto arbiter = Arbiter::create(
        d.config, [&d](std::function<void()> fn) { d.post(std::move(fn)); }, d.core, d.clock);
    if (!arbiter) return fail(arbiter.code(), arbiter.error());
    d.arbiter = std::move(*arbiter);
    d.publisher = std::make_unique<MemberPublisher>(d.config, *d.arbiter);
  }
  if (d.config.peer.enabled) {
    d.link = std::make_unique<GrpcLink>(
        d.config.peer, d.core, d.clock, [&d](std::function<void()> fn) { d.post(std::move(fn)); },
        [&d](HandoverDone done) { d.start_handover(std::move(done)); }, d.io);
    if (auto r = d.link->start(d.peer_keys); !r) return r;
  }
  d.work.emplace(d.io.get_executor());
  d.running = true;
  d.thread = std::thread([&d] { d.io.run(); });
  d.post([&d] {
    d.core.start(d.clock.now());
    d.arm_tick();
    if (d.link) {
      d.link->hello();
      d.arm_hello();
    }
  });
  return {};
}

void Replicator::stop() {
  if (!impl_ || !impl_->running) return;
  Impl& d = *impl_;
  d.running = false;
  // Shared, not on this stack: on a starved machine the work may run after the wait gave up.
  auto done = std::make_shared<std::promise<void>>();
  auto done_future = done->get_future();
  auto revoked = std::make_shared<std::future<void>>();
  d.post([&d, done, revoked] {
    d.stopping = true;
    d.core.shutdown();
    d.tick_timer.cancel();
    d.hello_timer.cancel();
    // The lease goes with us, and the key and member record with it: the peer need not wait.
    if (d.arbiter) *revoked = d.arbiter->revoke_for_shutdown();
    // So the keeper has nothing left to revoke when we exit (if we die before the revoke lands,
    // the key waits for the TTL, as before the keeper revoked anything).
    if (d.keeper && d.told_keeper != 0 && d.keeper->lease(0)) d.told_keeper = 0;
    done->set_value();
  });
  done_future.wait_for(std::chrono::seconds(10));
  if (revoked->valid()) revoked->wait_for(std::chrono::seconds(1));
  if (d.arbiter) {
    // The etcd client goes on the executor it delivers to.
    auto gone = std::make_shared<std::promise<void>>();
    auto gone_future = gone->get_future();
    asio::post(d.io, [&d, gone] {
      d.publisher.reset();
      d.arbiter.reset();
      gone->set_value();
    });
    gone_future.wait_for(std::chrono::seconds(5));
  }
  if (d.link) d.link->stop();  // needs the executor running
  d.work.reset();
  d.io.stop();
  if (d.thread.joinable()) d.thread.join();
  d.link.reset();
}

void Replicator::upsert(proto::SessionRecord record, bool durable, Acked acked) {
  const std::uint64_t index = record.index();
  impl_->enqueue({std::move(record), index, durable, std::move(acked)});
}

void Replicator::remove(std::uint64_t index, Acked acked) {
  impl_->enqueue({std::nullopt, index, true, std::move(acked)});
}

ReplicationStatus Replicator::status() const {
  CoreStatus c;
  {
    std::lock_guard lock(impl_->status_mutex);
    c = impl_->status_copy;
  }
  ReplicationStatus s;
  s.role = c.role;
  s.epoch = c.epoch;
  s.peer_state = to_string(c.peer);
  s.lag_sequence = c.lag_sequence;
  s.lag_ms = static_cast<std::uint64_t>(c.lag.count());
  s.degraded = c.degraded;
  s.accepting_logins = c.accepting_logins;
  s.last_sequence = c.last_sequence;
  s.failovers = c.failovers;
  s.arbiter = impl_->config.arbiter.enabled;
  s.member_id = impl_->config.member.id;
  s.holding_key = c.holding_key;
  s.serving_left_ms = static_cast<std::uint64_t>(c.serving_left.count());
  s.arbiter_endpoints = impl_->config.arbiter.endpoints;
  s.draining = impl_->draining.load();
  {
    std::lock_guard lock(impl_->status_mutex);
    s.arbiter_reachable = impl_->arbiter_reachable;
  }
  s.accepting_logins = s.accepting_logins && !s.draining;
  return s;
}

bool Replicator::accepting_logins() const { return !impl_->draining.load() && accepting_resumes(); }

bool Replicator::accepting_resumes() const {
  std::lock_guard lock(impl_->status_mutex);
  return impl_->status_copy.accepting_logins;  // the core's: serving and not handing over
}

void Replicator::set_session_limit(std::uint64_t sessions) { impl_->session_limit.store(sessions); }

void Replicator::set_draining(bool draining) {
  if (impl_->draining.exchange(draining) != draining)
    log::warn(draining ? "member_draining" : "member_undrained",
              {{"member", impl_->config.member.id}});
}

void Replicator::request_failover(std::function<void(Result<std::string>)> done) {
  Impl& d = *impl_;
  // The answer goes back to the node's thread, wherever it comes from.
  HandoverDone answer = [&h = d.host, done = std::move(done)](Result<std::string> r) {
    h.post([done, r = std::move(r)] { done(r); });
  };
  d.post([&d, answer = std::move(answer)]() mutable {
    if (d.core.role() == Role::standby && d.link)
      d.link->ask_peer_to_hand_over(std::move(answer));
    else
      d.start_handover(std::move(answer));
  });
}

}  // namespace tandem::replication
