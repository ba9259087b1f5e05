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

#include "node/auth/users.hpp"
#include "node/common/clock.hpp"
#include "node/config/config.hpp"
#include "node/metrics/registry.hpp"
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
  TunWriter* tun = nullptr;
  DtlsServer* dtls = nullptr;                        // null when DTLS is off
  const CertificateMonitor* certificates = nullptr;  // expiry of the certificates in use
  session::Replication* replication = nullptr;
  bool serving = false;                          // this node is the member's active node
  std::size_t open_front_connections = 0;        // TLS connections not yet turned into tunnels
  std::set<FrontConnection*> front_connections;  // the same, to reset them on a step-down
  std::size_t pending_logins = 0;                // password checks in flight
  std::string server_name;
  metrics::Counters counters;  // events seen only here, at the I/O edge

  const config::Policy& policy_for(const std::string& tunnel_group) const;
};

std::string endpoint_text(const tcp::endpoint& ep);

}  // namespace tandem::server
