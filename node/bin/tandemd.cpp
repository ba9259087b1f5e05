// tandemd: the Tandem VPN headend node.
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>

#include "base/log.hpp"
#include "node/bin/replication_settings.hpp"
#include "node/config/config.hpp"
#include "node/process/privileges.hpp"
#include "node/server/headend.hpp"
#include "replication/address_keeper.hpp"
#include "replication/replicator.hpp"
#include "replication/service_address.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: tandemd [--config FILE]\n"
               "  Runs a Tandem headend node in the foreground, logging to stderr.\n"
               "  Without --config it runs a standalone node on built-in defaults.\n");
}

// The keeper (replication/address_keeper.hpp) is forked before any thread exists. With
// [process] user it becomes that user too, keeping CAP_NET_ADMIN only.
tandem::Result<std::unique_ptr<tandem::replication::AddressKeeper>> start_keeper(
    const tandem::config::Config& c, const tandem::process::Identity* who) {
  using namespace tandem::replication;
  std::vector<ServiceAddress> addresses;
  if (auto a = parse_service_address(c.service_address, c.service_interface))
    addresses.push_back(*a);
  if (auto a = parse_service_address(c.inside_address, c.inside_interface)) addresses.push_back(*a);
  if (auto a = parse_service_address6(c.inside_address6, c.inside_interface))
    addresses.push_back(*a);
  // With the arbiter, the keeper also revokes the daemon's lease when the daemon is gone.
  std::optional<LeaseRevoker> revoker;
  if (c.arbiter.enabled && c.peer.enabled)
    revoker = LeaseRevoker{c.arbiter.endpoints, c.arbiter.ca, c.arbiter.certificate,
                           c.arbiter.private_key};
  return AddressKeeper::start(
      std::move(addresses),
      [who]() -> tandem::Result<void> {
        if (who == nullptr) return {};
        return tandem::process::drop_privileges(*who, tandem::process::keeper_capabilities());
      },
      std::move(revoker));
}

// A daemon that keeps root says so, loudly: root is the built-in default only so that a bare
// `tandemd` and the test suites run without a system user (docs/privileges.md).
void warn_root() {
  tandem::log::warn("running_as_root",
                    {{"detail",
                      "[process] user is not set: tandemd keeps root and all its "
                      "capabilities; set [process] user = \"tandem\" "
                      "(docs/privileges.md)"}});
}

// After the root-only steps: hand the state directory and the admin socket's directory to the
// service user, then become it (docs/privileges.md).
tandem::Result<void> become_service_user(const tandem::config::Config& c,
                                         const tandem::process::Identity& who) {
  namespace process = tandem::process;
  if (auto r = process::give_to(c.state_dir, who.uid, who.gid, true); !r)
    return tandem::fail("state_dir: " + r.error());
  auto socket_dir = std::filesystem::path(c.admin_socket).parent_path();
  if (socket_dir.empty()) socket_dir = ".";
  if (auto r = process::give_private_directory(socket_dir.string(), who.uid, who.gid); !r)
    return tandem::fail("admin_socket: " + r.error());
  if (auto r = process::drop_privileges(who, process::daemon_capabilities()); !r) return r;
  tandem::log::info(
      "privileges_dropped",
      {{"user", who.user},
       {"uid", std::to_string(who.uid)},
       {"group", who.group},
       {"gid", std::to_string(who.gid)},
       {"capabilities", process::format_capabilities(process::daemon_capabilities())}});
  return {};
}

// systemd (Type=notify): READY=1 once the node listens, STOPPING=1 on SIGTERM/SIGINT,
// RELOADING=1 then READY=1 around a SIGHUP reload, and a one-line STATUS= for
// `systemctl status`. libsystemd's sd_notify does nothing when NOTIFY_SOCKET is unset, so
// outside systemd (a terminal, the tests) this costs nothing.
void notify_systemd(const std::string& state, const std::string& status = {}) {
  std::string message = state;
  if (!status.empty()) {
    std::string line = status;  // STATUS= is one line; reload errors may span several
    for (char& c : line) {
      if (c == '\n') c = ' ';
    }
    message += "\nSTATUS=" + line;
  }
  ::sd_notify(0, message.c_str());
}

void notify_lifecycle(tandem::server::Headend::Lifecycle event, const std::string& detail) {
  using Lifecycle = tandem::server::Headend::Lifecycle;
  switch (event) {
    case Lifecycle::stopping:
      notify_systemd("STOPPING=1", "stopping (" + detail + ")");
      break;
    case Lifecycle::reloading:
      notify_systemd("RELOADING=1", "reloading the configuration");
      break;
    case Lifecycle::reloaded:
      notify_systemd("READY=1", detail);
      break;
  }
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
      std::fprintf(stderr, "tandemd: unknown argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
  }
  auto config = config_path.empty()
                    ? tandem::Result<tandem::config::Config>(tandem::config::default_config())
                    : tandem::config::load_config(config_path);
  if (!config) {
    // Operators read this on a terminal: one problem per line, as the loader reports them.
    std::fprintf(stderr, "tandemd: invalid configuration:\n%s\n", config.error().c_str());
    tandem::log::error("config_invalid", {{"reason", config.error()}});
    return 2;
  }
  // Everything up to the drop runs on this one thread: capabilities belong to each thread, and
  // the drop must reach all of them (drop_privileges refuses with more than one).
  std::optional<tandem::process::Identity> who;
  if (!config->run_as_user.empty()) {
    auto id = tandem::process::resolve_identity(config->run_as_user, config->run_as_group);
    if (!id) {
      std::fprintf(stderr, "tandemd: %s\n", id.error().c_str());
      tandem::log::error("config_invalid", {{"reason", id.error()}});
      return 2;
    }
    who = *id;
  } else {
    warn_root();
  }
  auto keeper = start_keeper(*config, who ? &*who : nullptr);
  if (!keeper) {
    tandem::log::error("startup_failed", {{"reason", keeper.error()}});
    return 1;
  }

  tandem::server::Headend headend(*config);
  headend.on_lifecycle(notify_lifecycle);
  // Replication's part of the configuration, read at start-up only (a reload does not change it).
  const tandem::replication::Settings replication_config = tandem::replication_settings(*config);
  tandem::replication::PeerKeys peer_keys;
  if (replication_config.peer.enabled) {
    auto keys = tandem::replication::read_peer_keys(replication_config.peer);
    if (!keys) {
      tandem::log::error("startup_failed", {{"reason", keys.error()}});
      return 1;
    }
    peer_keys = std::move(*keys);
  }
  if (auto opened = headend.open(); !opened) {
    tandem::log::error("startup_failed", {{"reason", opened.error()}});
    return 1;
  }
  tandem::replication::install_syn_guard(replication_config);
  if (who) {
    if (auto r = become_service_user(*config, *who); !r) {
      tandem::log::error("privilege_drop_failed", {{"process", "tandemd"}, {"reason", r.error()}});
      return 1;
    }
  }

  auto replication = tandem::replication::Replicator::create(
      replication_config, headend.replica_host(), std::move(peer_keys));
  if (!replication) {
    tandem::log::error("startup_failed", {{"reason", replication.error()}});
    return 1;
  }
  (*replication)->set_keeper(keeper->get());
  if (auto started = headend.start(**replication); !started) {
    tandem::log::error("startup_failed", {{"reason", started.error()}});
    return 1;
  }
  notify_systemd("READY=1", "listening on " + config->listen + " (" + config->source + ")");
  headend.run();
  // The store is closed (and its tail synced) here, while everything it needs is alive.
  replication->reset();
  tandem::log::info("stopped");
  // Then leave without running the headend's destructors: coroutines still suspended in its
  // io_context reference state it destroys first, and tearing that down at exit has corrupted
  // the heap under load. Nothing is left to flush (Headend::run wrote accounting's last records);
  // the kernel closes the sockets and the TUN.
  std::fflush(nullptr);
  std::_Exit(0);
}
