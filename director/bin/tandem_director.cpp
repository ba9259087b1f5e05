// tandem-director: sends each new client to a member (docs/director.md).
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

#include "base/log.hpp"
#include "director/defaults.hpp"
#include "director/director_config.hpp"
#include "director/director_metrics.hpp"
#include "director/front.hpp"
#include "director/member_watch.hpp"
#include "etcd/client.hpp"
#include "node/metrics/http_endpoint.hpp"
#include "node/server/tls_setup.hpp"
#include "node/tls/certificate_expiry.hpp"

namespace {

using namespace tandem;

void usage() {
  std::fprintf(stderr,
               "usage: tandem-director --config FILE\n"
               "  Answers new VPN clients with a redirect to a member, in the foreground,\n"
               "  logging to stderr.\n");
}

// The certificate clients see, once at start: expired or expiring soon is worth a line.
void log_certificate(SSL_CTX* ctx, const std::string& path, std::chrono::seconds warn_before) {
  auto served = tls::served_certificates(ctx);
  if (!served || served->empty()) return;
  const auto& soonest = tls::soonest(*served);
  const auto left = tls::seconds_until_expiry(soonest.not_after_unix, wall_seconds());
  const auto state = tls::expiry_state(left, warn_before);
  const log::Level level = state == tls::ExpiryState::ok         ? log::Level::info
                           : state == tls::ExpiryState::expiring ? log::Level::warn
                                                                 : log::Level::error;
  log::event(level, state == tls::ExpiryState::ok ? "certificate" : "certificate_expiring",
             {{"path", path},
              {"subject", soonest.subject},
              {"not_after", tls::format_utc(soonest.not_after_unix)},
              {"state", tls::to_string(state)}});
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
      config_path = argv[++i];
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      usage();
      return 0;
    } else {
      std::fprintf(stderr, "tandem-director: unknown argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }
  if (config_path.empty()) {
    usage();
    return 2;
  }
  auto config = director::load_director_config(config_path);
  if (!config) {
    std::fprintf(stderr, "tandem-director: invalid configuration:\n%s\n", config.error().c_str());
    log::error("config_invalid", {{"reason", config.error()}});
    return 2;
  }
  log::Level level = log::Level::info;
  if (log::parse_level(config->log_level, level)) log::set_level(level);

  boost::asio::io_context io(1);
  auto identity = server::make_server_tls(config->tls_certificate, config->tls_private_key, "",
                                          "tandem-director");
  if (!identity) {
    log::error("startup_failed", {{"reason", "tls: " + identity.error()}});
    return 1;
  }
  boost::asio::ssl::context tls(identity->ctx);
  log::info("tls_certificate", {{"pin", identity->pin}, {"certificate", identity->certificate}});
  log_certificate(tls.native_handle(), identity->certificate,
                  std::chrono::duration_cast<std::chrono::seconds>(config->tls_expiry_warning));

  etcd::ClientSettings settings;
  settings.endpoints = config->endpoints;
  settings.ca = config->arbiter_ca;
  settings.certificate = config->arbiter_certificate;
  settings.private_key = config->arbiter_private_key;
  settings.request_timeout = director::defaults::kEtcdRequestTimeout;
  auto client = etcd::Client::create(
      settings, [&io](std::function<void()> f) { boost::asio::post(io, std::move(f)); });
  if (!client) {
    log::error("startup_failed", {{"reason", "etcd: " + client.error()}});
    return 1;
  }

  SteadyClock clock;
  director::DirectorStats stats;
  auto watch = std::make_shared<director::MemberWatch>(io, **client, clock, config->silent_after,
                                                       stats);
  std::mt19937_64 rng{std::random_device{}()};
  director::Random random = [&rng](std::size_t bound) {
    return std::uniform_int_distribution<std::size_t>(0, bound - 1)(rng);
  };
  const auto silent_after = config->silent_after;
  auto place = [&] {
    return director::place(watch->view().members(),
                           watch->view().silent(clock.now(), silent_after), random);
  };
  auto front = director::Front::open(io, tls, config->listen, clock, place, stats);
  if (!front) {
    log::error("startup_failed", {{"reason", front.error()}});
    return 1;
  }

  std::shared_ptr<metrics::HttpEndpoint> metrics_endpoint;
  if (!config->metrics_listen.empty()) {
    const auto& m = config->metrics_listen;
    const std::size_t colon = m.rfind(':');
    const server::tcp::endpoint at(boost::asio::ip::make_address(m.substr(0, colon)),
                                   static_cast<unsigned short>(std::stoi(m.substr(colon + 1))));
    auto endpoint = metrics::HttpEndpoint::open(io, at, [&] {
      const auto& view = watch->view();
      stats.members = view.members().size();
      stats.members_eligible = 0;
      for (const auto& [id, mem] : view.members())
        if (!mem.draining && !mem.degraded && mem.sessions < mem.capacity) ++stats.members_eligible;
      stats.silent = view.silent(clock.now(), silent_after);
      const auto last = view.last_contact();
      stats.seconds_since_contact =
          last ? std::chrono::duration<double>(clock.now() - *last).count() : -1.0;
      return director::render(stats, TANDEM_VERSION);
    });
    if (!endpoint) {
      log::error("startup_failed", {{"reason", "metrics_listen " + endpoint.error()}});
      return 1;
    }
    metrics_endpoint = std::move(*endpoint);
    metrics_endpoint->start();
  }

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signo) {
    if (ec) return;
    log::info("shutdown", {{"signal", std::to_string(signo)}});
    io.stop();
  });
  watch->start();
  (*front)->start();
  log::info("listening", {{"listen", config->listen},
                          {"etcd", config->endpoints.front()},
                          {"config", config->source}});
  io.run();
  watch->stop();
  log::info("stopped");
  // As tandemd: leave without tearing down what suspended coroutines still reference.
  std::fflush(nullptr);
  std::_Exit(0);
}
