#include "node/config/restart_only.hpp"

namespace tandem::config {

std::vector<std::string> keep_restart_only(const Config& running, Config& next) {
  std::vector<std::string> kept;
  auto keep = [&](const char* key, auto Config::*field) {
    if (next.*field != running.*field) {
      kept.push_back(key);
      next.*field = running.*field;
    }
  };
  keep("node.id", &Config::node_id);
  keep("node.listen", &Config::listen);
  keep("node.admin_socket", &Config::admin_socket);
  keep("node.state_dir", &Config::state_dir);
  keep("node.tun_name", &Config::tun_name);
  keep("node.tun_offload", &Config::tun_offload);
  keep("node.data_threads", &Config::data_threads);
  keep("tls.certificate", &Config::tls_certificate);
  keep("tls.private_key", &Config::tls_private_key);
  keep("pool.ipv4", &Config::pool_ipv4);
  keep("pool.ipv6", &Config::pool_ipv6);
  keep("node.service_address", &Config::service_address);
  keep("node.service_interface", &Config::service_interface);
  keep("node.inside_address", &Config::inside_address);
  keep("node.inside_address6", &Config::inside_address6);
  keep("node.inside_interface", &Config::inside_interface);
  keep("node.metrics_listen", &Config::metrics_listen);
  keep("process.user", &Config::run_as_user);
  keep("process.group", &Config::run_as_group);
  // The replication link, the etcd lease and the member record are set up once, at start-up.
  keep("peer", &Config::peer);
  keep("arbiter", &Config::arbiter);
  keep("member", &Config::member);
  // The RADIUS client (its servers, secret and timings) is made once, at start-up; which policy
  // a Class maps to is read at each login, so that part follows a reload (docs/radius.md).
  auto radius = next.radius;
  radius.class_policy = running.radius.class_policy;
  if (radius != running.radius) {
    kept.push_back("radius");
    const auto class_policy = std::move(next.radius.class_policy);
    next.radius = running.radius;
    next.radius.class_policy = class_policy;
  }
  return kept;
}

}  // namespace tandem::config
