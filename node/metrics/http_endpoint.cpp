#include "node/metrics/http_endpoint.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string_view>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "node/config/defaults.hpp"
#include "node/http/request.hpp"

namespace tandem::metrics {

namespace asio = server::asio;
using server::tcp;
using server::use_nothrow;

namespace {

// A GET needs little: anything bigger is not a scraper.
constexpr http::Limits kLimits{4 * 1024, 32, 0};
// The whole exchange, read and write; a scraper on the same network answers in milliseconds.
constexpr auto kDeadline = std::chrono::seconds(5);
// Prometheus keeps one scrape in flight per target; a few more allow a curl beside it.
constexpr std::size_t kMaxConnections = 8;

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Bad Request";
  }
}

http::Response respond(int status, std::string body, std::string_view content_type) {
  http::Response r;
  r.status = status;
  r.reason = reason_phrase(status);
  r.headers.push_back({"Content-Type", std::string(content_type)});
  r.headers.push_back({"Connection", "close"});
  r.body = std::move(body);
  return r;
}

// Reads and discards until the peer closes or the socket is closed under us.
asio::awaitable<void> drain(tcp::socket& socket) {
  std::vector<char> buf(1024);
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec) co_return;
  }
}

bool is_metrics_path(std::string_view target) {
  return target == "/metrics" || target.starts_with("/metrics?");
}

}  // namespace

Result<std::shared_ptr<HttpEndpoint>> HttpEndpoint::open(asio::io_context& io,
                                                         const tcp::endpoint& at, Render render) {
  tcp::acceptor acceptor(io);
  boost::system::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(server::endpoint_text(at) + ": " + ec.message());
  return std::make_shared<HttpEndpoint>(io, std::move(acceptor), std::move(render));
}

HttpEndpoint::HttpEndpoint(asio::io_context& io, tcp::acceptor acceptor, Render render)
    : io_(io), acceptor_(std::move(acceptor)), render_(std::move(render)) {}

void HttpEndpoint::start() {
  asio::co_spawn(
      io_, [self = shared_from_this()] { return self->accept_loop(); }, asio::detached);
}

asio::awaitable<void> HttpEndpoint::accept_loop() {
  auto self = shared_from_this();  // alive across suspensions
  asio::steady_timer pause(io_);
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) co_return;
      // Out of descriptors, accept() fails and leaves the scraper queued, so retrying at once
      // would spin the node's I/O thread: log (rate-limited) and look again a moment later.
      std::uint64_t suppressed = 0;
      if (accept_failure_log_.allow(clock_.now(), suppressed))
        log::warn("metrics_accept_failed",
                  {{"reason", ec.message()}, {"suppressed", std::to_string(suppressed)}});
      pause.expires_after(defaults::kAcceptRetryPause);
      co_await pause.async_wait(use_nothrow);
      continue;
    }
    if (open_connections_ >= kMaxConnections) continue;  // the socket closes as it goes
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

asio::awaitable<void> HttpEndpoint::serve(tcp::socket socket) {
  auto self = shared_from_this();
  ++open_connections_;
  struct Counted {
    std::size_t& n;
    ~Counted() { --n; }
  } counted{open_connections_};

  // Shared with the deadline's handler, which may run after this coroutine has finished.
  struct Connection {
    Connection(tcp::socket s, asio::io_context& io) : socket(std::move(s)), deadline(io) {}
    tcp::socket socket;
    asio::steady_timer deadline;
  };
  auto c = std::make_shared<Connection>(std::move(socket), io_);
  // The deadline closes the socket, which ends whichever read or write is pending.
  c->deadline.expires_after(kDeadline);
  c->deadline.async_wait([c](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    if (!ec) c->socket.close(ignored);
  });
  struct Cancel {
    asio::steady_timer& t;
    ~Cancel() { t.cancel(); }
  } cancel{c->deadline};

  http::RequestParser parser(kLimits);
  std::vector<char> buf(1024);
  while (parser.state() == http::RequestParser::State::need_more) {
    auto [ec, n] = co_await c->socket.async_read_some(asio::buffer(buf), use_nothrow);
    if (ec) co_return;  // closed, reset or out of time: nobody to answer
    parser.feed(std::string_view(buf.data(), n));
  }

  http::Response response;
  if (parser.state() == http::RequestParser::State::error) {
    response = respond(parser.error_status(), parser.error() + "\n", "text/plain");
  } else {
    http::Request req = parser.take();
    if (req.method != "GET") {
      response = respond(405, "only GET is served\n", "text/plain");
      response.headers.push_back({"Allow", "GET"});
    } else if (!is_metrics_path(req.target)) {
      response = respond(404, "not found; metrics are at /metrics\n", "text/plain");
    } else {
      response = respond(200, render_(), "text/plain; version=0.0.4; charset=utf-8");
    }
  }
  std::string bytes = response.serialize();
  auto [ec, n] = co_await asio::async_write(c->socket, asio::buffer(bytes), use_nothrow);
  if (ec) co_return;
  // Closing with unread input would reset the connection and could destroy the answer before
  // the client reads it (a refused oversized request): send FIN, then drain until the client
  // closes or the deadline passes.
  boost::system::error_code ignored;
  c->socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_await drain(c->socket);
}

}  // namespace tandem::metrics
