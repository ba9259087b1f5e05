#include "node/session/session_table.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/session/timers.hpp"

namespace tandem::session {

const char* to_string(TokenRefusal r) {
  switch (r) {
    case TokenRefusal::none:
      return "none";
    case TokenRefusal::malformed:
      return "malformed token";
    case TokenRefusal::unknown_session:
      return "no such session (ended or never existed)";
    case TokenRefusal::wrong_secret:
      return "token secret does not match the session";
  }
  return "unknown";
}

SessionTable::SessionTable(AddressPool pool, const Clock& clock, std::optional<AddressPool6> pool6)
    : pool_(std::move(pool)), clock_(clock), pool6_(std::move(pool6)) {}

bool SessionTable::claim_ip6(Session& s) {
  if (!s.ip6) return true;
  if (!pool6_ || !pool6_->claim(*s.ip6)) return false;
  by_ip6_[*s.ip6] = &s;
  return true;
}

void SessionTable::release_ip6(const Session& s) {
  if (!s.ip6 || !pool6_) return;
  auto it = by_ip6_.find(*s.ip6);
  if (it == by_ip6_.end() || it->second != &s) return;  // not this session's lease
  by_ip6_.erase(it);
  pool6_->release(*s.ip6);
}

Result<Created> SessionTable::create(const NewSession& req) {
  // The user's oldest sessions that this login replaces (S14). Oldest first: the map is ordered
  // by index, and indexes only grow.
  std::vector<std::uint64_t> replaced;
  if (req.simultaneous_logins > 0) {
    for (auto& [index, s] : sessions_)
      if (s->user == req.user) replaced.push_back(index);
    const std::size_t keep = static_cast<std::size_t>(req.simultaneous_logins) - 1;
    replaced.resize(replaced.size() > keep ? replaced.size() - keep : 0);
  }
  // Checked before anything is ended: a refused login replaces nothing.
  if (req.max_sessions > 0 && sessions_.size() - replaced.size() >= req.max_sessions)
    return fail(Errc::unavailable,
                "session limit reached (max_sessions " + std::to_string(req.max_sessions) + ")");
  for (std::uint64_t index : replaced) end(index, EndReason::simultaneous_login, true);
  std::optional<std::uint32_t> ip;
  if (req.ip) {
    // RADIUS named the address (Framed-IP-Address): that one or none, never one twice.
    if (!pool_.claim(*req.ip))
      return fail(Errc::duplicate, "Framed-IP-Address " + net::format_ipv4(*req.ip) +
                                       " is in use or not leasable from the pool");
    ip = req.ip;
  } else {
    ip = pool_.allocate();
  }
  if (!ip) return fail("address pool exhausted");
  std::optional<net::Ipv6Addr> ip6;
  if (pool6_) {
    ip6 = pool6_->allocate();
    if (!ip6) {
      pool_.release(*ip);
      return fail("IPv6 address pool exhausted");
    }
  }

  auto s = std::make_unique<Session>();
  s->index = next_index_++;
  s->user = req.user;
  s->tunnel_group = req.tunnel_group;
  s->policy = req.policy;
  s->ip = *ip;
  s->ip6 = ip6;
  s->login_time_unix = wall_seconds();
  s->login_time = clock_.now();
  s->public_ip = req.public_ip;
  s->public_port = req.public_port;
  s->client_type = req.client_type;
  s->client_os = req.client_os;
  s->auth_method = req.auth_method;
  s->radius_class = req.radius_class;
  s->policy_override = req.policy_override;
  s->session_timeout_override = req.session_timeout_override;
  s->idle_timeout_override = req.idle_timeout_override;
  s->inactive_since = clock_.now();  // no SSL tunnel until the CONNECT
  IssuedToken token = issue_token(s->index);
  s->token_hash = token.hash;
  s->acct_session_id = new_acct_session_id();
  s->acct_start_pending = req.accounted;
  s->acct_start_asked = req.accounted;  // the login queues it once recorded, not the sweep

  Session* raw = s.get();
  by_ip_[raw->ip] = raw;
  if (raw->ip6) by_ip6_[*raw->ip6] = raw;
  sessions_.emplace(raw->index, std::move(s));
  return Created{SessionRef(raw), std::move(token.text)};
}

SessionRef SessionTable::find_by_token(std::string_view token, TokenRefusal& why) {
  auto parsed = parse_token(token);
  if (!parsed) {
    why = TokenRefusal::malformed;
    return {};
  }
  SessionRef s = find(parsed->index);
  if (!s) {
    why = TokenRefusal::unknown_session;
    return {};
  }
  if (!hashes_equal(s->token_hash, parsed->secret_hash)) {
    why = TokenRefusal::wrong_secret;
    return {};
  }
  why = TokenRefusal::none;
  return s;
}

SessionRef SessionTable::find(std::uint64_t index) {
  auto it = sessions_.find(index);
  return SessionRef(it == sessions_.end() ? nullptr : it->second.get());
}

SessionRef SessionTable::find_by_ip(std::uint32_t ip) {
  auto it = by_ip_.find(ip);
  return SessionRef(it == by_ip_.end() ? nullptr : it->second);
}

SessionRef SessionTable::find_by_ip6(const net::Ipv6Addr& ip6) {
  auto it = by_ip6_.find(ip6);
  return SessionRef(it == by_ip6_.end() ? nullptr : it->second);
}

void SessionTable::apply_ssl(Session& s, TunnelInfo info, TimePoint now) {
  s.ssl_info = std::move(info);
  // S11: a resumed tunnel starts with full timers, and the session follows the client to where
  // it is now.
  s.ssl_info.last_rx = s.ssl_info.last_data = s.ssl_info.last_dpd_sent = now;
  s.public_ip = s.ssl_info.public_ip;
  s.public_port = s.ssl_info.public_port;
  s.inactive_since.reset();
  s.dirty = true;
}

bool SessionTable::attach_ssl(SessionRef ref, std::shared_ptr<Transport> transport,
                              TunnelInfo info) {
  Session& s = *ref.s_;
  close_dtls(s, EndReason::replaced);
  if (s.ssl) {
    auto old = std::move(s.ssl);
    old->close(EndReason::replaced, false);
  }
  // A session that had an SSL tunnel (here, or on the node it was replicated from) resumes.
  const bool resumed = s.ssl_info.connected_at_unix != 0;
  if (resumed) ++s.resumes;
  s.ssl = std::move(transport);
  s.downstream = Carrier::ssl;  // a new connection: DTLS comes with it later
  apply_ssl(s, std::move(info), clock_.now());
  return resumed;
}

Session SessionTable::with_ssl(SessionRef ref, const TunnelInfo& info) const {
  Session copy = *ref;
  apply_ssl(copy, info, clock_.now());
  return copy;
}

void SessionTable::detach_ssl(SessionRef ref, const Transport* transport, EndReason reason) {
  Session& s = *ref.s_;
  if (!s.ssl || s.ssl.get() != transport) return;
  s.ssl.reset();
  s.dirty = true;
  close_dtls(s, reason);
  s.downstream = Carrier::ssl;
  s.inactive_since = clock_.now();
  log::info("session_waiting", {{"index", std::to_string(s.index)},
                                {"user", text::sanitize(s.user, text::kMaxUsername)},
                                {"ip", net::format_ipv4(s.ip)},
                                {"reason", to_string(reason)}});
}

void SessionTable::end(std::uint64_t index, EndReason reason, bool notify_client,
                       ReplicationSink::Acked persisted) {
  auto it = sessions_.find(index);
  if (it == sessions_.end()) return;
  std::unique_ptr<Session> s = std::move(it->second);
  sessions_.erase(it);
  by_ip_.erase(s->ip);
  pool_.release(s->ip);
  release_ip6(*s);
  close_dtls(*s, reason);
  if (s->ssl) {
    auto transport = std::move(s->ssl);
    transport->close(reason, notify_client);
  }
  if (sink_)
    sink_->remove(s->index, std::move(persisted));
  else if (persisted)
    persisted(Persisted::local_only);
  ++end_stats_.by_reason[static_cast<std::size_t>(reason)];
  end_stats_.traffic += s->counters;
  if (end_observer_) end_observer_(*s, reason);
  log::info("session_end", {{"index", std::to_string(s->index)},
                            {"user", text::sanitize(s->user, text::kMaxUsername)},
                            {"ip", net::format_ipv4(s->ip)},
                            {"public", s->public_ip + ":" + std::to_string(s->public_port)},
                            {"reason", to_string(reason)},
                            {"bytes_tx", std::to_string(s->counters.bytes_tx)},
                            {"bytes_rx", std::to_string(s->counters.bytes_rx)}});
}

void SessionTable::accounted(SessionRef ref, const Counters& reported,
                             std::optional<TimePoint> next_interim) {
  Session& s = *ref.s_;
  s.acct_next_interim = next_interim;
  if (reported.bytes_rx == s.acct_reported.bytes_rx &&
      reported.bytes_tx == s.acct_reported.bytes_tx &&
      reported.packets_rx == s.acct_reported.packets_rx &&
      reported.packets_tx == s.acct_reported.packets_tx)
    return;
  s.acct_reported = reported;
  s.dirty = true;
}

void SessionTable::attach_dtls(SessionRef ref, std::shared_ptr<Transport> transport,
                               TunnelInfo info) {
  Session& s = *ref.s_;
  // A new association replaces the old one: the client left the old one behind, so nothing more
  // goes there, and the new one carries the downstream from the client's first record on it.
  if (s.dtls) {
    close_dtls(s, EndReason::replaced);
    follow_client(s, CarrierEvent::dtls_detached);
  }
  s.dtls = std::move(transport);
  s.dtls_info = std::move(info);
  s.dtls_info.last_rx = s.dtls_info.last_data = s.dtls_info.last_dpd_sent = clock_.now();
  s.dirty = true;  // the record lists the DTLS tunnel
  follow_client(s, CarrierEvent::dtls_attached);
}

void SessionTable::detach_dtls(SessionRef ref, const Transport* transport, EndReason) {
  Session& s = *ref.s_;
  if (s.dtls && s.dtls.get() == transport) {
    s.dtls.reset();
    s.dirty = true;
    follow_client(s, CarrierEvent::dtls_detached);
  }
}

void SessionTable::dtls_peer_moved(SessionRef ref, const Transport* transport,
                                   std::string public_ip, std::uint16_t public_port) {
  Session& s = *ref.s_;
  if (!s.dtls || s.dtls.get() != transport) return;
  s.dtls_info.public_ip = std::move(public_ip);
  s.dtls_info.public_port = public_port;
  s.dirty = true;
}

void SessionTable::dtls_send_failed(SessionRef ref, const Transport* transport) {
  Session& s = *ref.s_;
  if (s.dtls && s.dtls.get() == transport) follow_client(s, CarrierEvent::dtls_send_failed);
}

void SessionTable::follow_client(Session& s, CarrierEvent e) {
  const Carrier next = next_downstream(s.downstream, e, s.dtls != nullptr);
  if (next == s.downstream) return;
  const Carrier from = std::exchange(s.downstream, next);
  ++carrier_switches_[static_cast<std::size_t>(e)];
  std::uint64_t suppressed = 0;
  if (!carrier_log_.allow(clock_.now(), suppressed)) return;
  log::info("downstream_carrier", {{"index", std::to_string(s.index)},
                                   {"ip", net::format_ipv4(s.ip)},
                                   {"from", to_string(from)},
                                   {"to", to_string(next)},
                                   {"cause", to_string(e)},
                                   {"suppressed", std::to_string(suppressed)}});
}

void SessionTable::frame_from_client(SessionRef ref, Carrier c) {
  tunnel(*ref.s_, c).last_rx = clock_.now();
}

void SessionTable::data_from_client(SessionRef ref, Carrier c, std::size_t bytes) {
  Session& s = *ref.s_;
  TunnelInfo& t = tunnel(s, c);
  s.counters.bytes_rx += bytes;
  ++s.counters.packets_rx;
  t.counters.bytes_rx += bytes;
  ++t.counters.packets_rx;
  t.last_data = t.last_rx;  // the frame that carried it, just received
  s.dirty = true;
  if (s.downstream != c)
    follow_client(s,
                  c == Carrier::ssl ? CarrierEvent::data_over_ssl : CarrierEvent::data_over_dtls);
}

void SessionTable::data_to_client(SessionRef ref, Carrier c, std::size_t bytes) {
  Session& s = *ref.s_;
  TunnelInfo& t = tunnel(s, c);
  s.counters.bytes_tx += bytes;
  ++s.counters.packets_tx;
  t.counters.bytes_tx += bytes;
  ++t.counters.packets_tx;
  t.last_data = clock_.now();
  s.dirty = true;
}

void SessionTable::dropped_from_client(SessionRef ref) {
  ++ref.s_->counters.drops_rx;
  ref.s_->dirty = true;
}

void SessionTable::dropped_to_client(SessionRef ref) {
  ++ref.s_->counters.drops_tx;
  ref.s_->dirty = true;
}

void SessionTable::cache_traffic_policy(SessionRef ref,
                                        std::shared_ptr<const TrafficPolicy> policy) {
  ref.s_->traffic_policy = std::move(policy);
}

void SessionTable::forget_traffic_policies() {
  for (auto& [index, s] : sessions_) s->traffic_policy.reset();
}

void SessionTable::acct_start_asked(SessionRef ref) { ref.s_->acct_start_asked = true; }

void SessionTable::acct_start_written(SessionRef ref) {
  Session& s = *ref.s_;
  if (!s.acct_start_pending) return;
  s.acct_start_pending = false;
  s.dirty = true;
}

void SessionTable::mark_sent(SessionRef ref) { ref.s_->dirty = false; }

void SessionTable::take_changed(const std::function<void(const Session&)>& send) {
  for (auto& [index, s] : sessions_) {
    if (!s->dirty) continue;
    s->dirty = false;
    send(*s);
  }
}

// Callers that keep the SSL tunnel then move the downstream (follow_client); the others reset it
// with the SSL tunnel.
void SessionTable::close_dtls(Session& s, EndReason reason) {
  if (!s.dtls) return;
  auto old = std::move(s.dtls);
  old->close(reason, false);
}

void SessionTable::run_timers(const PolicyLookup& policy_of) {
  // Collect first: applying a decision may end sessions and so change the map.
  std::vector<std::uint64_t> indexes;
  indexes.reserve(sessions_.size());
  for (auto& [index, s] : sessions_) indexes.push_back(index);
  for (auto index : indexes) {
    auto it = sessions_.find(index);
    if (it != sessions_.end()) apply_timers(*it->second, policy_of(*it->second));
  }
}

void SessionTable::apply_timers(Session& s, const config::Policy& policy) {
  const TimePoint now = clock_.now();
  TimerDecision d = evaluate_timers(s, policy, now);
  if (!d.any()) return;
  if (d.end_session_timeout) {
    ++timer_stats_.session_timeout;
    end(s.index, EndReason::session_timeout, true);
    return;
  }
  if (d.end_disconnected) {
    ++timer_stats_.disconnected;
    end(s.index, EndReason::disconnected_timeout, false);
    return;
  }
  if (d.ssl_dead || d.idle) {
    // DPD and idle end the tunnels, never the session (S3, S6): it waits to resume.
    EndReason reason = d.ssl_dead ? EndReason::dpd : EndReason::idle_timeout;
    ++(d.ssl_dead ? timer_stats_.dpd_ssl : timer_stats_.idle);
    auto transport = s.ssl;
    detach_ssl(SessionRef(&s), transport.get(), reason);
    // An idle client is told, so it does not reconnect just to idle again.
    transport->close(reason, d.idle);
    return;
  }
  if (d.dtls_dead || d.dtls_idle) {
    ++(d.dtls_dead ? timer_stats_.dpd_dtls : timer_stats_.dtls_idle);
    close_dtls(s, d.dtls_dead ? EndReason::dpd : EndReason::idle_timeout);
    follow_client(s, CarrierEvent::dtls_detached);
  }
  if (d.ssl_send_dpd) {
    s.ssl_info.last_dpd_sent = now;
    s.ssl->send_dpd_request();
  }
  if (d.dtls_send_dpd && s.dtls) {
    s.dtls_info.last_dpd_sent = now;
    s.dtls->send_dpd_request();
  }
}

void SessionTable::restore(Session s) {
  bool lease_kept = false;
  if (auto it = sessions_.find(s.index); it != sessions_.end()) {
    Session* old = it->second.get();
    lease_kept = old->ip == s.ip;
    if (!lease_kept) {
      by_ip_.erase(old->ip);
      pool_.release(old->ip);
    }
    // The IPv6 lease is taken again below (its index points at the old Session object).
    release_ip6(*old);
    sessions_.erase(s.index);
  }
  if (!lease_kept && !pool_.claim(s.ip)) {
    log::error("restore_refused", {{"index", std::to_string(s.index)},
                                   {"ip", net::format_ipv4(s.ip)},
                                   {"reason", "address outside the pool or already leased"}});
    return;
  }
  // Steady-clock times are per process: rebuild them from the wall clock.
  const TimePoint now = clock_.now();
  s.login_time = now - std::chrono::duration_cast<Duration>(
                           std::chrono::seconds(std::max(0LL, wall_seconds() - s.login_time_unix)));
  s.inactive_since = now;
  s.ssl.reset();
  s.dtls.reset();
  s.downstream = Carrier::ssl;
  next_index_ = std::max(next_index_, s.index + 1);
  auto owned = std::make_unique<Session>(std::move(s));
  Session* raw = owned.get();
  if (!claim_ip6(*raw)) {
    // The session keeps IPv4; the client gets no IPv6 address on its next CONNECT.
    log::warn("restore_ipv6_dropped",
              {{"index", std::to_string(raw->index)},
               {"ip6", net::format_ipv6(*raw->ip6)},
               {"reason", pool6_ ? "address outside the IPv6 pool or already leased"
                                 : "this node has no IPv6 pool"}});
    raw->ip6.reset();
  }
  by_ip_[raw->ip] = raw;
  sessions_[raw->index] = std::move(owned);
}

void SessionTable::drop_replica(std::uint64_t index) {
  auto it = sessions_.find(index);
  if (it == sessions_.end()) return;
  Session& s = *it->second;
  close_dtls(s, EndReason::handover);
  if (s.ssl) std::exchange(s.ssl, nullptr)->close(EndReason::handover, false);
  by_ip_.erase(s.ip);
  pool_.release(s.ip);
  release_ip6(s);
  sessions_.erase(it);
}

void SessionTable::drop_all_replicas() {
  std::vector<std::uint64_t> all;
  for (auto& [index, s] : sessions_) all.push_back(index);
  for (auto index : all) drop_replica(index);
}

void SessionTable::drop_transports(EndReason reason) {
  const TimePoint now = clock_.now();
  for (auto& [index, s] : sessions_) {
    close_dtls(*s, reason);
    s->downstream = Carrier::ssl;
    if (s->ssl) std::exchange(s->ssl, nullptr)->close(reason, false);
    if (!s->inactive_since) s->inactive_since = now;
  }
}

void SessionTable::start_waiting_all() {
  const TimePoint now = clock_.now();
  for (auto& [index, s] : sessions_)
    if (!s->ssl) s->inactive_since = now;
}

void SessionTable::raise_next_index(std::uint64_t next) {
  next_index_ = std::max(next_index_, next);
}

void SessionTable::for_each(const std::function<void(const Session&)>& fn) const {
  for (auto& [index, s] : sessions_) fn(*s);
}

}  // namespace tandem::session
