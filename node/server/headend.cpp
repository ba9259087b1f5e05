#include "node/server/headend.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "base/log.hpp"
#include "node/admin/admin_server.hpp"
#include "node/config/defaults.hpp"
#include "node/metrics/http_endpoint.hpp"
#include "node/profile/profile_file.hpp"
#include "node/radius/accounting.hpp"
#include "node/radius/accounting_sender.hpp"
#include "node/radius/radius_client.hpp"
#include "node/server/accounting_hooks.hpp"
#include "node/server/admin_backend.hpp"
#include "node/server/certificate_monitor.hpp"
#include "node/server/client_certificates.hpp"
#include "node/server/data_workers.hpp"
#include "node/server/dtls_server.hpp"
#include "node/server/front_door.hpp"
#include "node/server/metrics_source.hpp"
#include "node/server/profiles.hpp"
#include "node/server/role.hpp"
#include "node/server/tls_setup.hpp"
#include "node/server/traffic_policy.hpp"
#include "node/server/tun_router.hpp"
#include "node/session/session_record.hpp"
#include "node/tls/certificate_expiry.hpp"
#include "node/tun/tun_device.hpp"

namespace tandem::server {

namespace {

// Password hashing is what a login spends its CPU on, and it runs on this pool while the I/O
// thread only waits for it: one thread per CPU this process may run on (its affinity mask, so
// taskset and cpusets count), and at least two.
unsigned hash_threads() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  int n = sched_getaffinity(0, sizeof(cpus), &cpus) == 0 ? CPU_COUNT(&cpus) : 0;
  return std::max(2u, static_cast<unsigned>(n));
}

// "ip:port" or "[ipv6]:port" (net::valid_listen_any).
Result<tcp::endpoint> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) return fail("listen '" + listen + "' is not ip:port");
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(net::listen_host(listen), ec);
  if (ec) return fail("listen '" + listen + "': bad address");
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    return fail("listen '" + listen + "': bad port");
  }
  if (port < 1 || port > 65535) return fail("listen '" + listen + "': bad port");
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

void allow_nonlocal_bind(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
}

void warn_if_not_forwarding(const config::Config& config) {
  std::ifstream f("/proc/sys/net/ipv4/ip_forward");
  char c = '0';
  if (f >> c && c == '0')
    log::warn("ip_forwarding_off",
              {{"detail", "net.ipv4.ip_forward is 0: clients reach only this headend"},
               {"routes", std::to_string(config.routes.size())}});
}

}  // namespace

struct Headend::Impl {
  explicit Impl(config::Config c)
      : config(std::move(c)),
        front_limits(front_door_settings(config.limits, defaults::kMaxFrontConnections)),
        login_throttle(clock, auth::throttle_settings(config.limits, defaults::kMaxPendingLogins)),
        role(io),
        signals(io, SIGINT, SIGTERM),
        reload_signal(io, SIGHUP),
        acceptor(io) {}

  config::Config config;
  SteadyClock clock;
  // Before the io_context: connection coroutines still suspended when it is destroyed give
  // their places back to these on the way out.
  FrontDoorLimits front_limits;
  auth::LoginThrottle login_throttle;
  asio::io_context io{1};
  // Made in start(): its threads must not exist before the privilege drop (open() runs first).
  std::optional<asio::thread_pool> hash_pool;
  // Made in start() too (threads). After io: destroyed first, so the requests it finishes hand
  // their results to a live io_context.
  std::unique_ptr<radius::RadiusClient> radius;
  // After the client: goes first, while the client's workers can still answer it.
  std::unique_ptr<radius::Accounting> accounting;
  std::unique_ptr<asio::ssl::context> tls;
  CertificateMonitor certificates;
  std::unique_ptr<session::SessionTable> sessions;
  std::unique_ptr<Runtime> rt;
  std::unique_ptr<TunRouter> tun;
  std::unique_ptr<DtlsServer> dtls;
  // After the TUN router and the DTLS server: destroyed first, so the jobs it still runs find
  // them alive. Null with one data-plane thread.
  std::unique_ptr<DataWorkers> data_workers;
  // From open() to start(): what was made while the process still had root.
  std::optional<net::Ipv4Net> pool_net;
  std::optional<tun::TunDevice> tun_device;
  std::optional<asio::ip::udp::socket> dtls_socket;
  NodeRole role;
  Replication* replication = nullptr;
  asio::signal_set signals;
  asio::signal_set reload_signal;
  tcp::acceptor acceptor;
  std::unique_ptr<HeadendAdmin> admin_backend;
  std::unique_ptr<admin::AdminServer> admin_server;
  std::shared_ptr<metrics::HttpEndpoint> metrics;  // null unless metrics_listen is set
  const std::uint64_t started_unix = static_cast<std::uint64_t>(wall_seconds());
  std::function<void(Headend::Lifecycle, const std::string&)> lifecycle;

  void wait_for_reload() {
    reload_signal.async_wait([this](const boost::system::error_code& ec, int) {
      if (ec) return;
      if (lifecycle) lifecycle(Headend::Lifecycle::reloading, "");
      auto r = reload_configuration(*rt);  // logs its own outcome
      if (lifecycle)
        lifecycle(Headend::Lifecycle::reloaded, r ? *r : "reload refused: " + r.error());
      wait_for_reload();
    });
  }

  // The policy timers (S3-S8) are evaluated for every session a few times per second: cheap
  // (a comparison per timer) and precise enough for second-granularity settings.
  asio::awaitable<void> timer_sweep() {
    asio::steady_timer tick(io);
    for (;;) {
      tick.expires_after(std::chrono::milliseconds(250));
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec) co_return;
      // Only the active expires sessions; a standby's mirror follows the active's decisions.
      if (!rt->serving()) continue;
      sessions->run_timers(
          [this](const session::Session& s) -> const config::Policy& { return rt->policy_for(s); });
      account_interims(*rt);
      // Counters and tunnel changes reach the standby about once a second (not acknowledged).
      if (++ticks % 4 == 0) role.flush_changes();
    }
  }
  unsigned ticks = 0;

  // Expiry is logged at start and at every reload; this repeats it daily, so that a node that
  // runs for months still warns as the date comes closer.
  asio::awaitable<void> certificate_watch() {
    asio::steady_timer tick(io);
    for (;;) {
      tick.expires_after(defaults::kCertificateCheckInterval);
      auto [ec] = co_await tick.async_wait(use_nothrow);
      if (ec) co_return;
      certificates.check(wall_seconds(), warn_before(rt->config), false);
    }
  }

  // Out of descriptors (EMFILE, ENFILE) or kernel memory, accept() fails and leaves the
  // connection in the listen queue, so the next accept() fails at once again: retrying at once
  // spins the I/O thread and writes a log line per turn (seen: 4.9 million lines in 68 s). The
  // queued connection is refused instead, with the descriptor kept spare for that: closed, the
  // connection accepted on it and reset, the spare taken again. Without a spare (the kernel, not
  // the process, is out), accepting pauses a moment. Either way the tunnels keep being served.
  int spare_fd = -1;
  struct CloseSpare {
    int& fd;
    ~CloseSpare() {
      if (fd >= 0) ::close(fd);
    }
  } close_spare{spare_fd};

  void take_spare_fd() {
    if (spare_fd < 0) spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  // After accept failed with `ec`: refuses the connection at the head of the queue. At the
  // limit, accept fails before it looks at the queue (the descriptor comes first), so the queue
  // may well be empty. not_refused: no spare descriptor, a failure not for want of one, or
  // another thread took the freed descriptor first.
  enum class Queued { refused, none_waiting, not_refused };
  Queued refuse_queued(const boost::system::error_code& ec) {
    const bool descriptors = ec == asio::error::no_descriptors || ec.value() == ENFILE;
    if (!descriptors || spare_fd < 0) return Queued::not_refused;
    ::close(spare_fd);
    spare_fd = -1;
    sockaddr_storage from{};
    socklen_t from_len = sizeof from;
    int fd = ::accept4(acceptor.native_handle(), reinterpret_cast<sockaddr*>(&from), &from_len,
                       SOCK_CLOEXEC);
    const int accept_errno = errno;
    std::string peer = "-";
    if (fd >= 0) {
      linger reset{1, 0};  // RST: neither side keeps state for it
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      ::close(fd);
      if (from.ss_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(&from);
        peer = asio::ip::address_v4(ntohl(in->sin_addr.s_addr)).to_string() + ":" +
               std::to_string(ntohs(in->sin_port));
      }
    }
    const bool none_waiting = fd < 0 && (accept_errno == EAGAIN || accept_errno == EWOULDBLOCK);
    take_spare_fd();
    if (none_waiting) return Queued::none_waiting;
    if (fd < 0) return Queued::not_refused;
    rt->front.limits.count_refusal(FrontDoorLimits::Refusal::descriptors);
    std::uint64_t suppressed = 0;
    if (rt->front.connection_refusal_log.allow(rt->clock.now(), suppressed)) {
      rlimit files{};
      ::getrlimit(RLIMIT_NOFILE, &files);
      log::warn("connection_refused", {{"public", peer},
                                       {"reason", "descriptors"},
                                       {"limit", std::to_string(files.rlim_cur)},
                                       {"error", ec.message()},
                                       {"suppressed", std::to_string(suppressed)}});
    }
    return Queued::refused;
  }

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause(io);
    take_spare_fd();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(use_nothrow);
      if (ec) {
        if (ec == asio::error::operation_aborted) co_return;
        const Queued queued = refuse_queued(ec);
        if (queued == Queued::refused) continue;
        std::uint64_t suppressed = 0;
        // At the descriptor limit with nobody waiting there is nothing to say: look again soon.
        if (queued == Queued::not_refused &&
            rt->front.connection_refusal_log.allow(rt->clock.now(), suppressed)) {
          log::warn("accept_failed",
                    {{"reason", ec.message()}, {"suppressed", std::to_string(suppressed)}});
        }
        pause.expires_after(defaults::kAcceptRetryPause);
        co_await pause.async_wait(use_nothrow);
        // Another thread (the store's) may have taken the descriptor freed for a refusal:
        // take a spare again once one is free.
        take_spare_fd();
        continue;
      }
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // CSTP frames are latency-sensitive
      asio::co_spawn(io, serve_front_connection(*rt, std::move(socket)), asio::detached);
    }
  }
};

Headend::Headend(config::Config config) : impl_(std::make_unique<Impl>(std::move(config))) {}
Headend::~Headend() = default;

ReplicaHost& Headend::replica_host() { return impl_->role; }

Result<bool> Headend::open() {
  Impl& m = *impl_;
  const config::Config& cfg = m.config;
  log::Level level = log::Level::info;
  if (log::parse_level(cfg.log_level, level)) log::set_level(level);

  std::error_code fs_ec;
  std::filesystem::create_directories(cfg.state_dir, fs_ec);
  if (fs_ec) return fail("state_dir " + cfg.state_dir + ": " + fs_ec.message());
  std::filesystem::permissions(cfg.state_dir, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::replace, fs_ec);

  // The keys are read here, as root: they need not be readable by [process] user, and a new
  // certificate takes a restart.
  auto identity =
      make_server_tls(cfg.tls_certificate, cfg.tls_private_key, cfg.state_dir, cfg.node_id);
  if (!identity) return fail("tls: " + identity.error());
  m.tls = std::make_unique<asio::ssl::context>(identity->ctx);
  if (identity->self_signed)
    log::info("tls_self_signed", {{"pin", identity->pin}, {"certificate", identity->certificate}});
  else
    log::info("tls_certificate", {{"pin", identity->pin}, {"certificate", identity->certificate}});
  auto served = tls::served_certificates(m.tls->native_handle());
  if (!served)
    log::warn("certificate_unreadable", {{"certificate", "tls"}, {"reason", served.error()}});
  m.certificates = CertificateMonitor::create(
      served ? *served : std::vector<tls::CertificateInfo>{}, identity->certificate, cfg.peer);
  m.certificates.check(wall_seconds(), warn_before(cfg), false);

  auto pool_net = net::parse_cidr(cfg.pool_ipv4);
  if (!pool_net) return fail("pool.ipv4: " + pool_net.error());
  m.pool_net = *pool_net;
  int mtu = 0;
  for (const auto& [name, p] : cfg.policies) mtu = std::max(mtu, p.mtu);
  session::AddressPool pool(*pool_net);
  auto dev =
      tun::TunDevice::open({cfg.tun_name, pool.gateway(), pool_net->prefix, mtu, cfg.tun_offload});
  if (!dev) return fail("tun: " + dev.error());
  // An older kernel, or one without TUN offloads: one packet per read, as without them.
  if (!dev->offload_refused().empty())
    log::warn("tun_offload_off", {{"reason", dev->offload_refused()}});
  // Down until this node is the active one: a standby must not attract the pool's traffic.
  if (auto r = tun::TunDevice::set_link_up(dev->name(), false); !r)
    return fail("tun: " + r.error());
  m.tun_device.emplace(std::move(*dev));

  auto ep = parse_listen(cfg.listen);
  if (!ep) return fail(ep.error());
  boost::system::error_code ec;
  m.acceptor.open(ep->protocol(), ec);
  if (!ec) m.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  // The listen address may be the member's service address, which only the active holds.
  if (!ec) allow_nonlocal_bind(m.acceptor.native_handle());
  if (!ec) m.acceptor.bind(*ep, ec);
  if (!ec) m.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen " + cfg.listen + ": " + ec.message());

  // DTLS on the same address and port, over UDP (what openconnect expects by default).
  auto udp_socket = DtlsServer::bind(m.io, asio::ip::udp::endpoint(ep->address(), ep->port()));
  if (!udp_socket) return fail(udp_socket.error());
  m.dtls_socket.emplace(std::move(*udp_socket));

  if (!cfg.metrics_listen.empty()) {
    auto at = parse_listen(cfg.metrics_listen);
    if (!at) return fail("metrics_listen: " + at.error());
    // Scrapes are served from start() on, when the runtime exists.
    auto endpoint = metrics::HttpEndpoint::open(
        m.io, *at, [&m] { return metrics::render(metrics_snapshot(*m.rt, m.started_unix)); });
    if (!endpoint) return fail("metrics_listen " + endpoint.error());
    m.metrics = std::move(*endpoint);
  }
  return true;
}

Result<bool> Headend::start(Replication& replication) {
  Impl& m = *impl_;
  const config::Config& cfg = m.config;
  if (!m.tun_device) return fail("start() before open()");
  m.hash_pool.emplace(hash_threads());
  if (cfg.radius.enabled) {
    auto client = radius::RadiusClient::create(cfg.radius, defaults::kRadiusWorkers);
    if (!client) return fail("radius: " + client.error());
    m.radius = std::move(*client);
    std::string servers;
    for (const auto& s : cfg.radius.servers) servers += (servers.empty() ? "" : ",") + s.text();
    log::info(
        "radius_ready",
        {{"servers", servers},
         {"timeout", std::to_string(cfg.radius.timeout.count() / 1000) + "s"},
         {"retries", std::to_string(cfg.radius.retries)},
         {"worst_case", std::to_string(config::radius_worst_case(cfg.radius).count() / 1000) + "s"},
         {"nas_identifier", cfg.radius.nas_identifier}});
  }

  std::error_code fs_ec;
  std::shared_ptr<const auth::UserDb> users;
  if (std::filesystem::exists(cfg.users_file, fs_ec)) {
    // Read as [process] user, as every reload will: a file it cannot read stops start-up now.
    auto db = auth::UserDb::load(cfg.users_file);
    if (!db && ::geteuid() != 0)
      return fail(db.error() + " (read as [process] user, at start and at every reload: give " +
                  "the file to its group with mode 0640)");
    if (!db) return fail(db.error());
    users = std::make_shared<const auth::UserDb>(std::move(*db));
  } else {
    log::warn("users_file_missing",
              {{"path", cfg.users_file}, {"detail", "nobody can log in until it exists"}});
    users = std::make_shared<const auth::UserDb>();
  }
  // The profiles too: load_config read them before the drop, every reload reads them after it.
  for (const auto& [name, group] : cfg.tunnel_groups) {
    if (group.profile_path.empty()) continue;
    if (auto p = profile::load_profile_file(group.profile_path); !p)
      return fail("tunnel_group." + name + ".profile: " + p.error() +
                  (::geteuid() != 0 ? " (read as [process] user, at start and at every reload: "
                                      "give the file to its group with mode 0640)"
                                    : ""));
  }
  log_profiles(cfg);

  const net::Ipv4Net pool_net = *m.pool_net;
  std::optional<session::AddressPool6> pool6;
  if (!cfg.pool_ipv6.empty()) {
    auto net6 = net::parse_cidr6(cfg.pool_ipv6);
    if (!net6) return fail("pool.ipv6: " + net6.error());
    pool6.emplace(*net6);
  }
  m.sessions =
      std::make_unique<session::SessionTable>(session::AddressPool(pool_net), m.clock, pool6);
  m.replication = &replication;
  m.sessions->set_sink(&replication);
  // A restarted node comes back with every session it had; clients resume with their tokens.
  auto stored = replication.stored_sessions();
  if (!stored) return fail("session store: " + stored.error());
  for (const auto& record : *stored) m.sessions->restore(session::from_record(record));

  std::string tun_name = m.tun_device->name();

  m.rt = std::make_unique<Runtime>(
      m.io, m.clock, cfg, users, *m.sessions, m.role.state(), &replication,
      FrontDoorState{
          .tls = *m.tls,
          .hash_pool = *m.hash_pool,
          .limits = m.front_limits,
          .login_throttle = m.login_throttle,
          .server_name = std::string("tandem ") + TANDEM_VERSION + " (" + cfg.node_id + ")"});
  m.rt->certificates = &m.certificates;
  apply_session_limit(*m.rt);
  watch_session_ends(*m.rt);
  m.rt->front.radius = m.radius.get();
  if (m.radius && !cfg.radius.accounting_servers.empty()) {
    auto queue = radius::AccountingQueue::open(cfg.state_dir + "/accounting",
                                               defaults::kAccountingQueueRecords);
    if (!queue) return fail("radius accounting: " + queue.error());
    m.accounting = std::make_unique<radius::Accounting>(
        m.io, radius::AccountingPolicy{cfg.radius.nas_identifier, cfg.radius.interim_interval},
        std::move(*queue), std::make_unique<radius::RadiusAccountingSender>(m.io, *m.radius));
    m.rt->accounting = m.accounting.get();
  }
  // Read as [process] user, as every reload will.
  auto client_trust = load_client_trust(cfg);
  if (!client_trust) return fail("tls: " + client_trust.error());
  install_client_trust(*m.rt, std::move(*client_trust));
  auto traffic = compile_traffic_policies(cfg, pool_net);
  if (!traffic) return fail("traffic policy: " + traffic.error());
  install_traffic_policies(m.rt->tunnels, std::move(*traffic));
  m.role.attach(*m.rt, tun_name);
  const bool vnet_header = m.tun_device->vnet_header();
  // The I/O thread is one of the data plane's threads; the others are workers.
  const unsigned threads = data_threads(cfg.data_threads);
  if (threads > 1) m.data_workers = std::make_unique<DataWorkers>(threads - 1);
  m.tun = std::make_unique<TunRouter>(m.rt->tunnels, m.tun_device->release(), vnet_header,
                                      m.data_workers.get());
  m.tun_device.reset();
  m.rt->tunnels.tun = m.tun.get();

  auto dtls = DtlsServer::open(m.rt->tunnels, m.rt->front.connection_refusal_log,
                               std::move(*m.dtls_socket), m.data_workers.get());
  m.dtls_socket.reset();
  if (!dtls) return fail(dtls.error());
  m.dtls = std::move(*dtls);
  m.rt->tunnels.dtls = m.dtls.get();
  m.dtls->start();

  warn_if_not_forwarding(cfg);
  m.tun->start();
  asio::co_spawn(m.io, m.accept_loop(), asio::detached);
  asio::co_spawn(m.io, m.timer_sweep(), asio::detached);
  asio::co_spawn(m.io, m.certificate_watch(), asio::detached);
  m.admin_backend = std::make_unique<HeadendAdmin>(*m.rt);
  auto admin = admin::AdminServer::start(cfg.admin_socket, *m.admin_backend);
  if (!admin) return fail(admin.error());
  m.admin_server = std::move(*admin);
  m.signals.async_wait([&m](const boost::system::error_code& sig_ec, int signo) {
    if (sig_ec) return;
    log::info("shutdown", {{"signal", std::to_string(signo)}});
    if (m.lifecycle) m.lifecycle(Lifecycle::stopping, "signal " + std::to_string(signo));
    m.io.stop();
  });
  m.wait_for_reload();
  if (m.metrics) {
    m.metrics->start();
    log::info("metrics_listening", {{"address", cfg.metrics_listen}});
  }
  const SessionLimit& limit = m.rt->session_limit;
  log::info("listening", {{"address", cfg.listen},
                          {"node", cfg.node_id},
                          {"tun", tun_name},
                          {"pool", cfg.pool_ipv4},
                          {"pool6", cfg.pool_ipv6.empty() ? "-" : cfg.pool_ipv6},
                          {"users", std::to_string(users->size())},
                          {"sessions", std::to_string(m.sessions->size())},
                          {"hash_threads", std::to_string(hash_threads())},
                          {"data_threads", std::to_string(data_threads(cfg.data_threads))},
                          {"max_sessions", std::to_string(limit.sessions)},
                          {"max_sessions_from", limit.from},
                          {"memory", limit.memory ? std::to_string(limit.memory->bytes) : "-"},
                          {"memory_from", limit.memory ? limit.memory->from : "-"},
                          {"config", cfg.source}});
  if (auto r = replication.start(); !r) return fail("replication: " + r.error());
  return true;
}

void Headend::run() {
  impl_->io.run();
  // tandemd leaves without the destructors (see its main): what accounting still holds goes
  // to disk now.
  if (impl_->accounting) impl_->accounting->stop();
  impl_->admin_server.reset();  // before the I/O loop's state goes away
  if (impl_->replication) impl_->replication->stop();
}
void Headend::stop() { impl_->io.stop(); }
void Headend::on_lifecycle(std::function<void(Lifecycle, const std::string&)> observer) {
  impl_->lifecycle = std::move(observer);
}

}  // namespace tandem::server
