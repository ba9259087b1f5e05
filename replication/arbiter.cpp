#include "replication/arbiter.hpp"

#include <algorithm>
#include <future>

#include "base/log.hpp"
#include "replication/core.hpp"

namespace tandem::replication {
namespace {

constexpr Duration kGrantRetry{250};
constexpr Duration kRenewRetry{200};

etcd::ClientSettings client_settings(const ArbiterSettings& a) {
  etcd::ClientSettings s;
  s.endpoints = a.endpoints;
  s.ca = a.ca;
  s.certificate = a.certificate;
  s.private_key = a.private_key;
  // A renewal that takes longer than a third of the TTL is as good as lost.
  s.request_timeout = std::clamp(a.lease_ttl / 3, Duration{200}, Duration{1000});
  return s;
}

}  // namespace

std::string active_key(const std::string& member_id) {
  return "/tandem/member/" + member_id + "/active";
}
std::string record_key(const std::string& member_id) {
  return "/tandem/member/" + member_id + "/record";
}

Result<std::unique_ptr<Arbiter>> Arbiter::create(const Settings& config, etcd::Post post,
                                                 ReplicationCore& core, const Clock& clock) {
  auto client = etcd::Client::create(client_settings(config.arbiter), std::move(post));
  if (!client) return fail(client.code(), "arbiter: " + client.error());
  return std::unique_ptr<Arbiter>(new Arbiter(config, std::move(*client), core, clock));
}

Arbiter::Arbiter(const Settings& config, std::unique_ptr<etcd::Client> client,
                 ReplicationCore& core, const Clock& clock)
    : node_id_(config.node_id),
      key_(active_key(config.member.id)),
      ttl_(config.arbiter.lease_ttl),
      margin_(config.arbiter.lease_ttl / 8 + Duration{50}),
      client_(std::move(client)),
      core_(core),
      clock_(clock) {}

Arbiter::~Arbiter() = default;

void Arbiter::note(const Error& e, const char* what) {
  reachable_ = false;
  const std::string line = std::string(what) + ": " + e.message;
  if (line == last_failure_) return;
  last_failure_ = line;
  log::warn("arbiter_unreachable", {{"during", what}, {"reason", e.message}});
}

void Arbiter::tick(TimePoint now) {
  if (lease_ == 0 && !granting_ && now >= next_grant_) grant(now);
  if (lease_ != 0 && !renewing_ && now - last_renewal_asked_ >= ttl_ / 3) keep_alive(now);
}

void Arbiter::grant(TimePoint now) {
  granting_ = true;
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(ttl_);
  client_->grant(secs, [this, asked = now](Result<etcd::LeaseId> r) {
    granting_ = false;
    const TimePoint t = clock_.now();
    if (!r) {
      note(r.failure(), "lease grant");
      next_grant_ = t + kGrantRetry;
      if (campaign_waiting_) {
        campaign_waiting_ = false;
        core_.on_campaign_result(fail(r.code(), "no lease from etcd: " + r.error()), t);
      }
      return;
    }
    reachable_ = true;
    last_failure_.clear();
    lease_ = *r;
    last_renewal_asked_ = asked;
    log::info("arbiter_lease_granted", {{"lease", std::to_string(lease_)},
                                        {"ttl_ms", std::to_string(ttl_.count())}});
    core_.on_lease(asked + ttl_ - margin_, t);
    if (campaign_waiting_) {
      campaign_waiting_ = false;
      run_campaign();
    }
  });
}

void Arbiter::keep_alive(TimePoint now) {
  renewing_ = true;
  const etcd::LeaseId lease = lease_;
  client_->keep_alive(lease, [this, lease, asked = now](Result<std::chrono::seconds> r) {
    renewing_ = false;
    const TimePoint t = clock_.now();
    if (lease != lease_) return;  // an answer about a lease we no longer use
    if (!r && r.code() == Errc::not_found) {
      // Gone in etcd, and our key with it.
      log::warn("arbiter_lease_lost", {{"lease", std::to_string(lease)}});
      lease_ = 0;
      core_.on_key_lost(t);
      return;
    }
    if (!r) {
      note(r.failure(), "lease keep-alive");
      last_renewal_asked_ = t - ttl_ / 3 + kRenewRetry;  // try again soon
      return;
    }
    reachable_ = true;
    last_failure_.clear();
    // etcd restarted the lease's full TTL when the request reached it, after `asked`.
    core_.on_lease(asked + ttl_ - margin_, t);
  });
  last_renewal_asked_ = now;
}

void Arbiter::campaign() {
  if (lease_ == 0) {
    campaign_waiting_ = true;
    if (!granting_) grant(clock_.now());
    return;
  }
  run_campaign();
}

void Arbiter::run_campaign() {
  // Create the key under our lease if nobody holds it; otherwise read who does.
  etcd::Txn txn;
  txn.compares.push_back({key_, etcd::Compare::Target::create_revision,
                          etcd::Compare::Op::equal, 0, {}});
  txn.success.emplace_back(etcd::Put{key_, node_id_, lease_});
  txn.failure.emplace_back(etcd::Get{key_});
  const etcd::LeaseId lease = lease_;
  client_->txn(std::move(txn), [this, lease](Result<etcd::TxnResult> r) {
    const TimePoint t = clock_.now();
    if (!r) {
      note(r.failure(), "campaign");
      return core_.on_campaign_result(fail(r.code(), "etcd: " + r.error()), t);
    }
    reachable_ = true;
    if (r->succeeded) return core_.on_campaign_result(static_cast<std::uint64_t>(r->revision), t);
    const auto& found = r->responses.empty() ? std::vector<etcd::KeyValue>{} : r->responses[0];
    if (found.empty())  // released between the compare and the read: try again
      return core_.on_campaign_result(fail(Errc::busy, "the key changed hands; try again"), t);
    const auto& holder = found[0];
    if (holder.value == node_id_ && holder.lease == lease && lease != 0)
      return core_.on_campaign_result(static_cast<std::uint64_t>(holder.create_revision), t);
    core_.on_campaign_result(fail(Errc::busy, "the key is held by " + holder.value), t);
  });
}

void Arbiter::resign() {
  // Delete the key only if it is still ours: never someone else's.
  etcd::Txn txn;
  txn.compares.push_back({key_, etcd::Compare::Target::lease, etcd::Compare::Op::equal, lease_, {}});
  txn.success.emplace_back(etcd::Delete{key_});
  client_->txn(std::move(txn), [this](Result<etcd::TxnResult> r) {
    const TimePoint t = clock_.now();
    if (!r) {
      note(r.failure(), "resign");
      return core_.on_resigned(fail(r.code(), "etcd: " + r.error()), t);
    }
    log::info("arbiter_key_released", {{"deleted", r->succeeded ? "yes" : "not ours already"}});
    core_.on_resigned({}, t);
  });
}

std::future<void> Arbiter::revoke_for_shutdown() {
  auto done = std::make_shared<std::promise<void>>();
  auto future = done->get_future();
  if (lease_ == 0) {
    done->set_value();
    return future;
  }
  client_->revoke(lease_, [done](Result<void>) { done->set_value(); });
  lease_ = 0;
  return future;
}

}  // namespace tandem::replication
