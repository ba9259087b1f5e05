// The config-auth login exchange: the form, the password check (on the hash pool, or by the
// RADIUS servers on the RADIUS client's threads; never on the I/O thread), a RADIUS challenge's
// second form, the new session and its token, replicated before the client hears of it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/auth/config_auth.hpp"
#include "node/config/defaults.hpp"
#include "node/http/client_headers.hpp"
#include "node/radius/radius_client.hpp"
#include "node/server/accounting_hooks.hpp"
#include "node/server/client_certificates.hpp"
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
  co_return co_await asio::co_spawn(rt.front.hash_pool,
                                    verify_on_pool(rt.users, std::move(user), std::move(password)),
                                    asio::use_awaitable);
}

// Runs on the RADIUS client's threads (an exchange blocks while it waits for the servers).
asio::awaitable<radius::Reply> ask_on_workers(radius::RadiusClient* client,
                                              radius::AccessRequest request) {
  co_return client->authenticate(request);
}

asio::awaitable<radius::Reply> ask_radius(Runtime& rt, radius::AccessRequest request) {
  if (rt.front.radius == nullptr) {
    // A reload gave a group auth = "radius", but [radius] is read at start-up only.
    radius::Reply none;
    none.detail = "no RADIUS client: [radius] is read at start-up (restart to use it)";
    co_return none;
  }
  co_return co_await asio::co_spawn(rt.front.radius->workers(),
                                    ask_on_workers(rt.front.radius, std::move(request)),
                                    asio::use_awaitable);
}

// What the log says of a RADIUS answer that is not an Access-Accept.
std::string radius_failure(const radius::Reply& r) {
  switch (r.outcome) {
    case radius::Outcome::reject:
      return r.attributes.reply_message.empty()
                 ? "RADIUS Access-Reject"
                 : "RADIUS Access-Reject: " + radius::printable(r.attributes.reply_message);
    case radius::Outcome::no_answer:
      return "no RADIUS server answered";
    default:
      return "RADIUS: " + r.detail;
  }
}

// Throttled: refused without running the hash (docs/limits.md). The client sees the form again
// with an error, as for any failed login; the log (rate-limited) says which key and until when.
void log_throttled(Runtime& rt, const std::string& who, const Peer& peer,
                   const auth::LoginThrottle::Admission& a) {
  ++rt.counters.logins_throttled;
  std::uint64_t suppressed = 0;
  if (!rt.front.login_refusal_log.allow(rt.clock.now(), suppressed)) return;
  static constexpr const char* kWhy[] = {"failed logins for this user from this address",
                                         "failed logins from this address",
                                         "failed logins for this user from other addresses"};
  const auto ms = a.retry_after.count();
  log::warn("login_throttled",
            {{"user", who},
             {"public", peer.text()},
             {"scope", std::string(auth::to_string(a.scope))},
             {"failures", std::to_string(a.failures)},
             {"retry_after", std::to_string((ms + 999) / 1000) + "s"},
             {"reason", std::to_string(a.failures) + " " + kWhy[static_cast<int>(a.scope)]},
             {"suppressed", std::to_string(suppressed)}});
}

}  // namespace

asio::awaitable<LoginReply> handle_login(Runtime& rt, const http::Request& req, const Peer& peer,
                                         SSL* ssl) {
  LoginReply out;
  // Cisco's extra headers are hostile input like the body (docs/cisco-clients.md).
  const auto client = http::read_client_headers(req);
  if (!client) {
    refuse_input(rt, peer, "HTTP: " + client.error());
    out.close = true;
    out.response = error_response(400);
    co_return out;
  }
  auto msg = auth::parse_client_message(req.body);
  if (!msg) {
    refuse_input(rt, peer, "config-auth XML: " + msg.error());
    out.close = true;
    out.response = error_response(400);
    co_return out;
  }
  std::string group = resolve_tunnel_group(rt.config, *msg, req.target);
  auto form = [&](const char* error) {
    out.response = login_form_response(rt.config, group, error);
    return out;
  };
  // The answer to a RADIUS challenge names it (docs/radius.md): the user, the group and the
  // State are the node's record of it, never the client's word.
  std::optional<radius::PendingChallenge> answering;
  if (msg->type == "auth-reply" && !msg->opaque_challenge.empty()) {
    auto taken = rt.front.challenges.take(msg->opaque_challenge, rt.clock.now());
    using Status = radius::ChallengeStore::Taken::Status;
    const char* why = taken.status == Status::unknown   ? "unknown RADIUS challenge"
                      : taken.status == Status::expired ? "RADIUS challenge expired"
                      : taken.challenge.public_ip != peer.ip
                          ? "RADIUS challenge answered from another address"
                          : nullptr;
    if (why != nullptr) {
      ++rt.counters.logins_failed;
      log::warn("login_failed", {{"user", text::sanitize(taken.challenge.user, text::kMaxUsername)},
                                 {"public", peer.text()},
                                 {"tunnel_group", group},
                                 {"reason", why}});
      co_return form("Login failed.");
    }
    answering = std::move(taken.challenge);
    group = answering->tunnel_group;
  }
  // A group that takes the certificate alone asks for nothing: the first POST naming it logs in
  // (docs/client-certificates.md). Any other waits for the form's username and password.
  const config::TunnelGroup& tunnel_group = rt.tunnel_group_for(group);
  // Copied: a reload during the password check may replace the configuration.
  const auth::CertificateMode cert_mode = tunnel_group.certificate;
  const bool certificate_only = cert_mode == auth::CertificateMode::required;
  const bool on_radius = tunnel_group.auth == config::GroupAuth::radius;
  if (certificate_only ? msg->type != "init" && msg->type != "auth-reply"
                       : msg->type != "auth-reply" || (msg->username.empty() && !answering))
    co_return form("");
  const LoginCertificate cert = judge_login_certificate(rt, ssl, tunnel_group, msg->username);
  const auth::CertificateRefusal cert_refusal = cert.decision.refusal;
  // Who logs in: the typed name, or in a certificate-only group the certificate's.
  const std::string username = certificate_only ? cert.decision.user
                               : answering      ? answering->user
                                                : msg->username;
  // The username as logs show it: the client's bytes, made printable and bounded.
  const std::string who = text::sanitize(username, text::kMaxUsername);

  if (const char* why = not_serving_reason(rt, Attach::login)) {
    ++rt.counters.logins_refused;
    log::warn("login_refused", {{"user", who}, {"public", peer.text()}, {"reason", why}});
    co_return form("The service is moving. Please try again.");
  }
  // A name no users file can hold (not UTF-8, controls, too long) is refused unhashed; the client
  // sees the same answer as for any failed login, and only its address is throttled.
  const bool well_formed = !username.empty() && text::is_valid_utf8(username) &&
                           username.size() <= text::kMaxUsername && who == username;
  const std::string user_key = well_formed ? username : std::string();
  const auto admission = rt.front.login_throttle.admit(user_key, peer.ip);
  using Verdict = auth::LoginThrottle::Verdict;
  if (admission.verdict == Verdict::throttled) {
    log_throttled(rt, who, peer, admission);
    co_return form("Too many failed logins. Please try again later.");
  }
  if (admission.verdict != Verdict::allowed) {
    ++rt.counters.logins_refused;
    std::uint64_t suppressed = 0;
    if (rt.front.login_refusal_log.allow(rt.clock.now(), suppressed))
      log::warn("login_refused", {{"user", who},
                                  {"public", peer.text()},
                                  {"reason", admission.verdict == Verdict::busy
                                                 ? "too many logins in progress"
                                                 : "too many logins in progress from this address"},
                                  {"suppressed", std::to_string(suppressed)}});
    co_return form("The server is busy. Please try again.");
  }
  auth::LoginAttempt attempt(rt.front.login_throttle, user_key, peer.ip);
  bool ok = false;
  radius::Reply asked;  // a RADIUS group's answer
  bool asked_radius = false;
  // A refused certificate costs no hash; a certificate-only login has no password to check.
  if (cert_refusal == auth::CertificateRefusal::none && well_formed) {
    ok = certificate_only;
    if (!ok && on_radius) {
      asked_radius = true;
      // A named value, not a braced temporary: g++ 12 destroys temporaries of a co_await
      // full-expression twice.
      radius::AccessRequest request{username, msg->password,
                                    answering ? answering->state : std::string(), peer.ip,
                                    answering ? answering->server : std::nullopt};
      asked = co_await ask_radius(rt, std::move(request));
      ok = asked.outcome == radius::Outcome::accept;
    } else if (!ok) {
      ok = co_await check_password(rt, username, msg->password);
    }
  }
  if (asked_radius && asked.outcome == radius::Outcome::challenge) {
    // The password was right and the server wants more (a one-time code): neither a success
    // nor a failure for the throttle yet. The client gets a second form.
    attempt.finish(auth::LoginThrottle::Outcome::abandoned);
    auto id = rt.front.challenges.add(
        radius::random_challenge_id(),
        {username, group, peer.ip, asked.attributes.state, asked.answered_by}, rt.clock.now());
    if (!id) {
      ++rt.counters.logins_refused;
      log::warn("login_refused", {{"user", who},
                                  {"public", peer.text()},
                                  {"tunnel_group", group},
                                  {"reason", "too many RADIUS challenges waiting for an answer"}});
      co_return form("Login failed.");
    }
    log::info("login_challenge", {{"user", who},
                                  {"public", peer.text()},
                                  {"tunnel_group", group},
                                  {"message", radius::printable(asked.attributes.reply_message)}});
    out.response = xml_response(auth::build_challenge_form(
        {text::sanitize(asked.attributes.reply_message, 1024), group, *id}));
    co_return out;
  }
  // A reload during the hash may have removed or disabled the user: the current file decides.
  // A certificate-only user need not be in it, but one disabled there is refused. A RADIUS
  // group's users are the servers' to refuse.
  if (!on_radius)
    ok = ok && (certificate_only ? !rt.users->disabled(username) : rt.users->enabled(username));
  // What the Access-Accept grants (address, Class, timeouts, policy), under the configuration
  // in force now; an address the pool cannot lease refuses the login.
  radius::Grant grant;
  grant.policy = rt.policy_for(group).name;
  grant.policy_from = "group";
  std::string grant_refusal;
  if (ok && on_radius) {
    auto g = radius::grant_from_accept(asked.attributes, rt.config.radius, rt.sessions.pool().net(),
                                       grant.policy);
    if (g)
      grant = std::move(*g);
    else
      grant_refusal = "RADIUS Access-Accept refused: " + g.error();
    ok = g.ok();
  }
  // The tunnel group must admit the user (its `users`), under the configuration in force now.
  // Checked only after the password, and answered like a wrong one: the answer tells a guesser
  // neither that the password was right nor who may use which group (docs/traffic-policy.md).
  const bool admitted = rt.tunnel_group_for(group).admits(username);
  const bool group_refused = ok && !admitted;
  ok = ok && admitted;
  // A RADIUS server that did not answer is no guess at a password: not counted against the user.
  const bool servers_failed =
      asked_radius && !ok && grant_refusal.empty() && !group_refused &&
      (asked.outcome == radius::Outcome::no_answer || asked.outcome == radius::Outcome::error);
  attempt.finish(ok               ? auth::LoginThrottle::Outcome::success
                 : servers_failed ? auth::LoginThrottle::Outcome::abandoned
                                  : auth::LoginThrottle::Outcome::failure);
  if (!ok) {
    ++rt.counters.logins_failed;
    // Same answer for an unknown user, a wrong password and a group the user may not use; the
    // log tells them apart.
    if (cert_refusal != auth::CertificateRefusal::none) {
      log_certificate_login_failed(cert, who, peer.text(), group);
      co_return form("Login failed.");
    }
    log::warn("login_failed", {{"user", who},
                               {"public", peer.text()},
                               {"tunnel_group", group},
                               {"reason", !well_formed             ? "malformed username"
                                          : group_refused          ? "tunnel group not allowed"
                                          : !grant_refusal.empty() ? grant_refusal
                                          : asked_radius           ? radius_failure(asked)
                                          : rt.users->disabled(username) ? "disabled user"
                                          : rt.users->has(username)      ? "wrong password"
                                                                         : "unknown user"}});
    co_return form("Login failed.");
  }
  // The group's policy, or the one the RADIUS Class or Filter-Id mapped to (docs/radius.md).
  const auto mapped = rt.config.policies.find(grant.policy);
  const config::Policy& policy =
      mapped != rt.config.policies.end() ? mapped->second : rt.policy_for(group);
  const auth::AuthMethod method =
      on_radius ? auth::AuthMethod::radius : auth::auth_method_of(cert_mode);
  // The client's platform: its X-AnyConnect-Platform header, or the XML dialect's device-id,
  // held to the same character set (or none at all).
  const std::string platform = !client->platform.empty()                ? client->platform
                               : http::is_platform_name(msg->device_id) ? msg->device_id
                                                                        : std::string();
  session::NewSession request{username,
                              group,
                              policy.name,
                              peer.ip,
                              peer.port,
                              text::sanitize(req.header("User-Agent").value_or("")),
                              policy.simultaneous_logins,
                              method,
                              grant.ip,
                              grant.radius_class,
                              grant.policy_from == "group" ? std::string() : policy.name,
                              grant.session_timeout,
                              grant.idle_timeout};
  request.max_sessions = rt.session_limit.sessions;
  request.client_os = platform;
  request.accounted = rt.accounting != nullptr;
  auto created = rt.sessions.create(request);
  if (!created && grant.ip && created.code() == Errc::duplicate) {
    // The server named an address another session holds: that one or none (docs/radius.md).
    ++rt.counters.logins_failed;
    log::warn("login_failed", {{"user", who},
                               {"public", peer.text()},
                               {"tunnel_group", group},
                               {"reason", created.error()}});
    co_return form("Login failed.");
  }
  if (!created) {
    ++rt.counters.logins_refused;
    if (created.code() == Errc::unavailable) {
      // At the session limit (docs/limits.md): every login past the password check would say
      // so, hence the rate limit; the metric counts them all.
      std::uint64_t suppressed = 0;
      if (rt.front.login_refusal_log.allow(rt.clock.now(), suppressed))
        log::warn("login_refused", {{"user", who},
                                    {"public", peer.text()},
                                    {"reason", created.error()},
                                    {"suppressed", std::to_string(suppressed)}});
      co_return form("The service is at its session limit. Please try later.");
    }
    log::error("login_refused",
               {{"user", who}, {"public", peer.text()}, {"reason", created.error()}});
    co_return form("No address is available. Please try later.");
  }
  const std::uint64_t index = created->session->index;
  const std::string token = std::move(created->token);
  const Persisted where = co_await replicate(rt, index);
  if (where == Persisted::failed) {
    // Not on disk (a full or failing state disk; the replicator logged why), or no longer the
    // active node: a session the client is told of must survive a restart and a failover.
    // Its row may be on our disk (the standby did not answer in time): the removal is recorded
    // and replicated like any session end.
    rt.sessions.end(index, session::EndReason::not_recorded, false);
    ++rt.counters.logins_refused;
    log::error(
        "login_refused",
        {{"user", who},
         {"public", peer.text()},
         {"reason",
          "not recorded: the session store refused the write, or this node is no longer active"}});
    co_return form("The service could not record your session. Please try later.");
  }
  session::SessionRef created_session = rt.sessions.find(index);
  if (!created_session) co_return form("Please try again.");
  const session::Session& s = *created_session;
  ++rt.counters.logins_ok;
  account_start(rt, created_session);
  log::info("login_ok", {{"index", std::to_string(s.index)},
                         {"user", text::sanitize(s.user, text::kMaxUsername)},
                         {"ip", net::format_ipv4(s.ip)},
                         {"public", peer.text()},
                         {"tunnel_group", s.tunnel_group},
                         {"policy", s.policy},
                         {"auth", auth::to_string(method)},
                         {"policy_from", grant.policy_from},
                         {"radius_class", radius::printable(s.radius_class)},
                         {"cert_subject", cert.check.subject},
                         {"platform", platform},
                         {"persisted", to_string(where)},
                         {"ip6", s.ip6 ? net::format_ipv6(*s.ip6) : "-"}});
  out.logged_in = true;
  // The banner of the policy in force now (a reload since the session was made applies).
  out.response =
      login_success_response(token, rt.tunnel_group_for(s.tunnel_group), rt.policy_for(s).banner);
  co_return out;
}

}  // namespace tandem::server
