#pragma once
// One client TLS connection to the headend with a deadline on every step: when the deadline
// passes the socket is closed, which fails whatever operation is pending. I/O edge of
// tandem-load; single-threaded (one io_context thread).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "tests/tools/http_response.hpp"

namespace tandem::load {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using TlsStream = asio::ssl::stream<tcp::socket>;
using SteadyDuration = std::chrono::steady_clock::duration;
// I/O errors are values here, not exceptions.
inline constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);

// Where and how to connect; shared by every session of a run.
struct Target {
  asio::io_context& io;
  asio::ssl::context& tls;
  tcp::endpoint endpoint;
  std::string host;  // Host header: "ip:port" (":443" omitted), as openconnect sends it
  std::string pin;   // "pin-sha256:..." or empty
  SteadyDuration step_timeout;
  // Local addresses to bind to, taken in turn through *next_source (empty: no bind).
  std::vector<asio::ip::address> sources = {};
  std::shared_ptr<std::size_t> next_source = std::make_shared<std::size_t>(0);
};

// A client TLS context: no CA check (tests use self-signed certificates); the pin, when given,
// is checked after each handshake instead.
asio::ssl::context make_client_tls();

class TlsConnection : public std::enable_shared_from_this<TlsConnection> {
 public:
  explicit TlsConnection(const Target& target);
  ~TlsConnection();

  // TCP connect + TLS handshake + pin check, each within the step timeout.
  static asio::awaitable<Result<std::shared_ptr<TlsConnection>>> open(const Target& target);

  // Sends `request` and reads one response, each within the step timeout. `head_only` for CONNECT:
  // bytes after the head are returned through `leftover`.
  asio::awaitable<Result<HttpResponse>> exchange(std::string request, bool head_only,
                                                 std::string* leftover = nullptr);

  // Closes the socket at now + d unless re-armed or disarmed first.
  void arm(SteadyDuration d);
  void disarm();
  void close();
  bool is_open() const { return stream_.lowest_layer().is_open(); }
  bool timed_out() const { return timed_out_; }
  TlsStream& stream() { return stream_; }

 private:
  TlsStream stream_;
  asio::steady_timer deadline_;
  SteadyDuration step_timeout_;
  bool timed_out_ = false;
};

}  // namespace tandem::load
