// The replication core with an arbiter (docs/arbiter.md): a node serves only while the member's
// key in etcd is provably its own. The key is won in a campaign (a transaction), kept under a
// lease the arbiter renews, and given up for a planned handover. The active stops serving by
// itself at the last moment the other node could have won the key:
//  - the lease deadline: our lease cannot have expired in etcd before then;
//  - the witness deadline: our standby, which heard us recently, will not campaign before its
//    hold time has passed since (while it follows us, the key cannot change hands).
// The later of the two holds: the other node needs both before it can serve.
#include <algorithm>

#include "base/log.hpp"
#include "replication/core.hpp"

namespace tandem::replication {

void ReplicationCore::request_campaign(std::optional<PromotionReason> why, TimePoint now) {
  if (campaigning_) return;
  const bool reclaim = !why.has_value();
  if (!reclaim && now < next_campaign_) return;
  campaigning_ = true;
  campaign_for_ = why;
  fx_.campaign();
}

void ReplicationCore::on_campaign_result(Result<std::uint64_t> revision, TimePoint now) {
  if (!campaigning_) return;
  campaigning_ = false;
  const auto why = campaign_for_;
  campaign_for_.reset();
  if (!revision) {
    next_campaign_ = now + settings_.campaign_retry;
    // A standby that keeps losing says so once per distinct reason, not four times a second.
    if (revision.error() != last_denial_) {
      last_denial_ = revision.error();
      log::warn("arbiter_campaign_lost",
                {{"reason", revision.error()}, {"code", to_string(revision.code())}});
    }
    if (machine_.role() == Role::active && !why) step_down(StepDownReason::arbiter_lost, now);
    return;
  }
  last_denial_.clear();
  if (*revision == 0 || *revision > kMaxEpoch) {
    log::error("arbiter_campaign_refused", {{"reason", "key revision out of range"}});
    next_campaign_ = now + settings_.campaign_retry;
    return;
  }
  holding_key_ = true;
  log::info("arbiter_key_won", {{"revision", std::to_string(*revision)},
                                {"for", why ? to_string(*why) : "keeping the active role"}});
  if (machine_.role() == Role::active) return;
  if (!why) return;  // a reclaim that finds us standby: nothing to serve
  promote(*why, now, *revision);
  check_serving(now);  // the keeper learns the deadline before any client comes
  if (*why == PromotionReason::planned_handover) report_promotion();
}

void ReplicationCore::on_resigned(Result<void> result, TimePoint now) {
  if (!resigning_) return;
  resigning_ = false;
  if (!result) {
    log::warn("arbiter_resign_failed", {{"reason", result.error()}});
    handover_failed(fail(Errc::unavailable,
                         "the arbiter's key could not be handed over (" + result.error() +
                             "); still active"),
                    now);
    return;
  }
  holding_key_ = false;
  // Only the standby's word (the witness) keeps us serving until it reports its promotion.
  maybe_take_over();
  // The lease no longer counts: the keeper's deadline comes down to the witness's now, not at
  // the next tick (a process frozen in between would keep the address past it).
  check_serving(now);
}

void ReplicationCore::on_lease(TimePoint deadline, TimePoint now) {
  lease_deadline_ = deadline;
  check_serving(now);
}

void ReplicationCore::on_key_lost(TimePoint now) {
  lease_deadline_ = {};
  if (!holding_key_) return;
  holding_key_ = false;
  log::warn("arbiter_key_lost", {{"reason", "the lease expired in etcd"}});
  // An active tries to win the key back at once; if the other node has it, we stop.
  if (machine_.role() == Role::active) request_campaign(std::nullopt, now);
  // Meanwhile only the witness keeps us serving: without one we stop now, with one the keeper
  // learns its deadline now (the lease's is void).
  check_serving(now);
}

TimePoint ReplicationCore::serving_until() const {
  return std::max(holding_key_ ? lease_deadline_ : TimePoint{}, witness_deadline_);
}

void ReplicationCore::check_serving(TimePoint now) {
  if (!settings_.arbiter || machine_.role() != Role::active) return;
  const TimePoint until = serving_until();
  if (now >= until) {
    log::error("arbiter_serving_deadline_passed",
               {{"holding_key", holding_key_ ? "yes" : "no"},
                {"detail", "neither the lease nor the standby proves the key is ours"}});
    if (draining_) handover_failed(fail(Errc::unavailable, "the arbiter's key was lost"), now);
    return step_down(StepDownReason::arbiter_lost, now);
  }
  if (until != told_deadline_) {
    told_deadline_ = until;
    fx_.serving_deadline(until);
  }
}

void ReplicationCore::note_heard(std::uint64_t beat) {
  // The standby heard the heartbeat sent at `sent`: it will not doubt us before hold_time from
  // then (less a margin for the clocks' drift and the time the echo took).
  while (!beats_.empty() && beats_.front().first < beat) beats_.pop_front();
  if (beats_.empty() || beats_.front().first != beat) return;
  const TimePoint sent = beats_.front().second;
  witness_deadline_ =
      std::max(witness_deadline_, sent + settings_.hold_time - settings_.witness_margin);
}

void ReplicationCore::handover_failed(Result<std::string> result, TimePoint now) {
  draining_ = false;
  resigning_ = false;
  finish_handover(std::move(result));
  // We gave up the key for the standby that did not take it: win it back, or stop.
  if (settings_.arbiter && !holding_key_ && machine_.role() == Role::active)
    request_campaign(std::nullopt, now);
}

}  // namespace tandem::replication
