#include "node/session/timers.hpp"

#include <algorithm>

namespace tandem::session {
namespace {

bool positive(Duration d) { return d.count() > 0; }

// DPD on one transport: probe once it has been quiet for one interval (again every half
// interval while unanswered), declare it dead after two silent intervals, as the client does.
void evaluate_dpd(const TunnelInfo& t, Duration dpd, TimePoint now, bool& send, bool& dead) {
  if (!positive(dpd)) return;
  Duration silent = now - t.last_rx;
  if (silent >= 2 * dpd) {
    dead = true;
  } else if (silent >= dpd && now - t.last_dpd_sent >= dpd / 2) {
    send = true;
  }
}

TimePoint last_data(const Session& s) {
  TimePoint last = s.ssl_info.last_data;
  if (s.dtls) last = std::max(last, s.dtls_info.last_data);
  return last;
}

}  // namespace

Duration session_timeout_of(const Session& s, const config::Policy& p) {
  return positive(s.session_timeout_override) ? s.session_timeout_override : p.session_timeout;
}

Duration idle_timeout_of(const Session& s, const config::Policy& p) {
  return positive(s.idle_timeout_override) ? s.idle_timeout_override : p.idle_timeout;
}

config::Policy with_session_overrides(config::Policy p, const Session& s) {
  p.session_timeout = session_timeout_of(s, p);
  p.idle_timeout = idle_timeout_of(s, p);
  return p;
}

TimerDecision evaluate_timers(const Session& s, const config::Policy& p, TimePoint now) {
  TimerDecision d;
  const Duration session_timeout = session_timeout_of(s, p);
  const Duration idle_timeout = idle_timeout_of(s, p);
  if (positive(session_timeout) && now - s.login_time >= session_timeout) {
    d.end_session_timeout = true;
    return d;
  }
  if (!s.ssl) {
    // Waiting to resume (S5): only the disconnected timeout runs.
    if (s.inactive_since && positive(p.disconnected_timeout) &&
        now - *s.inactive_since >= p.disconnected_timeout)
      d.end_disconnected = true;
    return d;
  }
  evaluate_dpd(s.ssl_info, p.dpd_interval, now, d.ssl_send_dpd, d.ssl_dead);
  if (s.dtls) evaluate_dpd(s.dtls_info, p.dpd_interval, now, d.dtls_send_dpd, d.dtls_dead);
  if (positive(idle_timeout)) {
    // The SSL tunnel is idle only when DTLS is idle too (S6); keepalives never count (S4).
    if (now - last_data(s) >= idle_timeout)
      d.idle = true;
    else if (s.dtls && now - s.dtls_info.last_data >= idle_timeout)
      d.dtls_idle = true;
  }
  return d;
}

Duration idle_time_left(const Session& s, const config::Policy& p, TimePoint now) {
  const Duration idle_timeout = idle_timeout_of(s, p);
  if (!positive(idle_timeout)) return Duration::max();
  if (!s.ssl) {
    if (!s.inactive_since) return p.disconnected_timeout;
    return std::max(Duration{0}, p.disconnected_timeout - (now - *s.inactive_since));
  }
  return std::max(Duration{0}, idle_timeout - (now - last_data(s)));
}

}  // namespace tandem::session
