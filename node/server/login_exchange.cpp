// The config-auth login exchange: the form, the password check (on the hash pool, off the I/O
// thread), the new session and its token, replicated before the client hears of it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "node/auth/config_auth.hpp"
#include "node/common/log.hpp"
#include "node/common/text.hpp"
#include "node/config/defaults.hpp"
#include "node/server/front_connection.hpp"
#include "node/server/login.hpp"

namespace tandem::server {
namespace {

// Runs on the hash pool. A plain function, not a capturing lambda: g++ 12 mishandles the
// captures of lambda coroutines handed to co_spawn (double free).
asio::awaitable<bool> verify_on_pool(std::shared_ptr<const auth::UserDb> users, std::string user,
                                     std::string password) {
  co_return users->check(user, password);
}

asio::awaitable<bool> check_password(Runtime& rt, std::string user, std::string password) {
  // rt.users is a snapshot: a reload may swap it while the hash runs.
  co_return co_await asio::co_spawn(rt.hash_pool,
                                    verify_on_pool(rt.users, std::move(user), std::move(password)),
                                    asio::use_awaitable);
}

}  // namespace

asio::awaitable<http::Response> handle_login(Runtime& rt, const http::Request& req,
                                             const Peer& peer, bool& close) {
  auto msg = auth::parse_client_message(req.body);
  if (!msg) {
    refuse_input(rt, peer, "config-auth XML: " + msg.error());
    close = true;
    co_return error_response(400);
  }
  std::string group = resolve_tunnel_group(rt.config, *msg, req.target);
  if (msg->type != "auth-reply" || msg->username.empty())
    co_return login_form_response(rt.config, group, "");
  // The username as logs show it: the client's bytes, made printable and bounded.
  const std::string who = text::sanitize(msg->username, text::kMaxUsername);

  if (const char* why = not_serving_reason(rt)) {
    ++rt.counters.logins_refused;
    log::warn("login_refused", {{"user", who}, {"public", peer.text()}, {"reason", why}});
    co_return login_form_response(rt.config, group, "The service is moving. Please try again.");
  }
  if (rt.pending_logins >= defaults::kMaxPendingLogins) {
    ++rt.counters.logins_refused;
    log::warn("login_refused",
              {{"user", who}, {"public", peer.text()}, {"reason", "too many logins in progress"}});
    co_return login_form_response(rt.config, group, "The server is busy. Please try again.");
  }
  // A name no users file can hold (not UTF-8, controls, too long) is refused unhashed; the client
  // sees the same answer as for any failed login.
  const bool well_formed = text::is_valid_utf8(msg->username) &&
                           msg->username.size() <= text::kMaxUsername && who == msg->username;
  ++rt.pending_logins;
  bool ok = false;
  if (well_formed) ok = co_await check_password(rt, msg->username, msg->password);
  --rt.pending_logins;
  // A reload during the hash may have removed or disabled the user: the current file decides.
  ok = ok && rt.users->enabled(msg->username);
  if (!ok) {
    ++rt.counters.logins_failed;
    // Same answer for an unknown user and a wrong password; the log tells them apart.
    log::warn("login_failed", {{"user", who},
                               {"public", peer.text()},
                               {"reason", !well_formed                        ? "malformed username"
                                          : rt.users->disabled(msg->username) ? "disabled user"
                                          : rt.users->has(msg->username)      ? "wrong password"
                                                                              : "unknown user"}});
    co_return login_form_response(rt.config, group, "Login failed.");
  }
  const config::Policy& policy = rt.policy_for(group);
  session::NewSession request{msg->username,
                              group,
                              policy.name,
                              peer.ip,
                              peer.port,
                              text::sanitize(req.header("User-Agent").value_or("")),
                              policy.simultaneous_logins};
  auto created = rt.sessions.create(request);
  if (!created) {
    ++rt.counters.logins_refused;
    log::error("login_refused",
               {{"user", who}, {"public", peer.text()}, {"reason", created.error()}});
    co_return login_form_response(rt.config, group, "No address is available. Please try later.");
  }
  const std::uint64_t index = created->session->index;
  const std::string token = std::move(created->token);
  bool acked = co_await replicate(rt, index);
  session::Session* created_session = rt.sessions.find(index);
  if (!created_session) co_return login_form_response(rt.config, group, "Please try again.");
  const session::Session& s = *created_session;
  ++rt.counters.logins_ok;
  log::info("login_ok", {{"index", std::to_string(s.index)},
                         {"user", text::sanitize(s.user, text::kMaxUsername)},
                         {"ip", session::format_ipv4(s.ip)},
                         {"public", peer.text()},
                         {"tunnel_group", s.tunnel_group},
                         {"policy", s.policy},
                         {"replicated", acked ? "yes" : "no"}});
  co_return login_success_response(token);
}

}  // namespace tandem::server
