#pragma once
// Internal to node/server: the state every connection and tunnel shares, and the Asio types
// they use. Only the few .cpp files of the I/O edge include this (it pulls in Asio).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>

#include "base/clock.hpp"
#include "base/log_limiter.hpp"
#include "base/replication_port.hpp"
#include "node/auth/login_throttle.hpp"
#include "node/auth/users.hpp"
#include "node/config/config.hpp"
#include "node/config/defaults.hpp"
#include "node/metrics/registry.hpp"
#include "node/radius/challenge_store.hpp"
#include "node/server/front_door_limits.hpp"
#include "node/server/session_limit.hpp"
#include "node/session/session_table.hpp"
#include "node/session/traffic_filter.hpp"
#include "node/tls/client_certificate.hpp"

namespace tandem::radius {
class Accounting;
class RadiusClient;
}

namespace tandem::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
// I/O errors are values on the data plane, not exceptions.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

class CertificateMonitor;
class DtlsServer;
struct FrontConnection;

// Takes packets from clients into the TUN device (implemented by TunRouter): the one place the
// SSL and DTLS tunnels' data converge, where the traffic policy is applied.
class TunWriter {
 public:
  virtual ~TunWriter() = default;
  // False when the packet was dropped (refused by the policy, or the device's queue is full).
  virtual bool from_client(session::SessionRef s, std::span<const std::uint8_t> ip_packet) = 0;
  // Between hold() and the matching release(), accepted packets may be gathered and written
  // together at release() (docs/data-plane.md, "Upstream: coalesced writes"). Only around work
  // that does not suspend: a held packet must not wait for another coroutine.
  virtual void hold() {}
  virtual void release() {}
};

// Holds the TUN writer for one batch of client input (a recvmmsg drain, one TLS read).
class TunBatch {
 public:
  explicit TunBatch(TunWriter* tun) : tun_(tun) {
    if (tun_) tun_->hold();
  }
  ~TunBatch() {
    if (tun_) tun_->release();
  }
  TunBatch(const TunBatch&) = delete;
  TunBatch& operator=(const TunBatch&) = delete;

 private:
  TunWriter* tun_;
};

// The group policies compiled for the data path, by policy name; replaced whole at a reload.
using TrafficPolicies = std::map<std::string, std::shared_ptr<const session::TrafficPolicy>>;

// The group's policy and configuration, by tunnel group name; the default group's for a group a
// reload removed (its sessions then get the default policy too).
const config::Policy& policy_for(const config::Config& config, const std::string& tunnel_group);
// A session's policy: the one a RADIUS Class or Filter-Id mapped it to while that policy
// exists (docs/radius.md), else its tunnel group's.
const config::Policy& policy_for(const config::Config& config, const session::Session& s);
const config::TunnelGroup& tunnel_group_for(const config::Config& config,
                                            const std::string& tunnel_group);

// Whether this node serves the member's clients, as the node's thread sees it. One writer:
// NodeRole (role.hpp), on replication's become_active / become_standby. Everyone else reads it
// through the Runtime's const reference.
class ServingState {
 public:
  bool serving() const { return serving_; }  // the member's active node, or a standalone one

 private:
  friend class NodeRole;
  bool serving_ = false;
};

// What a tunnel needs (the CSTP and DTLS tunnels, the DTLS server, the TUN router): the I/O
// context, the sessions, the data path's two ends, the compiled traffic policies. The config and
// counters are the Runtime's, seen through references.
struct TunnelRuntime {
  asio::io_context& io;
  const Clock& clock;
  session::SessionTable& sessions;
  const config::Config& config;  // the Runtime's, as of the last reload
  metrics::Counters& counters;   // the Runtime's
  TunWriter* tun = nullptr;
  DtlsServer* dtls = nullptr;        // null when DTLS is off
  TrafficPolicies traffic_policies;  // always has one per configured policy
  // A flood of dropped packets must not flood the log (docs/limits.md).
  log::LogLimiter traffic_drop_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};

  // The compiled policy of a tunnel group (the default policy's if the group is gone).
  std::shared_ptr<const session::TrafficPolicy> traffic_policy_for(
      const std::string& tunnel_group) const;
  // The compiled policy of a session (policy_for(config, s)).
  std::shared_ptr<const session::TrafficPolicy> traffic_policy_for(const session::Session& s) const;
};

// What the front door owns: connections that are not (yet) tunnels, their limits, the login
// throttle and the password hashing pool.
struct FrontDoorState {
  asio::ssl::context& tls;
  asio::thread_pool& hash_pool;            // slow password hashing runs here, off the I/O thread
  FrontDoorLimits& limits;                 // connections per address, TLS handshakes in progress
  auth::LoginThrottle& login_throttle;     // back-off after failed logins, logins in flight
  std::set<FrontConnection*> connections;  // not yet tunnels, to reset them on a step-down
  std::string server_name;
  // Client certificates are verified against this (null: no [tls] client_ca); a reload replaces
  // it (client_certificates.hpp).
  std::shared_ptr<const tls::ClientTrust> client_trust;
  // A flood of refusals must not flood the log (docs/limits.md). The DTLS server shares the
  // connection log.
  log::LogLimiter connection_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};
  log::LogLimiter login_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};
  // The RADIUS client (null without [radius]) and the challenges waiting for an answer
  // (docs/radius.md).
  radius::RadiusClient* radius = nullptr;
  radius::ChallengeStore challenges{defaults::kRadiusChallenges, defaults::kRadiusChallengeTtl};
};

// The node's I/O-thread state, made once by the headend: the configuration and users (replaced
// only by a reload, reload_configuration), the role (read-only here), and the two parts above.
// The front door, the admin backend and metrics take the whole; tunnels take `tunnels` only.
struct Runtime {
  Runtime(asio::io_context& io, const Clock& clock, config::Config config,
          std::shared_ptr<const auth::UserDb> users, session::SessionTable& sessions,
          const ServingState& role, Replication* replication, FrontDoorState front);
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  asio::io_context& io;
  const Clock& clock;
  config::Config config;
  std::shared_ptr<const auth::UserDb> users;
  session::SessionTable& sessions;
  const ServingState& role;
  Replication* replication = nullptr;
  const CertificateMonitor* certificates = nullptr;  // expiry of the certificates in use
  metrics::Counters counters;                        // events seen only here, at the I/O edge
  radius::Accounting* accounting = nullptr;          // RADIUS accounting, when [radius] has servers
  FrontDoorState front;
  TunnelRuntime tunnels;
  // [limits] max_sessions as it applies now (apply_session_limit, at start and at each reload).
  SessionLimit session_limit;

  bool serving() const { return role.serving(); }
  const config::Policy& policy_for(const std::string& tunnel_group) const {
    return server::policy_for(config, tunnel_group);
  }
  const config::Policy& policy_for(const session::Session& s) const {
    return server::policy_for(config, s);
  }
  const config::TunnelGroup& tunnel_group_for(const std::string& tunnel_group) const {
    return server::tunnel_group_for(config, tunnel_group);
  }
};

// Resolves [limits] max_sessions from the configuration in force (and the memory now), keeps it
// in `rt.session_limit` and tells replication (the member record's capacity). Returns the limit
// it replaced.
std::uint64_t apply_session_limit(Runtime& rt);

std::string endpoint_text(const tcp::endpoint& ep);

}  // namespace tandem::server
