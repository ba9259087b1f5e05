#include "node/server/metrics_source.hpp"

#include <algorithm>

#include "node/server/certificate_monitor.hpp"

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
  rt.sessions.for_each([&m](session::Session& s) {
    ++(s.ssl ? m.sessions_active : m.sessions_waiting);
    if (s.ssl) ++m.tunnels_ssl;
    if (s.dtls) ++m.tunnels_dtls;
    m.traffic += s.counters;
  });
  m.timers = rt.sessions.timer_stats();
  m.events = rt.counters;

  session::ReplicationStatus repl;
  if (rt.replication) repl = rt.replication->status();
  m.role = rt.config.peer.enabled ? repl.role : "standalone";  // as the admin status says
  m.epoch = repl.epoch;
  m.failovers = repl.failovers;
  m.degraded = repl.degraded;
  m.lag_sequence = repl.lag_sequence;
  m.lag_ms = repl.lag_ms;

  if (rt.certificates) m.certificate_expiry = rt.certificates->seconds_left(wall_seconds());

  const auto& pool = rt.sessions.pool();
  m.pool_used = pool.leased();
  m.pool_free = pool.capacity() - std::min(pool.capacity(), pool.leased());
  return m;
}

}  // namespace tandem::server
