#include "director/member_watch.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "base/log.hpp"
#include "director/defaults.hpp"

namespace tandem::director {

MemberWatch::MemberWatch(boost::asio::io_context& io, etcd::Client& client, const Clock& clock,
                         Duration silent_after, DirectorStats& stats)
    : io_(io),
      client_(client),
      clock_(clock),
      silent_after_(silent_after),
      stats_(stats),
      retry_timer_(io),
      tick_timer_(io),
      backoff_(defaults::kRetryInitial) {}

void MemberWatch::start() {
  read();
  tick();
}

void MemberWatch::stop() {
  stopped_ = true;
  watch_.reset();
  retry_timer_.cancel();
  tick_timer_.cancel();
}

void MemberWatch::read() {
  if (stopped_ || reading_) return;
  reading_ = true;
  watch_.reset();
  client_.get_prefix(std::string(kMemberPrefix),
                     [weak = weak_from_this()](Result<etcd::Range> range) {
                       if (auto self = weak.lock()) self->on_read(std::move(range));
                     });
}

void MemberWatch::on_read(Result<etcd::Range> range) {
  reading_ = false;
  if (stopped_) return;
  if (!range) {
    lost_contact("reading " + std::string(kMemberPrefix) + ": " + range.error());
    return retry_later();
  }
  log_changes(view_.load(*range, clock_.now()));
  if (!reachable_) {
    reachable_ = true;
    log::info("etcd_synced", {{"members", std::to_string(view_.members().size())},
                              {"revision", std::to_string(range->revision)}});
  }
  backoff_ = defaults::kRetryInitial;
  std::weak_ptr<MemberWatch> weak = weak_from_this();
  watch_ = client_.watch_prefix(
      std::string(kMemberPrefix), range->revision + 1,
      [weak](std::vector<etcd::WatchEvent> events) {
        if (auto self = weak.lock()) self->on_events(events);
      },
      [weak](Error error) {
        if (auto self = weak.lock()) self->on_watch_end(error);
      });
}

void MemberWatch::on_events(const std::vector<etcd::WatchEvent>& events) {
  if (stopped_) return;
  log_changes(view_.apply(events, clock_.now()));
}

void MemberWatch::on_watch_end(const Error& error) {
  if (stopped_) return;
  watch_.reset();
  ++stats_.etcd_resyncs;
  log::warn("etcd_watch_ended", {{"reason", error.message}, {"code", to_string(error.code)}});
  // Events may have been missed between the end and a new watch: read everything again first.
  retry_later();
}

void MemberWatch::retry_later() {
  if (stopped_) return;
  retry_timer_.expires_after(backoff_);
  backoff_ = std::min<Duration>(backoff_ * 2, defaults::kRetryMax);
  retry_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->read();
  });
}

// Periodic: while a watch runs, a full read proves that etcd answers (a probe failure is only
// logged: the watch, or the silence bound, decides what follows); at every tick, say when the
// view turns silent or trusted.
void MemberWatch::tick() {
  if (stopped_) return;
  if (watch_ && !probing_ && !reading_) {
    probing_ = true;
    client_.get_prefix(std::string(kMemberPrefix),
                       [weak = weak_from_this()](Result<etcd::Range> range) {
                         auto self = weak.lock();
                         if (!self || self->stopped_) return;
                         self->probing_ = false;
                         if (!range) return self->lost_contact("probe: " + range.error());
                         if (!self->reachable_) {
                           self->reachable_ = true;
                           log::info("etcd_reachable", {});
                         }
                         self->log_changes(self->view_.load(*range, self->clock_.now()));
                       });
  }
  // Before the first answer, etcd_unreachable says it all.
  const bool silent = view_.last_contact() && view_.silent(clock_.now(), silent_after_);
  if (silent && !silent_logged_) {
    silent_logged_ = true;
    log::warn("members_silent",
              {{"detail", "no answer from etcd within silent_after: new clients get 503"},
               {"silent_after_ms", std::to_string(silent_after_.count())}});
  } else if (!silent && silent_logged_) {
    silent_logged_ = false;
    log::info("members_trusted", {{"members", std::to_string(view_.members().size())}});
  }
  tick_timer_.expires_after(std::min<Duration>(defaults::kProbeInterval, silent_after_));
  tick_timer_.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
    if (ec) return;
    if (auto self = weak.lock()) self->tick();
  });
}

void MemberWatch::lost_contact(const std::string& reason) {
  if (!reachable_ && view_.last_contact()) return;  // said once already
  reachable_ = false;
  log::warn("etcd_unreachable", {{"reason", reason}});
}

void MemberWatch::log_changes(const std::vector<ViewChange>& changes) {
  for (const auto& c : changes) {
    switch (c.kind) {
      case ViewChange::Kind::added:
        log::info("member_added", {{"member", c.id}, {"url", c.detail}});
        break;
      case ViewChange::Kind::updated: {
        const auto it = view_.members().find(c.id);
        if (it == view_.members().end()) break;
        const Member& m = it->second;
        // A member that starts or stops draining, turns degraded, or changes its URL or
        // capacity is worth an info line; the session count changing every second is not.
        (c.state_changed ? log::info : log::debug)(
            "member_updated", {{"member", c.id},
                               {"url", m.url},
                               {"sessions", std::to_string(m.sessions)},
                               {"capacity", std::to_string(m.capacity)},
                               {"draining", m.draining ? "true" : "false"},
                               {"degraded", m.degraded ? "true" : "false"}});
        break;
      }
      case ViewChange::Kind::removed:
        log::info("member_removed", {{"member", c.id}});
        break;
      case ViewChange::Kind::refused:
        ++stats_.records_refused;
        log::warn("record_refused", {{"key", c.key}, {"reason", c.detail}});
        break;
    }
  }
}

}  // namespace tandem::director
