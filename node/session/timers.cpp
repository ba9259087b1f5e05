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

TimerDecision evaluate_timers(const Session& s, const config::Policy& p, TimePoint now) {
  TimerDecision d;
  if (positive(p.session_timeout) && now - s.login_time >= p.session_timeout) {
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
  if (positive(p.idle_timeout)) {
    // The SSL tunnel is idle only when DTLS is idle too (S6); keepalives never count (S4).
    if (now - last_data(s) >= p.idle_timeout)
      d.idle = true;
    else if (s.dtls && now - s.dtls_info.last_data >= p.idle_timeout)
      d.dtls_idle = true;
  }
  return d;
}

Duration idle_time_left(const Session& s, const config::Policy& p, TimePoint now) {
  if (!positive(p.idle_timeout)) return Duration::max();
  if (!s.ssl) {
    if (!s.inactive_since) return p.disconnected_timeout;
    return std::max(Duration{0}, p.disconnected_timeout - (now - *s.inactive_since));
  }
  return std::max(Duration{0}, p.idle_timeout - (now - last_data(s)));
}

}  // namespace tandem::session
