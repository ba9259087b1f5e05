#include "tests/tools/load_session.hpp"

#include <charconv>

#include "tests/tools/auth_exchange.hpp"

namespace tandem::load {
namespace {

// At most this many POSTs per login: init, the reply, and one more step a server may add.
constexpr int kMaxAuthPosts = 4;

std::optional<std::chrono::seconds> seconds_header(const HttpResponse& r, std::string_view name) {
  auto v = r.header_exact(name);
  if (!v) return std::nullopt;
  long n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n <= 0) return std::nullopt;
  return std::chrono::seconds(n);
}

// The DTLS part of a CONNECT answer (PSK-NEGOTIATE only), with the key exported for it.
Result<DtlsOffer> dtls_offer(const HttpResponse& r, TlsConnection& conn) {
  auto suite = r.header_exact("X-DTLS-CipherSuite");
  if (!suite) return fail("no DTLS offered (no X-DTLS-CipherSuite)");
  if (*suite != "PSK-NEGOTIATE") return fail("DTLS suite " + std::string(*suite) + " not PSK");
  auto app_id = r.header_exact("X-DTLS-App-ID");
  auto port = r.header_exact("X-DTLS-Port");
  if (!app_id || !port) return fail("DTLS offered without X-DTLS-App-ID or X-DTLS-Port");
  DtlsOffer offer;
  if (app_id->size() % 2 != 0 || app_id->size() > 64) return fail("bad X-DTLS-App-ID");
  for (std::size_t i = 0; i < app_id->size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(app_id->data() + i, app_id->data() + i + 2, v, 16);
    if (ec != std::errc() || p != app_id->data() + i + 2) return fail("bad X-DTLS-App-ID");
    offer.app_id.push_back(static_cast<std::uint8_t>(v));
  }
  unsigned short udp_port = 0;
  auto [p, ec] = std::from_chars(port->data(), port->data() + port->size(), udp_port);
  if (ec != std::errc() || p != port->data() + port->size() || udp_port == 0)
    return fail("bad X-DTLS-Port");
  auto psk = export_dtls_psk(conn.stream().native_handle());
  if (!psk) return fail("the TLS connection exported no DTLS key");
  offer.psk = *psk;
  boost::system::error_code error;
  const auto remote = conn.stream().lowest_layer().remote_endpoint(error);
  const auto local = conn.stream().lowest_layer().local_endpoint(error);
  if (error) return fail("DTLS: " + error.message());
  offer.server = udp::endpoint(remote.address(), udp_port);
  offer.local = local.address();
  offer.keepalive = seconds_header(r, "X-DTLS-Keepalive");
  return offer;
}

}  // namespace

Target member_target(const Target& director, const RedirectTarget& to) {
  return Target{
      director.io,      director.tls,        tcp::endpoint(asio::ip::make_address(to.ip), to.port),
      to.authority,     director.pin,        director.step_timeout,
      director.sources, director.next_source};
}

asio::awaitable<Result<Redirected>> ask_director(const Target& target) {
  const auto started = std::chrono::steady_clock::now();
  auto opened = co_await TlsConnection::open(target);
  if (!opened) co_return fail(opened.error());
  auto conn = std::move(*opened);
  const std::string body = build_init_body("https://" + target.host + "/");
  auto response = co_await conn->exchange(
      build_request("POST", "/", auth_post_headers(target.host, "", body.size()), body), false);
  conn->close();
  if (!response) co_return fail("POST /: " + response.error());
  if (!is_redirect_status(response->status)) {
    std::string what = "POST /: " + response->status_line + " (not a redirect)";
    if (auto reason = response->header("X-Reason")) what += " X-Reason: " + std::string(*reason);
    co_return fail(what);
  }
  auto location = response->header("Location");
  if (!location) co_return fail("POST /: " + response->status_line + " without a Location");
  auto to = parse_location(*location);
  if (!to) co_return fail("redirect: " + to.error());
  co_return Redirected{std::move(*to), std::chrono::steady_clock::now() - started};
}

asio::awaitable<Result<LoggedIn>> login(const Target& target, const std::string& user,
                                        const std::string& password, bool follow_redirect) {
  CookieJar jar;
  std::shared_ptr<TlsConnection> conn;
  LoggedIn out;
  const Target* at = &target;  // where the POSTs go: the first server, or the member it named
  std::string path = "/";
  std::string body = build_init_body("https://" + target.host + "/");
  for (int post = 1; post <= kMaxAuthPosts; ++post) {
    // A server that closed the connection (or said it would) gets a new one, as openconnect does.
    if (!conn || !conn->is_open()) {
      auto opened = co_await TlsConnection::open(*at);
      if (!opened) co_return fail(opened.error());
      conn = std::move(*opened);
    }
    auto headers = auth_post_headers(at->host, cookie_header(jar), body.size());
    auto response = co_await conn->exchange(build_request("POST", path, headers, body), false);
    if (!response) co_return fail("POST " + path + ": " + response.error());
    store_cookies(*response, jar);
    if (!response->keep_alive()) conn->close();
    auto location = response->header("Location");
    // Only the answer to the very first POST may send us on (a director answers nothing else);
    // the member's own answers are followed nowhere.
    if (follow_redirect && post == 1 && !out.member && is_redirect_status(response->status)) {
      if (!location) co_return fail("POST /: " + response->status_line + " without a Location");
      auto to = parse_location(*location);
      if (!to) co_return fail("redirect: " + to.error());
      // A new server, as openconnect does it: a fresh connection and jar, the init POST again
      // at the Location's path and query; it does not count as one of the POSTs.
      out.member.emplace(member_target(target, *to));
      at = &*out.member;
      conn->close();
      conn.reset();
      jar.clear();
      path = to->target;
      body = build_init_body("https://" + to->authority + to->target);
      --post;
      continue;
    }
    if (response->status != 200) {
      std::string what = "POST " + path + ": " + response->status_line;
      if (location) what += " (redirect to " + std::string(*location) + " not followed)";
      co_return fail(what);
    }
    auto reply = parse_auth_reply(response->body);
    if (!reply) co_return fail("POST " + path + ": " + reply.error());
    if (reply->kind == AuthReply::Kind::success) {
      std::string token = reply->session_token;
      if (auto cookie = jar.find("webvpn"); token.empty() && cookie != jar.end()) {
        token = cookie->second;
      }
      if (token.empty()) co_return fail("login succeeded but no session token was sent");
      out.token = std::move(token);
      out.landed = at->host;
      co_return out;
    }
    // A form: the first one is the login form; one coming back after our reply is a refusal.
    if (post > 1 && !reply->error.empty()) co_return fail("login refused: " + reply->error);
    if (reply->password_field.empty() && reply->user_field.empty()) {
      co_return fail("form '" + reply->auth_id + "' asks for neither user nor password" +
                     (reply->error.empty() ? "" : " (error: " + reply->error + ")"));
    }
    if (!reply->action.starts_with("/")) {
      co_return fail("form action '" + reply->action + "' leaves this server: not followed");
    }
    path = reply->action;
    body = build_auth_reply_body(*reply, user, password);
  }
  co_return fail("no success after " + std::to_string(kMaxAuthPosts) + " POSTs");
}

asio::awaitable<Connected> connect_tunnel(const Target& target, const std::string& token,
                                          bool dtls) {
  Connected out;
  const auto started = std::chrono::steady_clock::now();
  auto opened = co_await TlsConnection::open(target);
  if (!opened) {
    out.detail = opened.error();
    co_return out;
  }
  auto conn = std::move(*opened);
  auto response =
      co_await conn->exchange(build_connect_request(target.host, token, dtls), true, &out.leftover);
  out.latency = std::chrono::steady_clock::now() - started;
  if (!response) {
    out.detail = "CONNECT: " + response.error();
    co_return out;
  }
  const HttpResponse& r = *response;
  out.detail = r.status_line;
  if (r.status == 401) {
    out.outcome = ConnectOutcome::unauthorized;
  } else if (r.status == 503) {
    out.outcome = ConnectOutcome::unavailable;
    if (auto reason = r.header("X-Reason"))
      out.detail += " (X-Reason: " + std::string(*reason) + ")";
  } else if (!r.status_line.starts_with("HTTP/1.1 200 ")) {
    // openconnect's test, byte for byte: HTTP/1.0, or a 200 without a reason phrase, fail there.
    out.outcome = ConnectOutcome::other_status;
    if (r.status == 200) out.detail += " (openconnect needs \"HTTP/1.1 200 <reason>\")";
  } else if (!r.header_exact("X-CSTP-Address")) {
    out.outcome = ConnectOutcome::other_status;
    out.detail = "200 without X-CSTP-Address (openconnect aborts)";
  } else if (!r.header_exact("X-CSTP-MTU") && !r.header_exact("X-DTLS-MTU")) {
    out.outcome = ConnectOutcome::other_status;
    out.detail = "200 without X-CSTP-MTU (openconnect aborts)";
  } else {
    out.outcome = ConnectOutcome::ok;
    out.detail.clear();
    out.address = std::string(*r.header_exact("X-CSTP-Address"));
    out.keepalive = seconds_header(r, "X-CSTP-Keepalive");
    out.dpd = seconds_header(r, "X-CSTP-DPD");
    if (dtls) {
      if (auto offer = dtls_offer(r, *conn)) {
        out.dtls = std::move(*offer);
      } else {
        out.no_dtls = offer.error();
      }
    }
    out.connection = std::move(conn);
    co_return out;
  }
  conn->close();
  co_return out;
}

}  // namespace tandem::load
