#pragma once
// Prometheus metrics: the node's event counters and a pure renderer of the text exposition
// format 0.0.4. Each counter lives with the type that owns its event: the session table counts
// timer expiries and session ends, the replicator its failovers, and Counters (owned by the
// Runtime) what only the I/O edge sees. A scrape gathers them into a Snapshot and renders it.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "node/session/session.hpp"
#include "node/session/session_table.hpp"
#include "node/session/traffic_filter.hpp"

namespace tandem::metrics {

// Events seen only at the I/O edge. Everything runs on the daemon's I/O thread, so plain
// integers suffice.
struct Counters {
  std::uint64_t logins_ok = 0;
  std::uint64_t logins_failed = 0;           // wrong password or unknown user
  std::uint64_t logins_refused = 0;          // not serving, busy, or no address left
  std::uint64_t logins_throttled = 0;        // refused unhashed by the login throttle
  std::uint64_t resumes = 0;                 // a session's SSL tunnel came back (S11)
  std::uint64_t input_refused = 0;           // malformed or unwanted client input
  std::uint64_t login_deadline_expired = 0;  // connections closed before they logged in
  std::uint64_t control_frames_dropped = 0;  // CSTP control replies dropped: client not reading
  std::uint64_t profiles_served = 0;         // XML profiles sent to logged-in clients
  std::uint64_t tun_super_packets = 0;       // TCP super-packets read from the TUN (offloads)
  std::uint64_t tun_segments = 0;            // packets cut from them
  std::uint64_t tun_joined_writes = 0;       // TUN writes that joined client packets (offloads)
  std::uint64_t tun_joined_packets = 0;      // client packets in them
  std::uint64_t tun_write_failures = 0;      // held TUN writes the kernel refused
  std::uint64_t tun_reads_dropped = 0;       // TUN reads refused as malformed (tun/offload.hpp)
  std::uint64_t profiles_refused = 0;        // profile requests refused (also in input_refused)
  // Packets from clients the traffic policy refused, by reason (docs/traffic-policy.md).
  std::array<std::uint64_t, session::kAllFilterDrops.size()> traffic_dropped{};
  // Downstream DTLS packets handed to each data worker to seal; empty when none seals.
  std::vector<std::uint64_t> dtls_worker_sealed;
};

// The limits of docs/limits.md: what their owners (the front door's limits, the login
// throttle, the DTLS server) count.
struct LimitStats {
  std::uint64_t front_connections = 0;  // gauges
  std::uint64_t tls_handshakes = 0;
  std::uint64_t dtls_handshakes = 0;
  std::uint64_t throttle_entries = 0;
  std::uint64_t trusted_entries = 0;
  std::uint64_t logins_in_flight = 0;
  // Counters.
  std::uint64_t refused_connections = 0;  // by reason:
  std::uint64_t refused_connections_per_address = 0;
  std::uint64_t refused_tls_handshakes = 0;
  std::uint64_t refused_tls_handshakes_per_address = 0;
  std::uint64_t refused_descriptors = 0;
  std::uint64_t throttled_user_address = 0;  // logins, by throttle key
  std::uint64_t throttled_address = 0;
  std::uint64_t throttled_user = 0;
  std::uint64_t throttle_evictions = 0;
  std::uint64_t refused_dtls_handshakes = 0;  // by reason:
  std::uint64_t refused_dtls_handshakes_per_session = 0;
};

// Everything one scrape shows, as plain values: render() needs nothing else.
struct Snapshot {
  std::string version;
  std::string node;
  std::uint64_t process_start_unix = 0;

  std::uint64_t sessions_active = 0;   // with an SSL tunnel
  std::uint64_t sessions_waiting = 0;  // waiting to resume (S5)
  std::uint64_t tunnels_ssl = 0;
  std::uint64_t tunnels_dtls = 0;
  std::uint64_t downstream_dtls = 0;            // sessions whose downstream goes over DTLS now
  session::CarrierSwitches carrier_switches{};  // by CarrierEvent
  session::Counters traffic;  // live sessions plus every ended one, so totals never fall

  Counters events;
  LimitStats limits;
  session::SessionTable::TimerStats timers;
  std::array<std::uint64_t, session::kAllEndReasons.size()> session_ends{};  // by EndReason

  std::string role = "standalone";  // "active" | "standby" | "standalone"
  std::uint64_t epoch = 0;
  std::uint64_t failovers = 0;
  bool degraded = false;
  std::uint64_t lag_sequence = 0;
  std::uint64_t lag_ms = 0;
  bool draining = false;  // tandemctl drain
  // [arbiter] (all zero without it).
  bool arbiter_holding_key = false;
  bool arbiter_reachable = false;
  std::uint64_t arbiter_serving_left_ms = 0;

  std::uint64_t session_limit = 0;  // [limits] max_sessions as it applies now; 0 = none
  std::uint64_t pool_used = 0;
  std::uint64_t pool_free = 0;
  std::uint64_t pool6_used = 0;  // IPv6 addresses leased (docs/ipv6.md); 0 without a pool

  // RADIUS accounting (docs/radius-accounting.md); all zero without it.
  std::uint64_t accounting_queued = 0;  // gauge
  std::uint64_t accounting_sent = 0;
  std::uint64_t accounting_failed = 0;
  std::uint64_t accounting_dropped = 0;
  std::uint64_t accounting_disk_writes = 0;

  // (certificate, seconds until its notAfter; negative once expired): "tls", and in a pair
  // "peer" and "peer_ca" (server::CertificateMonitor).
  std::vector<std::pair<std::string, std::int64_t>> certificate_expiry;
};

// The text exposition format 0.0.4: HELP and TYPE for every family, and every sample even
// when it is zero (a series that appears only after its first event breaks rate()).
std::string render(const Snapshot& s);

// Label values may hold any text; backslash, double quote and newline are escaped.
std::string escape_label_value(std::string_view value);

}  // namespace tandem::metrics
