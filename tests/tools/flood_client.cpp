// tandem-flood: many connections from one address to the headend's TLS port, kept busy, for
// the limit tests (tests/e2e/test_flood_limits.sh). Run `tandem-flood --help` for the options.
//
// `--raw N` workers open a TCP connection and send nothing: a TLS handshake that never starts,
// as the server sees it. `--tls N` workers complete the handshake, then send the first POST of
// the login exchange every --every seconds on the same keep-alive connection, and never log in.
// When the server closes a connection (or refuses it), the worker opens another after
// --reconnect-delay, unless --once. `--dpd-flood TOKEN` opens one tunnel with a session's token
// and sends CSTP DPD requests as fast as the server takes them, never reading the replies.
// Everything ends at --duration: every loop is bounded. At the end, one line of key=value
// figures on stdout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <iostream>
#include <memory>
#include <tuple>

#include "tests/tools/auth_exchange.hpp"
#include "tests/tools/http_response.hpp"
#include "tests/tools/tls_connection.hpp"

namespace tandem::load {
namespace {

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr const char* kUsage =
    "usage: tandem-flood --server IP:PORT [--raw N] [--tls N] [--every SECONDS]\n"
    "                    [--duration SECONDS] [--reconnect-delay MS] [--once]\n"
    "                    [--dpd-flood TOKEN]\n"
    "  --raw N              TCP connections that send nothing (default 0, at most 2000)\n"
    "  --tls N              TLS connections sending a login-form POST every --every s\n"
    "                       (default 0, at most 2000)\n"
    "  --every S            seconds between POSTs on a TLS connection (default 2)\n"
    "  --duration S         stop after S seconds (default 30, at most 600)\n"
    "  --reconnect-delay MS pause before reopening a closed connection (default 250)\n"
    "  --once               do not reopen closed connections\n"
    "  --dpd-flood TOKEN    one tunnel (CONNECT with TOKEN) flooded with DPD requests\n";

struct Options {
  tcp::endpoint server;
  std::string host;
  int raw = 0, tls = 0;
  Ms every{2000}, duration{30000}, reconnect_delay{250};
  bool once = false;
  std::string dpd_token;
};

struct Figures {
  // A connection the server closes within this long of opening it was refused, not timed out.
  static constexpr Ms kRefusedWithin{1000};
  std::uint64_t connect_failed = 0;
  std::uint64_t raw_opened = 0, raw_refused = 0, raw_closed = 0, raw_open_at_end = 0;
  std::uint64_t tls_opened = 0, tls_refused = 0, tls_closed = 0, tls_open_at_end = 0;
  std::uint64_t tls_responses = 0;
  std::int64_t tls_lifetime_min_ms = -1, tls_lifetime_max_ms = -1;  // of those the server closed
  std::int64_t raw_lifetime_max_ms = -1;                            // after kRefusedWithin
  int dpd_status = 0;                                               // the CONNECT's status
  std::uint64_t dpd_requests_sent = 0;
  bool dpd_closed = false;  // by the server, before the end

  void tls_lifetime(Ms d) {
    const auto ms = d.count();
    if (tls_lifetime_min_ms < 0 || ms < tls_lifetime_min_ms) tls_lifetime_min_ms = ms;
    if (ms > tls_lifetime_max_ms) tls_lifetime_max_ms = ms;
  }
  void print() const {
    std::cout << "connect_failed=" << connect_failed << " raw_opened=" << raw_opened
              << " raw_refused=" << raw_refused << " raw_closed=" << raw_closed
              << " raw_open_at_end=" << raw_open_at_end
              << " raw_lifetime_max_ms=" << raw_lifetime_max_ms << " tls_opened=" << tls_opened
              << " tls_refused=" << tls_refused << " tls_closed=" << tls_closed
              << " tls_open_at_end=" << tls_open_at_end << " tls_responses=" << tls_responses
              << " tls_lifetime_min_ms=" << tls_lifetime_min_ms
              << " tls_lifetime_max_ms=" << tls_lifetime_max_ms << " dpd_status=" << dpd_status
              << " dpd_requests_sent=" << dpd_requests_sent << " dpd_closed=" << dpd_closed
              << std::endl;
  }
};

Ms since(Clock::time_point t0) { return std::chrono::duration_cast<Ms>(Clock::now() - t0); }

// Bounds one step (connect, handshake, response): closes the socket at `at` unless the step
// ended first. A SYN can go unanswered for minutes of retransmissions; a flood must not wait.
class StepDeadline {
 public:
  StepDeadline(asio::io_context& io, tcp::socket& socket, Clock::time_point at)
      : timer_(io, at), live_(std::make_shared<bool>(true)) {
    timer_.async_wait([live = live_, &socket](boost::system::error_code ec) {
      if (ec || !*live) return;  // the step ended (and the socket may be gone)
      boost::system::error_code ignored;
      socket.close(ignored);
    });
  }
  ~StepDeadline() {
    *live_ = false;
    timer_.cancel();
  }
  StepDeadline(const StepDeadline&) = delete;
  StepDeadline& operator=(const StepDeadline&) = delete;

 private:
  asio::steady_timer timer_;
  std::shared_ptr<bool> live_;
};

constexpr Ms kStepTimeout{10000};

class Flood {
 public:
  explicit Flood(Options o)
      : o_(std::move(o)), tls_(make_client_tls()), end_(Clock::now() + o_.duration) {}

  int run() {
    for (int i = 0; i < o_.raw; ++i) asio::co_spawn(io_, raw_worker(), asio::detached);
    for (int i = 0; i < o_.tls; ++i) asio::co_spawn(io_, tls_worker(), asio::detached);
    if (!o_.dpd_token.empty()) asio::co_spawn(io_, dpd_worker(), asio::detached);
    io_.run();
    f_.print();
    return 0;
  }

 private:
  bool over() const { return Clock::now() >= end_; }
  Clock::time_point step_end() const { return std::min(Clock::now() + kStepTimeout, end_); }

  asio::awaitable<void> pause(Ms d) {
    asio::steady_timer t(io_);
    t.expires_at(std::min(Clock::now() + d, end_));
    co_await t.async_wait(use_nothrow);
  }

  // Waits until the server closes `socket` (true) or `until` passes (false). The server sends
  // nothing between responses, so any completion of the read means it closed.
  template <class Stream>
  asio::awaitable<bool> closed_before(Stream& stream, Clock::time_point until) {
    struct Race {
      bool done = false, fired = false;
    };
    auto race = std::make_shared<Race>();
    asio::steady_timer t(io_, until);
    auto& socket = stream.lowest_layer();
    t.async_wait([race, &socket](boost::system::error_code ec) {
      if (ec || race->done) return;
      race->fired = true;
      boost::system::error_code ignored;
      socket.cancel(ignored);
    });
    char buf[512];
    co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
    race->done = true;
    t.cancel();
    co_return !race->fired;
  }

  asio::awaitable<void> raw_worker() {
    while (!over()) {
      tcp::socket s(io_);
      boost::system::error_code ec;
      {
        StepDeadline step(io_, s, step_end());
        std::tie(ec) = co_await s.async_connect(o_.server, use_nothrow);
      }
      if (ec == asio::error::connection_reset) {
        ++f_.raw_refused;  // reset on accept before the connect completed here
      } else if (ec) {
        ++f_.connect_failed;
      } else {
        ++f_.raw_opened;
        const auto t0 = Clock::now();
        if (!co_await closed_before(s, end_)) {
          ++f_.raw_open_at_end;
          co_return;
        }
        const Ms lived = since(t0);
        if (lived < Figures::kRefusedWithin) {
          ++f_.raw_refused;
        } else {
          ++f_.raw_closed;
          f_.raw_lifetime_max_ms = std::max<std::int64_t>(f_.raw_lifetime_max_ms, lived.count());
        }
      }
      if (o_.once) co_return;
      co_await pause(o_.reconnect_delay);
    }
  }

  asio::awaitable<void> tls_worker() {
    const std::string body = build_init_body("https://" + o_.host + "/");
    const std::string request =
        build_request("POST", "/", auth_post_headers(o_.host, "", body.size()), body);
    while (!over()) {
      TlsStream stream(io_, tls_);
      boost::system::error_code ec, hs;
      {
        StepDeadline step(io_, stream.next_layer(), step_end());
        std::tie(ec) = co_await stream.lowest_layer().async_connect(o_.server, use_nothrow);
        if (!ec)
          std::tie(hs) =
              co_await stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
      }
      if (ec == asio::error::connection_reset || (!ec && hs)) {
        ++f_.tls_refused;  // reset on accept, sometimes before the connect completes here
      } else if (ec) {
        ++f_.connect_failed;
        ++f_.tls_refused;
      } else {
        ++f_.tls_opened;
        const auto t0 = Clock::now();
        bool closed = false;
        while (!closed && !over()) {
          auto [wec, n] = co_await asio::async_write(stream, asio::buffer(request), use_nothrow);
          // One response, then silence until the next POST is due.
          closed = wec || !co_await response_then_quiet(stream, Clock::now() + o_.every);
        }
        if (closed) {
          ++f_.tls_closed;
          f_.tls_lifetime(since(t0));
        } else {
          ++f_.tls_open_at_end;
          co_return;
        }
      }
      if (o_.once) co_return;
      co_await pause(o_.reconnect_delay);
    }
  }

  // One tunnel, then DPD requests (8-byte CSTP frames) in 64 KiB writes until the end; the
  // replies are never read, so they pile up on the server unless it bounds them.
  asio::awaitable<void> dpd_worker() {
    TlsStream stream(io_, tls_);
    {
      StepDeadline step(io_, stream.next_layer(), step_end());
      auto [ec] = co_await stream.lowest_layer().async_connect(o_.server, use_nothrow);
      if (ec) co_return;
      auto [hs] = co_await stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
      if (hs) co_return;
      const std::string connect = build_connect_request(o_.host, o_.dpd_token);
      auto [wec, wn] = co_await asio::async_write(stream, asio::buffer(connect), use_nothrow);
      if (wec) co_return;
      ResponseParser parser(true);
      std::vector<char> buf(16 * 1024);
      while (parser.state() == ResponseParser::State::need_more) {
        auto [rec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
        if (rec) co_return;
        parser.feed(std::string_view(buf.data(), n));
      }
      if (parser.state() != ResponseParser::State::complete) co_return;
      f_.dpd_status = parser.response().status;
    }
    if (f_.dpd_status != 200) co_return;
    static constexpr std::uint8_t kDpdRequest[8] = {'S', 'T', 'F', 1, 0, 0, 3, 0};
    std::vector<std::uint8_t> batch;
    for (int i = 0; i < 8192; ++i) batch.insert(batch.end(), kDpdRequest, kDpdRequest + 8);
    StepDeadline until_end(io_, stream.next_layer(), end_);
    while (!over()) {
      auto [ec, n] = co_await asio::async_write(stream, asio::buffer(batch), use_nothrow);
      f_.dpd_requests_sent += n / sizeof kDpdRequest;
      if (ec) break;
    }
    f_.dpd_closed = !over();
  }

  // Reads one response and waits until `next` (or the end). False when the server closed.
  asio::awaitable<bool> response_then_quiet(TlsStream& stream, Clock::time_point next) {
    ResponseParser parser(false);
    std::vector<char> buf(16 * 1024);
    StepDeadline step(io_, stream.next_layer(), step_end());
    while (parser.state() == ResponseParser::State::need_more) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) co_return false;
      parser.feed(std::string_view(buf.data(), n));
    }
    if (parser.state() == ResponseParser::State::error) co_return false;
    ++f_.tls_responses;
    if (!parser.response().keep_alive()) co_return false;
    co_return !co_await closed_before(stream, std::min(next, end_));
  }

  Options o_;
  asio::io_context io_{1};
  asio::ssl::context tls_;
  Clock::time_point end_;
  Figures f_;
};

bool parse_int(std::string_view s, int lo, int hi, int& out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_args(int argc, char** argv, Options& o) {
  bool have_server = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--once") {
      o.once = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string_view v = argv[++i];
    int n = 0;
    if (a == "--server") {
      const auto colon = v.rfind(':');
      int port = 0;
      boost::system::error_code ec;
      if (colon == v.npos || !parse_int(v.substr(colon + 1), 1, 65535, port)) return false;
      auto addr = asio::ip::make_address(std::string(v.substr(0, colon)), ec);
      if (ec) return false;
      o.server = tcp::endpoint(addr, static_cast<unsigned short>(port));
      o.host = std::string(v);
      have_server = true;
    } else if (a == "--dpd-flood" && !v.empty()) {
      o.dpd_token = std::string(v);
    } else if (a == "--raw" && parse_int(v, 0, 2000, n)) {
      o.raw = n;
    } else if (a == "--tls" && parse_int(v, 0, 2000, n)) {
      o.tls = n;
    } else if (a == "--every" && parse_int(v, 1, 600, n)) {
      o.every = Ms(n * 1000);
    } else if (a == "--duration" && parse_int(v, 1, 600, n)) {
      o.duration = Ms(n * 1000);
    } else if (a == "--reconnect-delay" && parse_int(v, 1, 60000, n)) {
      o.reconnect_delay = Ms(n);
    } else {
      return false;
    }
  }
  return have_server;
}

}  // namespace
}  // namespace tandem::load

int main(int argc, char** argv) {
  using namespace tandem::load;
  if (argc == 2 && std::string_view(argv[1]) == "--help") {
    std::cout << kUsage;
    return 0;
  }
  Options o;
  if (!parse_args(argc, argv, o)) {
    std::cerr << kUsage;
    return 2;
  }
  return Flood(std::move(o)).run();
}
