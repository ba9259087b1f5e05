#pragma once
// The headend's answers to the admin API (status, show, logoff, reload, failover), computed on
// the I/O thread from the session table and the runtime.
#include <chrono>
#include <optional>

#include "node/admin/admin_server.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

class HeadendAdmin final : public admin::AdminBackend {
 public:
  explicit HeadendAdmin(Runtime& rt);

  void post(std::function<void()> work) override;
  proto::StatusReply status() override;
  proto::ShowSessionsReply show_sessions(const proto::ShowSessionsRequest& request) override;
  void logoff(const proto::LogoffRequest& request,
              std::function<void(Result<proto::LogoffReply>)> done) override;
  void failover(std::function<void(Result<std::string>)> done) override;
  Result<std::string> reload() override;
  Result<proto::DrainReply> drain(const proto::DrainRequest& request) override;

 private:
  Runtime& rt_;
  std::chrono::steady_clock::time_point started_;
};

// Re-read the configuration file and the users file. Policies, tunnel groups, routes, DNS,
// log level and users change in place, without touching a session; keys that need a restart
// (listen, pool, state_dir, tun_name, tls, node id, admin socket) keep their running values and
// are named in the result. An invalid file changes nothing.
// Sessions of users the users file no longer allows (removed, or disabled with `!`), or whose
// tunnel group no longer admits them (its `users`), end at the reload, as an admin logoff would
// end them; the traffic policies apply to live sessions at once; certificate expiry is logged
// again.
Result<std::string> reload_configuration(Runtime& rt);

// Why the session's user may no longer have it under the running users file and configuration
// (removed, disabled, or not admitted by its tunnel group), or nullopt.
std::optional<session::EndReason> revoked_because(const Runtime& rt, const session::Session& s);

struct RevokedSessions {
  std::size_t user = 0;   // removed or disabled users
  std::size_t group = 0;  // users no longer allowed their session's tunnel group
};
// Ends, on the active node, every session whose user is not an enabled user of rt.users or is
// not admitted by its tunnel group (the client is told, the token stops working, the address is
// freed).
RevokedSessions end_sessions_of_revoked_users(Runtime& rt);

}  // namespace tandem::server
