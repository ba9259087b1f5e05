// CONNECT /CSCOSSLC/tunnel: the token finds the session, the answer configures the client (and
// DTLS, keyed from this TLS connection), and the connection becomes the session's SSL tunnel.
#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <array>
#include <string>

#include "base/log.hpp"
#include "base/text.hpp"
#include "node/config/defaults.hpp"
#include "node/http/client_headers.hpp"
#include "node/server/admin_backend.hpp"
#include "node/server/client_certificates.hpp"
#include "node/server/connect_response.hpp"
#include "node/server/cstp_tunnel.hpp"
#include "node/server/dtls_offer.hpp"
#include "node/server/dtls_server.hpp"
#include "node/server/front_connection.hpp"
#include "node/session/timers.hpp"

namespace tandem::server {
namespace {

bool is_tunnel_path(const std::string& target) {
  return target == "/CSCOSSLC/tunnel" || target.rfind("/CSTP", 0) == 0;
}

}  // namespace

asio::awaitable<void> handle_connect(Runtime& rt, std::shared_ptr<FrontConnection> c,
                                     const http::Request& req, http::RequestParser& parser,
                                     const Peer& peer) {
  auto refuse = [&](int status, const std::string& reason) -> asio::awaitable<void> {
    log::warn("connect_refused",
              {{"public", peer.text()}, {"status", std::to_string(status)}, {"reason", reason}});
    co_await send(*c, build_connect_refusal(status, reason));
    c->close();
  };
  if (!is_tunnel_path(req.target)) {
    co_await refuse(404, "CONNECT to unknown path " + req.target);
    co_return;
  }
  if (const char* why = not_serving_reason(rt, Attach::resume)) {
    co_await refuse(503, why);
    co_return;
  }
  // Cisco's extra headers are hostile input like the rest (docs/cisco-clients.md).
  const auto client = http::read_client_headers(req);
  if (!client) {
    co_await refuse(400, client.error());
    co_return;
  }
  auto token = http::session_token(req);
  if (!token) {
    co_await refuse(401, token.error());
    co_return;
  }
  session::TokenRefusal why{};
  session::SessionRef s = rt.sessions.find_by_token(*token, why);
  if (!s) {
    co_await refuse(401, session::to_string(why));
    co_return;
  }
  const std::uint64_t index = s->index;
  if (const auto revoked = revoked_because(rt, *s)) {
    // A user removed or disabled since the login, or no longer allowed the session's tunnel
    // group (a reload on another node, or one that raced this login): the session ends here
    // rather than resume (S12 re-checks only the token, but a revoked user's token must not
    // outlive the reload).
    rt.sessions.end(index, *revoked, false);
    co_await refuse(401, *revoked == session::EndReason::user_disabled ? "user disabled"
                         : *revoked == session::EndReason::user_removed
                             ? "user not in the users file"
                             : "tunnel group not allowed");
    co_return;
  }
  // A certificate group's session resumes only with a certificate that still passes and names
  // its user (docs/client-certificates.md); the user's own certificate, now revoked, ends it.
  if (const auto refusal =
          resume_certificate_refusal(rt, c->stream->native_handle(), *s, peer.text());
      refusal != auth::CertificateRefusal::none) {
    if (refusal == auth::CertificateRefusal::revoked)
      rt.sessions.end(index, session::EndReason::certificate_revoked, false);
    co_await refuse(401, auth::to_string(refusal));
    co_return;
  }
  // A valid token counts as a login: the login deadline no longer applies (the request's does).
  c->logged_in();
  c->expire_in(defaults::kRequestTimeout);
  // S11: the session follows the client to where it is now (the table records it at the attach);
  // the resume is on the standby's disk before the client hears it worked.
  session::TunnelInfo info;
  info.public_ip = peer.ip;
  info.public_port = peer.port;
  boost::system::error_code ec;
  info.local_port = c->stream->lowest_layer().local_endpoint(ec).port();
  SSL* ssl = c->stream->native_handle();
  info.encapsulation = SSL_get_version(ssl);
  info.cipher = SSL_get_cipher_name(ssl);
  info.connected_at_unix = wall_seconds();
  co_await replicate(rt, index, &info);
  s = rt.sessions.find(index);
  if (!s) {
    co_await refuse(401, "session ended while resuming");
    co_return;
  }

  TunnelParams params;
  params.client_ip = s->ip;
  params.pool = rt.sessions.pool().net();
  if (s->ip6 && rt.sessions.pool6()) {
    params.client_ip6 = s->ip6;
    params.pool6 = rt.sessions.pool6()->net();
  }
  // The group's policy as configured now: a reload reaches new sessions and every resume
  // (docs/group-networks.md).
  // A RADIUS login's own policy and timeouts (docs/radius.md) travel with the session.
  params.policy = session::with_session_overrides(rt.policy_for(*s), *s);
  // The policy's MTU assumes an IPv4 outer header; IPv6's is 20 bytes longer (docs/ipv6.md).
  // Never below what IPv6 inside the tunnel needs (RFC 8200: 1280), nor below the smallest MTU
  // a policy may have.
  if (peer.ip.find(':') != std::string::npos)
    params.policy.mtu = std::max(params.policy.mtu - 20, params.client_ip6 ? 1280 : 576);
  params.dns = params.policy.dns;
  params.server_name = rt.front.server_name;
  if (auto base = req.header("X-CSTP-Base-MTU")) {
    try {
      params.client_base_mtu = std::stoi(std::string(*base));
    } catch (...) {
      // A bad hint is ignored; the default applies.
    }
  }
  std::string dtls_app_id =
      offer_dtls(rt.tunnels.dtls, c->stream->native_handle(), req, index, params);
  if (!co_await send(*c, build_connect_response(params))) {
    if (rt.tunnels.dtls && !dtls_app_id.empty()) rt.tunnels.dtls->unregister_tunnel(dtls_app_id);
    c->close();
    co_return;
  }
  // The session may have ended while we were writing.
  s = rt.sessions.find(index);
  if (!s) {
    if (rt.tunnels.dtls && !dtls_app_id.empty()) rt.tunnels.dtls->unregister_tunnel(dtls_app_id);
    c->close();
    co_return;
  }

  c->handed_over = true;
  c->deadline.cancel();
  auto tunnel = std::make_shared<CstpTunnel>(rt.tunnels, std::move(c->stream), s, peer.text(),
                                             parser.take_leftover(), std::move(dtls_app_id));
  if (rt.sessions.attach_ssl(s, tunnel, info)) {
    ++rt.counters.resumes;
    log::info("session_resumed", {{"index", std::to_string(index)},
                                  {"user", text::sanitize(s->user, text::kMaxUsername)},
                                  {"ip", net::format_ipv4(s->ip)},
                                  {"public", peer.text()},
                                  {"ip6", s->ip6 ? net::format_ipv6(*s->ip6) : "-"}});
  }
  log::info("tunnel_up", {{"index", std::to_string(index)},
                          {"tunnel", std::to_string(index) + ".2"},
                          {"kind", "ssl"},
                          {"ip", net::format_ipv4(s->ip)},
                          {"public", peer.text()},
                          {"encapsulation", info.encapsulation},
                          {"cipher", info.cipher},
                          {"platform", client->platform.empty() ? "-" : client->platform},
                          {"ip6", s->ip6 ? net::format_ipv6(*s->ip6) : "-"}});
  tunnel->start();
}

}  // namespace tandem::server
