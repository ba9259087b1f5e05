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

#include "node/auth/login_throttle.hpp"
#include "node/auth/users.hpp"
#include "node/common/clock.hpp"
#include "node/common/log_limiter.hpp"
#include "node/config/config.hpp"
#include "node/config/defaults.hpp"
#include "node/metrics/registry.hpp"
#include "node/server/front_door_limits.hpp"
#include "node/session/replication_sink.hpp"
#include "node/session/session_table.hpp"
#include "node/session/traffic_filter.hpp"

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
};

// The group policies compiled for the data path, by policy name; replaced whole at a reload.
using TrafficPolicies = std::map<std::string, std::shared_ptr<const session::TrafficPolicy>>;

struct Runtime {
  asio::io_context& io;
  asio::ssl::context& tls;
  asio::thread_pool& hash_pool;  // slow password hashing runs here, off the I/O thread
  const Clock& clock;
  config::Config config;
  std::shared_ptr<const auth::UserDb> users;
  session::SessionTable& sessions;
  FrontDoorLimits& front_limits;        // connections per address, TLS handshakes in progress
  auth::LoginThrottle& login_throttle;  // back-off after failed logins, logins in flight
  TunWriter* tun = nullptr;
  DtlsServer* dtls = nullptr;                        // null when DTLS is off
  const CertificateMonitor* certificates = nullptr;  // expiry of the certificates in use
  session::Replication* replication = nullptr;
  bool serving = false;                          // this node is the member's active node
  std::set<FrontConnection*> front_connections;  // not yet tunnels, to reset them on a step-down
  std::string server_name;
  TrafficPolicies traffic_policies;  // always has one per configured policy
  metrics::Counters counters;        // events seen only here, at the I/O edge
  // A flood of refusals must not flood the log (docs/limits.md).
  log::LogLimiter connection_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};
  log::LogLimiter login_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};
  log::LogLimiter traffic_drop_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};

  const config::Policy& policy_for(const std::string& tunnel_group) const;
  // The group's configuration; the default group's for a group a reload removed (whose
  // sessions policy_for also gives the default group's policy).
  const config::TunnelGroup& tunnel_group_for(const std::string& tunnel_group) const;
  // The compiled policy of a tunnel group (the default policy's if the group is gone).
  std::shared_ptr<const session::TrafficPolicy> traffic_policy_for(
      const std::string& tunnel_group) const;
};

std::string endpoint_text(const tcp::endpoint& ep);

}  // namespace tandem::server
