#include "node/server/metrics_source.hpp"

#include <algorithm>

#include "node/radius/accounting.hpp"
#include "node/server/certificate_monitor.hpp"
#include "node/server/dtls_server.hpp"

namespace tandem::server {

metrics::Snapshot metrics_snapshot(Runtime& rt, std::uint64_t process_start_unix) {
  metrics::Snapshot m;
  m.version = TANDEM_VERSION;  // from the project version (node/CMakeLists.txt)
  m.node = rt.config.node_id;
  m.process_start_unix = process_start_unix;

  // Ended sessions' traffic first, so the totals keep counting across session ends.
  const auto& ended = rt.sessions.end_stats();
  m.traffic = ended.traffic;
  m.session_ends = ended.by_reason;
  rt.sessions.for_each([&m](const session::Session& s) {
    ++(s.ssl ? m.sessions_active : m.sessions_waiting);
    if (s.ssl) ++m.tunnels_ssl;
    if (s.dtls) ++m.tunnels_dtls;
    if (s.dtls && s.downstream == session::Carrier::dtls) ++m.downstream_dtls;
    m.traffic += s.counters;
  });
  m.timers = rt.sessions.timer_stats();
  m.carrier_switches = rt.sessions.carrier_switches();
  m.events = rt.counters;

  metrics::LimitStats& l = m.limits;
  using Refusal = FrontDoorLimits::Refusal;
  l.front_connections = rt.front.limits.open();
  l.tls_handshakes = rt.front.limits.handshaking();
  l.refused_connections = rt.front.limits.refused(Refusal::connections);
  l.refused_connections_per_address = rt.front.limits.refused(Refusal::connections_per_address);
  l.refused_tls_handshakes = rt.front.limits.refused(Refusal::handshakes);
  l.refused_tls_handshakes_per_address = rt.front.limits.refused(Refusal::handshakes_per_address);
  l.refused_descriptors = rt.front.limits.refused(Refusal::descriptors);
  const auto& throttle = rt.front.login_throttle.stats();
  using Scope = auth::LoginThrottle::Scope;
  l.throttled_user_address = throttle.throttled[static_cast<std::size_t>(Scope::user_address)];
  l.throttled_address = throttle.throttled[static_cast<std::size_t>(Scope::address)];
  l.throttled_user = throttle.throttled[static_cast<std::size_t>(Scope::user)];
  l.throttle_evictions = throttle.evicted;
  l.throttle_entries = rt.front.login_throttle.failure_entries();
  l.trusted_entries = rt.front.login_throttle.trusted_entries();
  l.logins_in_flight = rt.front.login_throttle.in_flight();
  if (rt.tunnels.dtls) {
    l.dtls_handshakes = rt.tunnels.dtls->handshakes();
    l.refused_dtls_handshakes = rt.tunnels.dtls->refused_handshakes();
    l.refused_dtls_handshakes_per_session = rt.tunnels.dtls->refused_handshakes_per_session();
  }

  ReplicationStatus repl;
  if (rt.replication) repl = rt.replication->status();
  m.role = to_string(repl.role);  // as the admin status says
  m.epoch = repl.epoch;
  m.failovers = repl.failovers;
  m.degraded = repl.degraded;
  m.lag_sequence = repl.lag_sequence;
  m.lag_ms = repl.lag_ms;
  m.draining = repl.draining;
  m.arbiter_holding_key = repl.holding_key;
  m.arbiter_reachable = repl.arbiter_reachable;
  m.arbiter_serving_left_ms = repl.serving_left_ms;

  if (rt.certificates) m.certificate_expiry = rt.certificates->seconds_left(wall_seconds());

  m.session_limit = rt.session_limit.sessions;
  const auto& pool = rt.sessions.pool();
  m.pool_used = pool.leased();
  m.pool_free = pool.capacity() - std::min(pool.capacity(), pool.leased());
  if (rt.accounting) {
    const auto a = rt.accounting->stats();
    m.accounting_queued = a.queued;
    m.accounting_sent = a.sent;
    m.accounting_failed = a.failed;
    m.accounting_dropped = a.dropped;
    m.accounting_disk_writes = a.disk_writes;
  }
  if (const auto& pool6 = rt.sessions.pool6()) m.pool6_used = pool6->leased();
  return m;
}

}  // namespace tandem::server
