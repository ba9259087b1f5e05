#pragma once
// The group-policy timers (S3-S8) as one pure decision: given a session, its policy and the
// time, what is due. The caller (the headend's sweep) carries the decision out. Every rule is
// tested on a fake clock.
#include "base/clock.hpp"
#include "node/config/config.hpp"
#include "node/session/session.hpp"

namespace tandem::session {

struct TimerDecision {
  bool end_session_timeout = false;  // S7: ends the session whatever it is doing
  bool end_disconnected = false;     // S6/S8: no SSL tunnel for disconnected_timeout
  bool ssl_dead = false;             // S3: nothing received on TLS for 2 x DPD
  bool ssl_send_dpd = false;
  bool dtls_dead = false;  // S3: same on DTLS; data falls back to CSTP
  bool dtls_send_dpd = false;
  bool idle = false;       // S6: no data on SSL nor DTLS for idle_timeout
  bool dtls_idle = false;  // S6: the DTLS tunnel alone has been idle

  bool any() const {
    return end_session_timeout || end_disconnected || ssl_dead || ssl_send_dpd || dtls_dead ||
           dtls_send_dpd || idle || dtls_idle;
  }
};

// The session's own Session-Timeout / Idle-Timeout (from RADIUS) when set, else the policy's.
Duration session_timeout_of(const Session& s, const config::Policy& policy);
Duration idle_timeout_of(const Session& s, const config::Policy& policy);
// The policy with the session's own timeouts in place (what the client and operators are told).
config::Policy with_session_overrides(config::Policy policy, const Session& s);

TimerDecision evaluate_timers(const Session& s, const config::Policy& policy, TimePoint now);

// Time left before the tunnel is closed for idleness (shown to operators), 0 when due.
Duration idle_time_left(const Session& s, const config::Policy& policy, TimePoint now);

}  // namespace tandem::session
