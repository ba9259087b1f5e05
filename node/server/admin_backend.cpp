#include "node/server/admin_backend.hpp"

#include <boost/asio/post.hpp>
#include <filesystem>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/admin/session_view.hpp"
#include "node/config/defaults.hpp"
#include "node/config/restart_only.hpp"
#include "node/server/certificate_monitor.hpp"
#include "node/server/client_certificates.hpp"
#include "node/server/profiles.hpp"
#include "node/server/traffic_policy.hpp"
#include "node/session/timers.hpp"

namespace tandem::server {

HeadendAdmin::HeadendAdmin(Runtime& rt) : rt_(rt), started_(std::chrono::steady_clock::now()) {}

void HeadendAdmin::post(std::function<void()> work) { asio::post(rt_.io, std::move(work)); }

proto::StatusReply HeadendAdmin::status() {
  proto::StatusReply r;
  r.set_node_id(rt_.config.node_id);
  r.set_version(TANDEM_VERSION);
  ReplicationStatus repl;
  if (rt_.replication) repl = rt_.replication->status();
  r.set_role(to_string(repl.role));
  r.set_epoch(repl.epoch);
  r.set_peer_state(repl.peer_state);
  r.set_replication_lag_seq(repl.lag_sequence);
  r.set_replication_lag_ms(repl.lag_ms);
  r.set_degraded(repl.degraded);
  r.set_listen(rt_.config.listen);
  r.set_accepting_logins(rt_.serving() && repl.accepting_logins);
  std::uint64_t active = 0, ssl = 0, dtls = 0;
  rt_.sessions.for_each([&](const session::Session& s) {
    if (s.ssl) ++active, ++ssl;
    if (s.dtls) ++dtls;
  });
  r.set_sessions(rt_.sessions.size());
  r.set_session_limit(rt_.session_limit.sessions);
  r.set_session_limit_from(rt_.session_limit.from);
  r.set_sessions_active(active);
  r.set_sessions_inactive(rt_.sessions.size() - active);
  r.set_tunnels_ssl(ssl);
  r.set_tunnels_dtls(dtls);
  r.set_pool(rt_.config.pool_ipv4);
  r.set_pool_in_use(rt_.sessions.pool().leased());
  r.set_pool_capacity(rt_.sessions.pool().capacity());
  r.set_pool6(rt_.config.pool_ipv6);
  if (const auto& pool6 = rt_.sessions.pool6()) r.set_pool6_in_use(pool6->leased());
  r.set_member_id(repl.member_id);
  r.set_arbiter(repl.arbiter);
  r.set_holding_key(repl.holding_key);
  r.set_serving_left_ms(repl.serving_left_ms);
  r.set_arbiter_reachable(repl.arbiter_reachable);
  for (const auto& e : repl.arbiter_endpoints) r.add_arbiter_endpoints(e);
  r.set_draining(repl.draining);
  r.set_uptime_s(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count());
  return r;
}

proto::ShowSessionsReply HeadendAdmin::show_sessions(const proto::ShowSessionsRequest& request) {
  proto::ShowSessionsReply r;
  const TimePoint now = rt_.clock.now();
  const long long now_unix = wall_seconds();
  rt_.sessions.for_each([&](const session::Session& s) {
    if (admin::matches(request.filter(), s))
      *r.add_sessions() = admin::make_session_view(
          s, session::with_session_overrides(rt_.policy_for(s), s), now, now_unix);
  });
  return r;
}

void HeadendAdmin::logoff(const proto::LogoffRequest& request,
                          std::function<void(Result<proto::LogoffReply>)> done) {
  const auto& f = request.filter();
  bool empty_filter = f.index() == 0 && f.user().empty() && f.protocol().empty() &&
                      f.tunnel_group().empty() && !f.inactive();
  if (empty_filter && !request.all())
    return done(
        fail("name the sessions to log off (index, user, protocol, tunnel group, inactive) "
             "or ask for all"));
  std::vector<std::uint64_t> chosen;
  rt_.sessions.for_each([&](const session::Session& s) {
    if (admin::matches(f, s)) chosen.push_back(s.index);
  });
  // The answer waits for every removal's acknowledgement, so that a failover after it cannot
  // bring a logged-off session back unnoticed: one that the standby did not confirm is counted.
  struct Pending {
    proto::LogoffReply reply;
    std::size_t waiting = 1;  // one extra, released after the loop
    std::function<void(Result<proto::LogoffReply>)> done;
    void answered() {
      if (--waiting == 0) done(std::move(reply));
    }
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  for (auto index : chosen) {
    if (session::SessionRef s = rt_.sessions.find(index)) {
      log::info("admin_logoff", {{"index", std::to_string(index)},
                                 {"user", text::sanitize(s->user, text::kMaxUsername)},
                                 {"ip", net::format_ipv4(s->ip)},
                                 {"public", s->public_ip + ":" + std::to_string(s->public_port)}});
      pending->reply.add_logged_off(index);
      ++pending->waiting;
      // The client is told at once and exits; the token is revoked with the session (S21).
      rt_.sessions.end(index, session::EndReason::admin_logoff, true, [pending](Persisted p) {
        if (p == Persisted::failed)
          pending->reply.set_unconfirmed(pending->reply.unconfirmed() + 1);
        pending->answered();
      });
    }
  }
  pending->answered();
}

void HeadendAdmin::failover(std::function<void(Result<std::string>)> done) {
  if (!rt_.replication) return done(fail("replication is not running"));
  rt_.replication->request_failover(std::move(done));
}

Result<std::string> HeadendAdmin::reload() { return reload_configuration(rt_); }

Result<proto::DrainReply> HeadendAdmin::drain(const proto::DrainRequest& request) {
  if (!rt_.replication) return fail("replication is not running");
  // Only this thread drains, so the state read before the change is the one it changes.
  const bool was = rt_.replication->status().draining;
  rt_.replication->set_draining(request.draining());
  const ReplicationStatus repl = rt_.replication->status();
  proto::DrainReply r;
  r.set_draining(repl.draining);
  r.set_changed(was != repl.draining);
  r.set_member_id(repl.member_id);
  r.set_arbiter(repl.arbiter);
  r.set_role(to_string(repl.role));
  r.set_sessions(rt_.sessions.size());
  // Replicator::set_draining logs the change (member_draining, member_undrained).
  return r;
}

std::optional<session::EndReason> revoked_because(const Runtime& rt, const session::Session& s) {
  // A certificate-only group's users need not be in the users file; one disabled there
  // (`name:!`) is refused all the same (docs/client-certificates.md).
  const bool certificate_only =
      rt.tunnel_group_for(s.tunnel_group).certificate == auth::CertificateMode::required;
  // A RADIUS login's user is the RADIUS servers' (docs/radius.md): the users file does not
  // hold it, and a resume does not ask the servers again.
  const bool on_radius = s.auth_method == auth::AuthMethod::radius;
  if (!on_radius && (certificate_only ? rt.users->disabled(s.user) : !rt.users->enabled(s.user)))
    return rt.users->has(s.user) ? session::EndReason::user_disabled
                                 : session::EndReason::user_removed;
  if (!rt.tunnel_group_for(s.tunnel_group).admits(s.user))
    return session::EndReason::group_not_allowed;
  return std::nullopt;
}

namespace {

const char* revocation_text(session::EndReason reason) {
  switch (reason) {
    case session::EndReason::user_disabled:
      return "disabled in the users file";
    case session::EndReason::group_not_allowed:
      return "not allowed the tunnel group any more";
    default:
      return "no longer in the users file";
  }
}

}  // namespace

RevokedSessions end_sessions_of_revoked_users(Runtime& rt) {
  // Only the active ends sessions; a standby's mirror follows what the active replicates, and
  // a session it inherits is checked again when its client resumes (handle_connect).
  if (!rt.serving()) return {};
  std::vector<std::pair<std::uint64_t, session::EndReason>> revoked;
  rt.sessions.for_each([&](const session::Session& s) {
    if (auto why = revoked_because(rt, s)) revoked.emplace_back(s.index, *why);
  });
  for (const auto& [index, reason] : revoked) {
    session::SessionRef s = rt.sessions.find(index);
    if (!s) continue;
    log::info("user_revoked", {{"index", std::to_string(index)},
                               {"user", text::sanitize(s->user, text::kMaxUsername)},
                               {"ip", net::format_ipv4(s->ip)},
                               {"public", s->public_ip + ":" + std::to_string(s->public_port)},
                               {"tunnel_group", s->tunnel_group},
                               {"reason", revocation_text(reason)}});
    // As an admin logoff: the client is told and exits, the token dies with the session, the
    // address is freed (S15, S21).
    rt.sessions.end(index, reason, true);
  }
  RevokedSessions out;
  for (const auto& [index, reason] : revoked)
    ++(reason == session::EndReason::group_not_allowed ? out.group : out.user);
  return out;
}

Result<std::string> reload_configuration(Runtime& rt) {
  const config::Config& old = rt.config;
  std::error_code ec;
  if (!std::filesystem::exists(old.source, ec))
    return fail("running on built-in defaults: there is no configuration file to reload");
  auto next = config::load_config(old.source);
  if (!next) {
    log::warn("reload_refused", {{"reason", next.error()}});
    return fail("configuration refused, the running one stays: " + next.error());
  }
  std::shared_ptr<const auth::UserDb> users = rt.users;
  if (std::filesystem::exists(next->users_file, ec)) {
    auto db = auth::UserDb::load(next->users_file);
    if (!db) {
      log::warn("reload_refused", {{"reason", db.error()}});
      return fail("users file refused, the running configuration stays: " + db.error());
    }
    users = std::make_shared<const auth::UserDb>(std::move(*db));
  }
  auto client_trust = load_client_trust(*next);  // a new CRL applies to the next login
  if (!client_trust) {
    log::warn("reload_refused", {{"reason", client_trust.error()}});
    return fail("client certificate trust refused, the running configuration stays: " +
                client_trust.error());
  }
  const std::vector<std::string> kept = config::keep_restart_only(old, *next);
  // The pool is kept (above), so the policies compile against the running one.
  auto traffic = compile_traffic_policies(*next, rt.sessions.pool().net());
  if (!traffic) {
    log::warn("reload_refused", {{"reason", traffic.error()}});
    return fail("traffic policy refused, the running configuration stays: " + traffic.error());
  }
  // The TUN device's MTU was sized at startup; a larger policy MTU needs a restart too.
  rt.config = std::move(*next);
  // At once for live sessions too: each looks its group's policy up again on its next packet.
  install_traffic_policies(rt.tunnels, std::move(*traffic));
  rt.users = std::move(users);
  install_client_trust(rt, std::move(*client_trust));
  // [limits] apply at once, to new connections and logins; nothing open is cut.
  rt.front.limits.configure(front_door_settings(rt.config.limits, defaults::kMaxFrontConnections));
  rt.front.login_throttle.configure(
      auth::throttle_settings(rt.config.limits, defaults::kMaxPendingLogins));
  const std::uint64_t old_limit = apply_session_limit(rt);
  if (rt.session_limit.sessions != old_limit)
    log::info("session_limit_changed", {{"max_sessions", std::to_string(rt.session_limit.sessions)},
                                        {"max_sessions_from", rt.session_limit.from},
                                        {"was", std::to_string(old_limit)}});
  log::Level level;
  if (log::parse_level(rt.config.log_level, level)) log::set_level(level);
  std::string result = "reloaded " + rt.config.source + ": " +
                       std::to_string(rt.config.policies.size()) + " policies, " +
                       std::to_string(rt.config.tunnel_groups.size()) + " tunnel groups, " +
                       std::to_string(rt.users->size()) + " users";
  if (!kept.empty()) {
    result += "; needs a restart, running value kept:";
    for (const auto& k : kept) result += " " + k;
  }
  const RevokedSessions revoked = end_sessions_of_revoked_users(rt);
  if (revoked.user > 0)
    result += "; logged off " + std::to_string(revoked.user) +
              (revoked.user == 1 ? " session" : " sessions") + " of removed or disabled users";
  if (revoked.group > 0)
    result += "; logged off " + std::to_string(revoked.group) +
              (revoked.group == 1 ? " session" : " sessions") +
              " of users no longer allowed their tunnel group";
  log::info("reloaded", {{"detail", result}});
  log_profiles(rt.config);
  if (rt.certificates) rt.certificates->check(wall_seconds(), warn_before(rt.config), true);
  return result;
}

}  // namespace tandem::server
