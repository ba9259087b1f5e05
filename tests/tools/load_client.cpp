// tandem-load: creates and holds many AnyConnect sessions against one headend, for failover
// tests and benchmarks, directly or through a director's redirect (--follow-redirect; only the
// redirects with --redirect-only). Run `tandem-load --help` for the options.
//
// Everything runs as coroutines on one io_context thread. `--concurrency` workers take the next
// session (or token) from a shared counter, so at most that many logins/CONNECTs are in
// progress; a tunnel that comes up is handed to a HeldTunnel and the worker moves on. Every
// network step has a deadline (--step-timeout), retries have a deadline (--retry-for), and the
// hold ends after --hold seconds or at SIGINT/SIGTERM.
#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>

#include "tests/tools/held_dtls.hpp"
#include "tests/tools/held_tunnel.hpp"
#include "tests/tools/load_options.hpp"
#include "tests/tools/load_session.hpp"
#include "tests/tools/load_stats.hpp"

namespace tandem::load {
namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::duration<double, std::milli>;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
// Per-session error lines printed before we only count them (the summary has every message).
constexpr std::size_t kMaxErrorLines = 20;
// After SIGINT/SIGTERM, steps in flight get this long to finish before we stop regardless.
constexpr auto kSignalGrace = std::chrono::seconds(2);
constexpr auto kDefaultKeepalive = std::chrono::seconds(20);
constexpr auto kFirstRetryDelay = std::chrono::milliseconds(250);
constexpr auto kMaxRetryDelay = std::chrono::seconds(2);

SteadyDuration to_steady(Seconds s) { return std::chrono::duration_cast<SteadyDuration>(s); }

class Runner {
 public:
  Runner(Options options, std::vector<std::string> tokens)
      : options_(std::move(options)),
        tokens_(std::move(tokens)),
        tls_(make_client_tls()),
        target_{io_,          tls_,
                {},           {},
                options_.pin, to_steady(options_.step_timeout),
                {},           std::make_shared<std::size_t>(0)},
        signals_(io_, SIGINT, SIGTERM),
        hold_timer_(io_),
        grace_timer_(io_) {
    auto address = asio::ip::make_address(options_.server_ip);
    target_.endpoint = tcp::endpoint(address, options_.server_port);
    for (const auto& source : options_.sources) {
      target_.sources.push_back(asio::ip::make_address(source));
    }
    std::string host = address.is_v6() ? "[" + options_.server_ip + "]" : options_.server_ip;
    target_.host =
        options_.server_port == 443 ? host : host + ":" + std::to_string(options_.server_port);
    stats_.resume = options_.resume();
    stats_.redirect_only = options_.redirect_only;
    stats_.dtls = options_.dtls;
    stats_.planned = options_.resume() ? tokens_.size() : options_.sessions;
  }

  int run() {
    if (!options_.tokens_out.empty()) {
      // Truncated: a resume from this file must not meet tokens of an earlier run.
      tokens_out_.open(options_.tokens_out, std::ios::out | std::ios::trunc);
      if (!tokens_out_) {
        std::cerr << "tandem-load: cannot write --tokens-out " << options_.tokens_out << "\n";
        return kExitUsage;
      }
    }
    if (!options_.landed_out.empty()) {
      landed_out_.open(options_.landed_out, std::ios::out | std::ios::trunc);
      if (!landed_out_) {
        std::cerr << "tandem-load: cannot write --landed-out " << options_.landed_out << "\n";
        return kExitUsage;
      }
    }
    if (options_.pin.empty()) {
      std::cerr << "tandem-load: no --pin: the server certificate is not checked\n";
    }
    started_ = Clock::now();
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) on_signal();
    });
    workers_ = std::min(options_.concurrency, stats_.planned);
    for (std::size_t w = 0; w < workers_; ++w) asio::co_spawn(io_, worker(), asio::detached);
    io_.run();

    stats_.elapsed_s = Seconds(Clock::now() - started_).count();
    for (const auto& t : tunnels_) {
      stats_.keepalives_sent += t->counters().keepalives_sent;
      stats_.dpd_answered += t->counters().dpd_answered;
      stats_.frames_received += t->counters().frames_received;
    }
    for (const auto& [i, d] : dtls_) {
      stats_.keepalives_sent += d->keepalives_sent();
      stats_.dpd_answered += d->dpd_answered();
    }
    std::cout << summary_text(stats_) << std::flush;
    if (!options_.report_json.empty()) {
      std::ofstream json(options_.report_json, std::ios::out | std::ios::trunc);
      json << summary_json(stats_);
      if (!json.flush()) {
        std::cerr << "tandem-load: cannot write --report-json " << options_.report_json << "\n";
        return kExitUsage;
      }
    }
    bool all_ok = stats_.sessions_ok == stats_.planned && stats_.sessions_failed == 0 &&
                  stats_.dtls_failed == 0;
    return all_ok ? kExitOk : kExitFailed;
  }

 private:
  asio::awaitable<void> worker() {
    while (!stopping_ && next_ < stats_.planned) {
      const std::size_t i = next_++;
      // One co_await per statement: g++ 12 runs the awaits of every arm of a conditional
      // expression (seen here: each session logged in and redirected twice).
      bool ok = false;
      if (options_.resume()) {
        ok = co_await resume_one(i);
      } else if (options_.redirect_only) {
        ok = co_await redirect_one(i);
      } else {
        ok = co_await session_one(i);
      }
      ++(ok ? stats_.sessions_ok : stats_.sessions_failed);
    }
    if (--workers_ == 0) setup_done();
  }

  asio::awaitable<bool> session_one(std::size_t i) {
    const auto t0 = Clock::now();
    if (!first_login_) first_login_ = t0;
    auto in = co_await login(target_, options_.user, options_.password, options_.follow_redirect);
    const auto t1 = Clock::now();
    stats_.login_window_s = Seconds(t1 - *first_login_).count();
    if (!in) {
      ++stats_.logins_failed;
      report(i, "login: " + in.error());
      co_return false;
    }
    ++stats_.logins_ok;
    stats_.login_ms.push_back(Millis(t1 - t0).count());
    if (in->member) ++stats_.redirects;
    land(i, in->landed);
    if (tokens_out_.is_open()) {
      // Flushed before anything else happens: the failover test relies on every token the
      // headend handed out being in this file, even if we are killed a moment later.
      tokens_out_ << in->token << '\n' << std::flush;
      if (!tokens_out_) {
        report(i, "could not record the token in --tokens-out");
        co_return false;
      }
    }
    if (!options_.connect) co_return true;
    // The token is only good at the member that issued it.
    co_return co_await connect_and_hold(i, in->token, in->member ? *in->member : target_);
  }

  // --redirect-only: the first request to the director, nothing more.
  asio::awaitable<bool> redirect_one(std::size_t i) {
    const auto t0 = Clock::now();
    if (!first_login_) first_login_ = t0;
    auto r = co_await ask_director(target_);
    stats_.redirect_window_s = Seconds(Clock::now() - *first_login_).count();
    if (!r) {
      report(i, r.error());
      co_return false;
    }
    ++stats_.redirects;
    stats_.redirect_ms.push_back(r->latency.count());
    land(i, r->to.authority);
    co_return true;
  }

  void land(std::size_t i, const std::string& authority) {
    ++stats_.landed[authority];
    if (landed_out_.is_open()) landed_out_ << i << ' ' << authority << '\n';
  }

  asio::awaitable<bool> resume_one(std::size_t i) {
    co_return co_await connect_and_hold(i, tokens_[i], target_);
  }

  // CONNECT with retries on connection errors and 503 (the active may be promoting), then hold.
  asio::awaitable<bool> connect_and_hold(std::size_t i, std::string token, Target at) {
    const auto deadline = Clock::now() + to_steady(options_.effective_retry_for());
    SteadyDuration delay = kFirstRetryDelay;
    for (;;) {
      ++stats_.connect_attempts;
      Connected c = co_await connect_tunnel(at, token, options_.dtls);
      bool retryable = c.outcome == ConnectOutcome::connection_failed ||
                       c.outcome == ConnectOutcome::unavailable;
      if (const auto now = Clock::now(); retryable && !stopping_ && now < deadline) {
        // The last attempt lands on the deadline, so the whole --retry-for window is covered.
        ++stats_.connect_retries;
        asio::steady_timer pause(io_, std::min<SteadyDuration>(delay, deadline - now));
        co_await pause.async_wait(use_nothrow);
        delay = std::min<SteadyDuration>(delay * 2, kMaxRetryDelay);
        continue;
      }
      ++stats_.connects[c.outcome];
      if (c.outcome != ConnectOutcome::ok) {
        report(i, std::string("CONNECT ") + to_string(c.outcome) + ": " + c.detail);
        co_return false;
      }
      stats_.connect_ms.push_back(c.latency.count());
      hold(i, std::move(c));
      co_return true;
    }
  }

  static long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  // --ready-out: written once, as the last planned tunnel comes up (whole, by a rename).
  void write_ready() const {
    const std::string tmp = options_.ready_out + ".tmp";
    {
      std::ofstream out(tmp, std::ios::out | std::ios::trunc);
      out << first_up_ms_ << ' ' << wall_ms() << ' ' << stats_.tunnels_up << '\n';
    }
    if (std::rename(tmp.c_str(), options_.ready_out.c_str()) != 0)
      std::cerr << "tandem-load: cannot write --ready-out " << options_.ready_out << "\n";
  }

  void hold(std::size_t i, Connected c) {
    if (stats_.tunnels_up++ == 0) first_up_ms_ = wall_ms();
    if (stats_.tunnels_up == stats_.planned && !options_.ready_out.empty()) write_ready();
    SteadyDuration keepalive = options_.keepalive
                                   ? to_steady(*options_.keepalive)
                                   : SteadyDuration(c.keepalive.value_or(kDefaultKeepalive));
    auto tunnel = std::make_shared<HeldTunnel>(i, std::move(c.connection), std::move(c.leftover),
                                               keepalive, to_steady(options_.step_timeout),
                                               [this](const HeldTunnel& t) { on_tunnel_end(t); });
    tunnels_.push_back(tunnel);
    ++live_tunnels_;
    if (options_.dtls) hold_dtls(i, c, keepalive);
    tunnel->start();
    if (stopping_) tunnel->release();  // a signal arrived while this CONNECT was in flight
  }

  void hold_dtls(std::size_t i, Connected& c, SteadyDuration keepalive) {
    if (!c.dtls) {
      ++stats_.dtls_failed;
      report(i, "DTLS: " + c.no_dtls);
      return;
    }
    if (c.dtls->keepalive && !options_.keepalive) keepalive = *c.dtls->keepalive;
    auto dtls = std::make_shared<HeldDtls>(
        io_, i, std::move(*c.dtls), keepalive, to_steady(options_.step_timeout),
        [this](const HeldDtls& d, HeldDtls::Event e, const std::string& why) {
          on_dtls_event(d, e, why);
        });
    dtls_[i] = dtls;
    dtls->start();
  }

  void on_dtls_event(const HeldDtls& d, HeldDtls::Event e, const std::string& why) {
    switch (e) {
      case HeldDtls::Event::up:
        ++stats_.dtls_up;
        return;
      case HeldDtls::Event::failed:
        ++stats_.dtls_failed;
        report(d.index(), why);
        return;
      case HeldDtls::Event::lost:
        ++stats_.dtls_lost;
        report(d.index(), "DTLS lost: " + why);
        return;
    }
  }

  void on_tunnel_end(const HeldTunnel& t) {
    --live_tunnels_;
    if (auto d = dtls_.find(t.index()); d != dtls_.end()) d->second->release();
    if (!t.released()) {
      ++stats_.tunnels_lost;
      report(t.index(), "tunnel lost: " + t.end_reason());
    }
    // Nothing left to hold: do not wait out the hold (or a signal) for nothing.
    if (live_tunnels_ == 0 && workers_ == 0) finish();
  }

  // All sessions are set up (or failed): hold what is up, then let go.
  void setup_done() {
    if (stopping_ || live_tunnels_ == 0) {
      finish();
      return;
    }
    if (!options_.hold) {
      std::cerr << "tandem-load: holding " << live_tunnels_ << " tunnels until SIGINT/SIGTERM\n";
      return;
    }
    if (*options_.hold == Seconds{0}) {
      finish();
      return;
    }
    std::cerr << "tandem-load: holding " << live_tunnels_ << " tunnels for "
              << options_.hold->count() << " s\n";
    hold_timer_.expires_after(to_steady(*options_.hold));
    hold_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) finish();
    });
  }

  // Ends the run: every tunnel is released and no new work starts; io_.run() then returns.
  void finish() {
    if (finished_) return;
    finished_ = stopping_ = true;
    hold_timer_.cancel();
    signals_.cancel();
    grace_timer_.cancel();
    for (auto& t : tunnels_) t->release();
  }

  void on_signal() {
    stats_.interrupted = true;
    stopping_ = true;
    std::cerr << "tandem-load: signal: releasing tunnels, finishing steps in flight\n";
    for (auto& t : tunnels_) t->release();
    if (workers_ == 0) {
      finish();
      return;
    }
    // Steps in flight are bounded by --step-timeout, but a signal should not wait that long;
    // a second signal stops at once.
    grace_timer_.expires_after(kSignalGrace);
    grace_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) io_.stop();
    });
    signals_.async_wait([this](boost::system::error_code ec, int) {
      if (!ec) io_.stop();
    });
  }

  void report(std::size_t i, const std::string& message) {
    ++stats_.errors[message];
    if (options_.quiet) return;
    if (++error_lines_ <= kMaxErrorLines) {
      std::cerr << "tandem-load: " << (options_.resume() ? "token " : "session ") << i << ": "
                << message << "\n";
    } else if (error_lines_ == kMaxErrorLines + 1) {
      std::cerr << "tandem-load: further errors are only counted (see the summary)\n";
    }
  }

  Options options_;
  std::vector<std::string> tokens_;  // --resume-from
  asio::io_context io_;
  asio::ssl::context tls_;
  Target target_;
  asio::signal_set signals_;
  asio::steady_timer hold_timer_;
  asio::steady_timer grace_timer_;
  std::ofstream tokens_out_;
  std::ofstream landed_out_;
  Stats stats_;
  Clock::time_point started_;
  std::optional<Clock::time_point> first_login_;
  std::size_t next_ = 0;
  std::size_t workers_ = 0;
  std::size_t live_tunnels_ = 0;
  long long first_up_ms_ = 0;  // wall-clock time the first tunnel came up (--ready-out)
  std::vector<std::shared_ptr<HeldTunnel>> tunnels_;
  std::map<std::size_t, std::shared_ptr<HeldDtls>> dtls_;  // --dtls: by session index
  bool stopping_ = false;
  bool finished_ = false;
  std::size_t error_lines_ = 0;
};

// Many sessions need many descriptors; the hard limit is usually far above the soft one.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace
}  // namespace tandem::load

int main(int argc, char** argv) {
  using namespace tandem::load;
  std::vector<std::string_view> args(argv + 1, argv + argc);
  auto options = parse_options(args);
  if (!options) {
    if (options.error().empty()) {
      std::cout << usage_text();
      return kExitOk;
    }
    std::cerr << "tandem-load: " << options.error() << "\n(tandem-load --help for usage)\n";
    return kExitUsage;
  }
  std::vector<std::string> tokens;
  if (options->resume()) {
    auto read = read_tokens(options->resume_from);
    if (!read) {
      std::cerr << "tandem-load: " << read.error() << "\n";
      return kExitUsage;
    }
    tokens = std::move(*read);
  }
  raise_descriptor_limit();
  Runner runner(std::move(*options), std::move(tokens));
  return runner.run();
}
