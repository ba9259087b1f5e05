#include "node/server/accounting_hooks.hpp"

#include "base/log.hpp"
#include "node/radius/accounting.hpp"
#include "node/session/session_record.hpp"

namespace tandem::server {
namespace {

radius::AcctEvent event(const radius::Accounting& a, proto::AccountingRecord::Status status,
                        const session::Session& s) {
  radius::AcctEvent e;
  e.status = status;
  e.now_unix = wall_seconds();
  e.nas_identifier = a.policy().nas_identifier;
  e.radius_class = s.radius_class;  // the Access-Accept's, echoed (RFC 2865 5.25)
  return e;
}

session::Counters as_session_counters(const radius::AcctCounters& c) {
  session::Counters out;
  out.bytes_rx = c.input_octets;
  out.bytes_tx = c.output_octets;
  out.packets_rx = c.input_packets;
  out.packets_tx = c.output_packets;
  return out;
}

proto::AccountingRecord start_record(const radius::Accounting& a, const session::Session& s,
                                     long long event_unix) {
  auto e = event(a, proto::AccountingRecord::START, s);
  e.now_unix = event_unix;
  return radius::make_record(s, {}, e);
}

// A Start no node wrote (docs/radius-accounting.md, "A Start that was never written"), made up
// here: dated at the login.
bool owes_start(const session::Session& s) {
  return s.acct_start_pending && !s.acct_start_asked && !s.acct_session_id.empty();
}
void log_owed_start(const session::Session& s) {
  log::info("accounting_start_owed", {{"index", std::to_string(s.index)},
                                      {"acct_session_id", s.acct_session_id},
                                      {"login_unix", std::to_string(s.login_time_unix)}});
}

// Queues the session's Start dated `event_unix`; once it is on this node's disk the session no
// longer owes one (and the standby hears so with the next flush).
void queue_start(Runtime& rt, session::SessionRef ref, long long event_unix) {
  const session::Session& s = *ref;
  rt.sessions.acct_start_asked(ref);
  rt.accounting->enqueue(start_record(*rt.accounting, s, event_unix),
                         [&rt, index = s.index, id = s.acct_session_id] {
                           auto now_ref = rt.sessions.find(index);
                           if (now_ref && now_ref->acct_session_id == id)
                             rt.sessions.acct_start_written(now_ref);
                         });
}

}  // namespace

void account_start(Runtime& rt, session::SessionRef ref) {
  if (!rt.accounting || !ref || !rt.serving()) return;
  const session::Session& s = *ref;
  queue_start(rt, ref, wall_seconds());
  rt.sessions.accounted(
      ref, s.acct_reported,
      radius::next_interim(rt.clock.now(), rt.accounting->policy().interim_interval));
}

void watch_session_ends(Runtime& rt) {
  rt.sessions.set_end_observer([&rt](const session::Session& s, session::EndReason reason) {
    // A login that was never recorded had no Start; a standby's mirror is never accounted.
    if (!rt.accounting || !rt.serving() || reason == session::EndReason::not_recorded ||
        s.acct_session_id.empty())
      return;
    // Taken over or restored, and ended before the sweep made up its Start: the Start first.
    if (owes_start(s)) {
      log_owed_start(s);
      rt.accounting->enqueue(start_record(*rt.accounting, s, s.login_time_unix));
    }
    auto e = event(*rt.accounting, proto::AccountingRecord::STOP, s);
    e.end_reason = reason;
    rt.accounting->enqueue(radius::make_record(s, radius::acct_counters(s.acct_reported), e));
  });
}

void account_interims(Runtime& rt) {
  if (!rt.accounting || !rt.serving()) return;
  const Duration interval = rt.accounting->policy().interim_interval;
  const bool interims = interval > Duration::zero() && rt.sessions.sink();
  const TimePoint now = rt.clock.now();
  std::vector<std::uint64_t> owed;
  std::vector<std::uint64_t> due;
  std::vector<std::uint64_t> unscheduled;
  rt.sessions.for_each([&](const session::Session& s) {
    if (s.acct_session_id.empty()) return;
    if (owes_start(s)) owed.push_back(s.index);
    if (!interims) return;
    if (!s.acct_next_interim)
      unscheduled.push_back(s.index);
    else if (*s.acct_next_interim <= now)
      due.push_back(s.index);
  });
  // A Start no node wrote (it crashed first, or its queue's disk refused it), found after a
  // failover or a restart: queued here, dated at the login, before any Interim of the session.
  // The old node may have written it after all (the news had not reached us) and send it when
  // it comes back: at worst a server sees the Start twice, never not at all.
  for (auto index : owed) {
    auto ref = rt.sessions.find(index);
    if (!ref) continue;
    log_owed_start(*ref);
    queue_start(rt, ref, ref->login_time_unix);
  }
  if (!interims) return;
  // Restored, or taken over in a failover: the first Interim one interval from now.
  for (auto index : unscheduled)
    if (auto ref = rt.sessions.find(index))
      rt.sessions.accounted(ref, ref->acct_reported, radius::next_interim(now, interval));
  for (auto index : due) {
    auto ref = rt.sessions.find(index);
    if (!ref) continue;
    const session::Session& s = *ref;
    auto record =
        radius::make_record(s, radius::acct_counters(s.acct_reported),
                            event(*rt.accounting, proto::AccountingRecord::INTERIM_UPDATE, s));
    const radius::AcctCounters reported{record.input_octets(), record.output_octets(),
                                        record.input_packets(), record.output_packets()};
    rt.sessions.accounted(ref, as_session_counters(reported), radius::next_interim(now, interval));
    rt.sessions.mark_sent(ref);
    const std::string id = s.acct_session_id;
    rt.sessions.sink()->upsert(session::to_record(s), false,
                               [&rt, index, id, record = std::move(record)](Persisted where) {
                                 if (where == Persisted::failed)
                                   return;  // no longer active, or the disk refused it
                                 // Ended meanwhile: its Stop (queued already) reports at least
                                 // these counters.
                                 auto now_ref = rt.sessions.find(index);
                                 if (!now_ref || now_ref->acct_session_id != id || !rt.accounting)
                                   return;
                                 rt.accounting->enqueue(record);
                               });
  }
}

}  // namespace tandem::server
