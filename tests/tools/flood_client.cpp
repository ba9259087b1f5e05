// tandem-flood: many connections from one address to the headend's TLS port, kept busy, for
// the limit tests (tests/e2e/test_flood_limits.sh). Run `tandem-flood --help` for the options.
//
// `--raw N` workers open a TCP connection and send nothing: a TLS handshake that never starts,
// as the server sees it. `--tls N` workers complete the handshake, then send the first POST of
// the login exchange every --every seconds on the same keep-alive connection, and never log in.
// When the server closes a connection (or refuses it), the worker opens another after
// --reconnect-delay, unless --once. Everything ends at --duration: every loop is bounded. At the
// end, one line of key=value figures on stdout.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>

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
    "  --raw N              TCP connections that send nothing (default 0, at most 2000)\n"
    "  --tls N              TLS connections sending a login-form POST every --every s\n"
    "                       (default 0, at most 2000)\n"
    "  --every S            seconds between POSTs on a TLS connection (default 2)\n"
    "  --duration S         stop after S seconds (default 30, at most 600)\n"
    "  --reconnect-delay MS pause before reopening a closed connection (default 250)\n"
    "  --once               do not reopen closed connections\n";

struct Options {
  tcp::endpoint server;
  std::string host;
  int raw = 0, tls = 0;
  Ms every{2000}, duration{30000}, reconnect_delay{250};
  bool once = false;
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

  void tls_lifetime(Ms d) {
    const auto ms = d.count();
    if (tls_lifetime_min_ms < 0 || ms < tls_lifetime_min_ms) tls_lifetime_min_ms = ms;
    if (ms > tls_lifetime_max_ms) tls_lifetime_max_ms = ms;
  }
  void print() const {
    std::printf(
        "connect_failed=%llu raw_opened=%llu raw_refused=%llu raw_closed=%llu "
        "raw_open_at_end=%llu raw_lifetime_max_ms=%lld tls_opened=%llu tls_refused=%llu "
        "tls_closed=%llu tls_open_at_end=%llu tls_responses=%llu tls_lifetime_min_ms=%lld "
        "tls_lifetime_max_ms=%lld\n",
        static_cast<unsigned long long>(connect_failed),
        static_cast<unsigned long long>(raw_opened), static_cast<unsigned long long>(raw_refused),
        static_cast<unsigned long long>(raw_closed),
        static_cast<unsigned long long>(raw_open_at_end),
        static_cast<long long>(raw_lifetime_max_ms), static_cast<unsigned long long>(tls_opened),
        static_cast<unsigned long long>(tls_refused), static_cast<unsigned long long>(tls_closed),
        static_cast<unsigned long long>(tls_open_at_end),
        static_cast<unsigned long long>(tls_responses), static_cast<long long>(tls_lifetime_min_ms),
        static_cast<long long>(tls_lifetime_max_ms));
  }
};

Ms since(Clock::time_point t0) { return std::chrono::duration_cast<Ms>(Clock::now() - t0); }

class Flood {
 public:
  explicit Flood(Options o)
      : o_(std::move(o)), tls_(make_client_tls()), end_(Clock::now() + o_.duration) {}

  int run() {
    for (int i = 0; i < o_.raw; ++i) asio::co_spawn(io_, raw_worker(), asio::detached);
    for (int i = 0; i < o_.tls; ++i) asio::co_spawn(io_, tls_worker(), asio::detached);
    io_.run();
    f_.print();
    return 0;
  }

 private:
  bool over() const { return Clock::now() >= end_; }

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
      if (auto [ec] = co_await s.async_connect(o_.server, use_nothrow); ec) {
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
      if (auto [ec] = co_await stream.lowest_layer().async_connect(o_.server, use_nothrow); ec) {
        ++f_.connect_failed;
      } else if (auto [hs] =
                     co_await stream.async_handshake(asio::ssl::stream_base::client, use_nothrow);
                 hs) {
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

  // Reads one response and waits until `next` (or the end). False when the server closed.
  asio::awaitable<bool> response_then_quiet(TlsStream& stream, Clock::time_point next) {
    ResponseParser parser(false);
    std::vector<char> buf(16 * 1024);
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
