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

namespace tandem::server {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
// I/O errors are values on the data plane, not exceptions.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

class CertificateMonitor;
class DtlsServer;
struct FrontConnection;

// Writes packets from clients into the TUN device (implemented by TunRouter).
class TunWriter {
 public:
  virtual ~TunWriter() = default;
  virtual bool write_packet(std::span<const std::uint8_t> ip_packet) = 0;
};

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
  metrics::Counters counters;  // events seen only here, at the I/O edge
  // A flood of refusals must not flood the log (docs/limits.md).
  log::LogLimiter connection_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};
  log::LogLimiter login_refusal_log{defaults::kRefusalLogBurst, defaults::kRefusalLogInterval};

  const config::Policy& policy_for(const std::string& tunnel_group) const;
};

std::string endpoint_text(const tcp::endpoint& ep);

}  // namespace tandem::server
