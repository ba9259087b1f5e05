#include "director/front.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "director/defaults.hpp"
#include "director/redirect.hpp"
#include "node/http/request.hpp"

namespace tandem::director {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace {
constexpr auto use_nothrow = asio::as_tuple(asio::use_awaitable);
using Refusal = server::FrontDoorLimits::Refusal;
}  // namespace

struct Front::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io_, asio::ssl::context& tls_, tcp::acceptor acceptor_,
       const Clock& clock_, std::function<Placement()> place_, DirectorStats& stats_)
      : io(io_),
        tls(tls_),
        acceptor(std::move(acceptor_)),
        clock(clock_),
        place(std::move(place_)),
        stats(stats_),
        limits({defaults::kConnections, defaults::kConnectionsPerAddress, defaults::kHandshakes,
                defaults::kHandshakesPerAddress}) {}

  asio::io_context& io;
  asio::ssl::context& tls;
  tcp::acceptor acceptor;
  const Clock& clock;
  std::function<Placement()> place;
  DirectorStats& stats;
  server::FrontDoorLimits limits;
  // A flood must not flood the log: a burst of lines, then one a second, with the count skipped.
  log::LogLimiter refusal_log{20, std::chrono::seconds(1)};
  log::LogLimiter connection_log{20, std::chrono::seconds(1)};

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    asio::steady_timer pause(io);
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        // Out of descriptors, accept() fails and leaves the client queued, so retrying at once
        // would spin: log (rate-limited) and look again a moment later.
        std::uint64_t suppressed = 0;
        if (connection_log.allow(clock.now(), suppressed))
          log::warn("accept_failed",
                    {{"reason", ec.message()}, {"suppressed", std::to_string(suppressed)}});
        pause.expires_after(defaults::kAcceptRetryPause);
        co_await pause.async_wait(use_nothrow);
        continue;
      }
      asio::co_spawn(io, serve(std::move(socket)), asio::detached);
    }
  }

  // A refusal line, rate-limited; the metrics count every refusal anyway.
  void log_refusal(const std::string& client, const Answer& a) {
    std::uint64_t suppressed = 0;
    if (!refusal_log.allow(clock.now(), suppressed)) return;
    log::warn("refused", {{"client", client},
                          {"status", std::to_string(a.status)},
                          {"outcome", to_string(a.outcome)},
                          {"reason", a.reason},
                          {"suppressed", std::to_string(suppressed)}});
  }

  asio::awaitable<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) co_return;
    const std::string address = remote.address().to_string();
    const std::string client = address + ":" + std::to_string(remote.port());
    if (const Refusal why = limits.admit(address); why != Refusal::none) {
      ++stats.connections_refused;
      socket.set_option(tcp::socket::linger(true, 0), ec);  // a reset: no state kept for it
      socket.close(ec);
      std::uint64_t suppressed = 0;
      if (connection_log.allow(clock.now(), suppressed))
        log::warn("connection_refused", {{"client", client},
                                         {"reason", std::string(server::to_string(why))},
                                         {"suppressed", std::to_string(suppressed)}});
      co_return;
    }
    struct Slot {
      server::FrontDoorLimits& limits;
      std::string address;
      bool handshaking = true;
      void handshake_over() {
        if (std::exchange(handshaking, false)) limits.handshake_over(address);
      }
      ~Slot() {
        handshake_over();
        limits.release(address);
      }
    } slot{limits, address};

    // Shared with the deadline's handler, which may already be queued when the exchange ends.
    auto shared = std::make_shared<asio::ssl::stream<tcp::socket>>(std::move(socket), tls);
    auto& stream = *shared;
    auto timed_out = std::make_shared<bool>(false);
    // One deadline for the whole exchange: when it passes, the socket is closed and whatever
    // was waiting on it fails.
    asio::steady_timer deadline(io);
    deadline.expires_after(defaults::kConnectionDeadline);
    deadline.async_wait([shared, timed_out](const boost::system::error_code& e) {
      if (e) return;
      *timed_out = true;
      boost::system::error_code ignored;
      shared->lowest_layer().close(ignored);
    });

    auto [hs_ec] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_nothrow);
    slot.handshake_over();
    if (hs_ec) {
      log::debug("handshake_failed",
                 {{"client", client}, {"reason", *timed_out ? "deadline" : hs_ec.message()}});
      deadline.cancel();
      co_return;
    }

    http::RequestParser parser(
        {defaults::kMaxHeaderBytes, defaults::kMaxHeaderCount, defaults::kMaxBodyBytes});
    std::vector<char> buf(16 * 1024);
    while (parser.state() == http::RequestParser::State::need_more) {
      auto [read_ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
      if (read_ec) {
        log::debug("request_incomplete",
                   {{"client", client}, {"reason", *timed_out ? "deadline" : read_ec.message()}});
        deadline.cancel();
        co_return;
      }
      parser.feed(std::string_view(buf.data(), n));
    }

    std::string bytes;
    if (parser.state() == http::RequestParser::State::error) {
      ++stats.bad_requests;
      Answer a;
      a.status = parser.error_status();
      a.reason = "HTTP: " + parser.error();
      a.outcome = Outcome::refused_target;
      std::uint64_t suppressed = 0;
      if (refusal_log.allow(clock.now(), suppressed))
        log::warn("bad_request", {{"client", client},
                                  {"status", std::to_string(a.status)},
                                  {"reason", a.reason},
                                  {"suppressed", std::to_string(suppressed)}});
      bytes = error_bytes(a.status, a.reason);
    } else {
      const http::Request request = parser.take();
      Answer a = answer(request, place);
      ++stats.answers[static_cast<std::size_t>(a.outcome)];
      if (a.outcome == Outcome::redirected) {
        log::info("redirect", {{"client", client},
                               {"member", a.member},
                               {"method", request.method},
                               {"location", a.location}});
      } else {
        log_refusal(client, a);
      }
      bytes = std::move(a.bytes);
    }
    auto [write_ec, written] = co_await asio::async_write(stream, asio::buffer(bytes), use_nothrow);
    (void)written;
    if (!write_ec) {
      // close_notify, briefly: the client has its answer either way.
      deadline.expires_after(defaults::kShutdownDeadline);
      deadline.async_wait([shared](const boost::system::error_code& e) {
        if (e) return;
        boost::system::error_code ignored;
        shared->lowest_layer().close(ignored);
      });
      co_await stream.async_shutdown(use_nothrow);
    }
    deadline.cancel();
    stream.lowest_layer().close(ec);
  }
};

Result<std::unique_ptr<Front>> Front::open(asio::io_context& io, asio::ssl::context& tls,
                                           const std::string& listen, const Clock& clock,
                                           std::function<Placement()> place, DirectorStats& stats) {
  const std::size_t colon = listen.rfind(':');
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec || colon == std::string::npos)
    return fail(Errc::invalid, "listen " + listen + ": bad address");
  const tcp::endpoint at(address, static_cast<unsigned short>(std::stoi(listen.substr(colon + 1))));
  tcp::acceptor acceptor(io);
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(Errc::io, "listen " + listen + ": " + ec.message());
  return std::make_unique<Front>(io, tls, std::move(acceptor), clock, std::move(place), stats);
}

Front::Front(asio::io_context& io, asio::ssl::context& tls, tcp::acceptor acceptor,
             const Clock& clock, std::function<Placement()> place, DirectorStats& stats)
    : impl_(std::make_shared<Impl>(io, tls, std::move(acceptor), clock, std::move(place), stats)) {}

void Front::start() { asio::co_spawn(impl_->io, impl_->accept_loop(), asio::detached); }

void Front::stop() {
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace tandem::director
