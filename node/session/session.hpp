#pragma once
// A session (S1/S2): the parent record that outlives its transports, and the transports
// attached to it right now. Plain data; the SessionTable owns every Session.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "node/auth/certificate_login.hpp"
#include "node/session/downstream.hpp"
#include "node/session/token.hpp"

namespace tandem::session {

struct TrafficPolicy;  // traffic_filter.hpp

// Why a tunnel or a session ended; shown in logs and, later, to operators.
enum class EndReason {
  client_logout,    // CSTP BYE with 0xb0 (S15)
  client_closed,    // TLS/TCP closed or reset without BYE
  transport_error,  // read/write error, protocol error
  replaced,         // the client resumed on a new connection
  dpd,              // dead-peer detection
  idle_timeout,
  disconnected_timeout,
  session_timeout,
  simultaneous_login,  // S14: the user's (N+1)th login
  admin_logoff,
  shutdown,
  handover,           // this node stopped serving: the client reconnects to the new active
  user_removed,       // the user is no longer in the users file (after a reload)
  user_disabled,      // the user is disabled in the users file (after a reload)
  not_recorded,       // its creation did not reach the standby (or the disk): the login was refused
  group_not_allowed,  // the user may no longer use the session's tunnel group (after a reload)
  certificate_revoked,  // resumed with the user's certificate, now revoked (client-certificates.md)
};
const char* to_string(EndReason r);
// Every reason, so per-reason counters exist (at zero) before the first end. A new reason
// belongs here too.
inline constexpr std::array kAllEndReasons{EndReason::client_logout,
                                           EndReason::client_closed,
                                           EndReason::transport_error,
                                           EndReason::replaced,
                                           EndReason::dpd,
                                           EndReason::idle_timeout,
                                           EndReason::disconnected_timeout,
                                           EndReason::session_timeout,
                                           EndReason::simultaneous_login,
                                           EndReason::admin_logoff,
                                           EndReason::shutdown,
                                           EndReason::handover,
                                           EndReason::user_removed,
                                           EndReason::user_disabled,
                                           EndReason::not_recorded,
                                           EndReason::group_not_allowed,
                                           EndReason::certificate_revoked};
// Counters index by the enum's value, so the list must follow the declaration order.
static_assert([] {
  for (std::size_t i = 0; i < kAllEndReasons.size(); ++i)
    if (static_cast<std::size_t>(kAllEndReasons[i]) != i) return false;
  return true;
}());

// The node-side end of one tunnel towards the client. Implemented at the I/O edge (a CSTP
// tunnel over TLS, later DTLS); the session table only asks it to send or to close.
class Transport {
 public:
  virtual ~Transport() = default;
  // Queue one IP packet towards the client. Returns false if it was dropped (queue full).
  virtual bool send_packet(std::span<const std::uint8_t> ip_packet) = 0;
  // Close the transport. With `notify_client`, a CSTP DISCONNECT is sent first so that the
  // client exits instead of reconnecting.
  virtual void close(EndReason reason, bool notify_client) = 0;
  // Dead-peer detection probe (S3).
  virtual void send_dpd_request() = 0;
};

struct Counters {
  std::uint64_t bytes_tx = 0, bytes_rx = 0;  // tx = headend -> client
  std::uint64_t packets_tx = 0, packets_rx = 0;
  std::uint64_t drops_tx = 0, drops_rx = 0;

  Counters& operator+=(const Counters& o) {
    bytes_tx += o.bytes_tx, bytes_rx += o.bytes_rx;
    packets_tx += o.packets_tx, packets_rx += o.packets_rx;
    drops_tx += o.drops_tx, drops_rx += o.drops_rx;
    return *this;
  }
};

struct TunnelInfo {
  std::string public_ip;
  std::uint16_t public_port = 0;
  std::uint16_t local_port = 0;
  std::string encapsulation;  // "TLSv1.3"
  std::string cipher;
  long long connected_at_unix = 0;
  Counters counters;
  // Liveness and activity, on the injected clock. Any frame counts as "received" for DPD;
  // only data counts as activity for the idle timer (S4).
  TimePoint last_rx{};
  TimePoint last_data{};
  TimePoint last_dpd_sent{};
};

struct Session {
  std::uint64_t index = 0;
  std::string user;
  std::string tunnel_group;
  std::string policy;
  std::uint32_t ip = 0;  // host byte order
  // The session's IPv6 address when the node has an IPv6 pool (docs/ipv6.md); kept for the
  // session's life, across resumes and failovers, like `ip`.
  std::optional<net::Ipv6Addr> ip6;
  TokenHash token_hash{};
  long long login_time_unix = 0;
  TimePoint login_time;
  std::string public_ip;  // where the client is now (S11: updated on resume)
  std::uint16_t public_port = 0;
  std::string client_type;  // User-Agent
  std::string client_os;    // the platform named at login (http::is_platform_name); or empty
  Counters counters;
  unsigned resumes = 0;
  auth::AuthMethod auth_method = auth::AuthMethod::password;
  // From a RADIUS Access-Accept (docs/radius.md); replicated, so a resume or a failover never
  // asks RADIUS again. The Class (raw bytes, for accounting), the policy its Class or Filter-Id
  // mapped to (empty = the tunnel group's), and the Session-Timeout and Idle-Timeout that
  // replace the policy's (0 = the policy's).
  std::string radius_class;
  std::string policy_override;
  Duration session_timeout_override{0};
  Duration idle_timeout_override{0};
  // RADIUS accounting (docs/radius-accounting.md): the Acct-Session-Id, made once at login and
  // replicated, and the highest counters accounting reported so far (same meaning as `counters`:
  // rx = from the client), so that a new active never reports less than the old one did.
  std::string acct_session_id;
  Counters acct_reported;
  // When the next Interim-Update is due; unset after a restore or a promotion (the sweep sets
  // it). Not replicated.
  std::optional<TimePoint> acct_next_interim;
  // A Start is owed and not yet on any node's accounting queue (replicated); and whether this
  // node has queued one since it serves the session (not replicated), so it queues one once.
  bool acct_start_pending = false;
  bool acct_start_asked = false;
  // Changed since last replicated (counters, tunnels): the periodic flush sends it.
  bool dirty = false;

  // S5: set while there is no SSL tunnel; the inactivity clock counts from here.
  std::optional<TimePoint> inactive_since;

  std::shared_ptr<Transport> ssl;  // the SSL tunnel (<index>.2), if attached
  TunnelInfo ssl_info;
  std::shared_ptr<Transport> dtls;  // the DTLS tunnel (<index>.3), if established
  TunnelInfo dtls_info;
  // Where packets for the client go (downstream.hpp). Transport state, never replicated: a
  // resumed or restored session starts on CSTP.
  Carrier downstream = Carrier::ssl;

  // The compiled traffic policy of the session's group, looked up on its first packet after a
  // start or a reload (a reload clears it, so live sessions follow the new policy).
  std::shared_ptr<const TrafficPolicy> traffic_policy;

  bool active() const { return ssl != nullptr; }
};

}  // namespace tandem::session
