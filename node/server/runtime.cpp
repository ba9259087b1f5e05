#include "node/server/runtime.hpp"

namespace tandem::server {

const config::Policy& policy_for(const config::Config& config, const std::string& tunnel_group) {
  auto g = config.tunnel_groups.find(tunnel_group);
  if (g != config.tunnel_groups.end()) {
    auto p = config.policies.find(g->second.policy);
    if (p != config.policies.end()) return p->second;
  }
  return config.policies.at("default");
}

const config::Policy& policy_for(const config::Config& config, const session::Session& s) {
  if (!s.policy_override.empty()) {
    auto p = config.policies.find(s.policy_override);
    if (p != config.policies.end()) return p->second;
  }
  return policy_for(config, s.tunnel_group);
}

const config::TunnelGroup& tunnel_group_for(const config::Config& config,
                                            const std::string& tunnel_group) {
  auto g = config.tunnel_groups.find(tunnel_group);
  return g != config.tunnel_groups.end() ? g->second : config.tunnel_groups.at("default");
}

Runtime::Runtime(asio::io_context& io_context, const Clock& node_clock, config::Config node_config,
                 std::shared_ptr<const auth::UserDb> user_db, session::SessionTable& session_table,
                 const ServingState& serving_state, Replication* replicator,
                 FrontDoorState front_door)
    : io(io_context),
      clock(node_clock),
      config(std::move(node_config)),
      users(std::move(user_db)),
      sessions(session_table),
      role(serving_state),
      replication(replicator),
      front(std::move(front_door)),
      tunnels{.io = io_context,
              .clock = node_clock,
              .sessions = session_table,
              .config = config,
              .counters = counters} {}

std::uint64_t apply_session_limit(Runtime& rt) {
  const std::uint64_t replaced = rt.session_limit.sessions;
  rt.session_limit = resolve_session_limit(rt.config.limits.max_sessions, usable_memory());
  if (rt.replication) rt.replication->set_session_limit(rt.session_limit.sessions);
  return replaced;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

}  // namespace tandem::server
