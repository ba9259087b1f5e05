#include "node/server/front_door.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <string>

#include "node/auth/config_auth.hpp"
#include "node/common/log.hpp"
#include "node/config/defaults.hpp"
#include "node/http/request.hpp"
#include "node/server/connect_response.hpp"
#include "node/server/cstp_tunnel.hpp"
#include "node/server/dtls_server.hpp"
#include "node/server/login.hpp"

namespace tandem::server {

// The connection and its deadline, shared by the serving coroutine and its watchdog.
struct FrontConnection {
  FrontConnection(Runtime& rt, tcp::socket socket)
      : stream(std::make_unique<TlsStream>(std::move(socket), rt.tls)), deadline(rt.io) {}
  std::unique_ptr<TlsStream> stream;
  asio::steady_timer deadline;
  bool handed_over = false;  // the stream now belongs to a tunnel
  bool timed_out = false;

  void expire_in(Duration d) { deadline.expires_after(d); }
  void close() {
    boost::system::error_code ignored;
    stream->lowest_layer().close(ignored);
  }
};

void reset_front_connections(Runtime& rt) {
  for (FrontConnection* c : rt.front_connections) {
    if (c->handed_over) continue;
    boost::system::error_code ignored;
    c->stream->lowest_layer().set_option(tcp::socket::linger(true, 0), ignored);
    c->close();
  }
}

namespace {

// Closes the connection when its deadline passes; moving the deadline re-arms it.
asio::awaitable<void> watchdog(std::shared_ptr<FrontConnection> c) {
  for (;;) {
    co_await c->deadline.async_wait(use_nothrow);
    if (c->handed_over || !c->stream->lowest_layer().is_open()) co_return;
    if (c->deadline.expiry() <= asio::steady_timer::clock_type::now()) {
      c->timed_out = true;
      c->close();
      co_return;
    }
  }
}

struct Peer {
  std::string ip;
  std::uint16_t port = 0;
  std::string text() const { return ip + ":" + std::to_string(port); }
};

void refuse_input(Runtime& rt, const Peer& peer, const std::string& reason) {
  ++rt.counters.input_refused;
  log::warn("input_refused", {{"public", peer.text()}, {"reason", reason}});
}

asio::awaitable<bool> send(FrontConnection& c, const http::Response& r) {
  std::string bytes = r.serialize();
  auto [ec, n] = co_await asio::async_write(*c.stream, asio::buffer(bytes), use_nothrow);
  co_return !ec;
}

http::Response error_response(int status) {
  http::Response r;
  r.status = status;
  r.reason = status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Bad Request";
  if (status == 413) r.reason = "Payload Too Large";
  if (status == 431) r.reason = "Request Header Fields Too Large";
  if (status == 501) r.reason = "Not Implemented";
  if (status == 503) r.reason = "Service Unavailable";
  r.headers.push_back({"Connection", "close"});
  return r;
}

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

// Persist the session and wait (bounded, inside the replicator) until the standby has it too:
// a session the client is told about must survive a failover (DESIGN step 3).
// `new_ssl`: the SSL tunnel about to be attached; it goes into the record, so that a standby
// promoted right after knows where this client's connection ends (for the tickle).
asio::awaitable<bool> replicate(Runtime& rt, std::uint64_t index,
                                const session::TunnelInfo* new_ssl = nullptr) {
  session::Session* s = rt.sessions.find(index);
  if (!s || !rt.replication) co_return false;
  struct Wait {
    explicit Wait(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool done = false, acked = false;
  };
  auto wait = std::make_shared<Wait>(rt.io);
  s->dirty = false;
  session::Session record_view;
  const session::Session* record = s;
  if (new_ssl) {
    record_view = *s;
    record_view.ssl_info = *new_ssl;
    record = &record_view;
  }
  rt.replication->upsert(*record, true, [wait](bool acked) {
    wait->done = true;
    wait->acked = acked;
    wait->timer.cancel();
  });
  if (!wait->done) co_await wait->timer.async_wait(use_nothrow);
  co_return wait->acked;
}

// Only the active node of a member takes logins and tunnels; a standby (or an active handing
// over) answers "try again", which openconnect retries (notes §6.4).
const char* not_serving_reason(const Runtime& rt) {
  if (!rt.serving) return "this node is a standby";
  if (rt.replication && !rt.replication->accepting_logins()) return "handing over to the standby";
  return nullptr;
}

// One POST of the login exchange. Returns the response; `close` is set on bad input.
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

  if (const char* why = not_serving_reason(rt)) {
    ++rt.counters.logins_refused;
    log::warn("login_refused", {{"user", msg->username}, {"public", peer.text()}, {"reason", why}});
    co_return login_form_response(rt.config, group, "The service is moving. Please try again.");
  }
  if (rt.pending_logins >= defaults::kMaxPendingLogins) {
    ++rt.counters.logins_refused;
    log::warn("login_refused", {{"user", msg->username},
                                {"public", peer.text()},
                                {"reason", "too many logins in progress"}});
    co_return login_form_response(rt.config, group, "The server is busy. Please try again.");
  }
  ++rt.pending_logins;
  bool ok = co_await check_password(rt, msg->username, msg->password);
  --rt.pending_logins;
  if (!ok) {
    ++rt.counters.logins_failed;
    // Same answer for an unknown user and a wrong password; the log tells them apart.
    log::warn("login_failed",
              {{"user", msg->username},
               {"public", peer.text()},
               {"reason", rt.users->has(msg->username) ? "wrong password" : "unknown user"}});
    co_return login_form_response(rt.config, group, "Login failed.");
  }
  const config::Policy& policy = rt.policy_for(group);
  session::NewSession request{msg->username,
                              group,
                              policy.name,
                              peer.ip,
                              peer.port,
                              std::string(req.header("User-Agent").value_or("")),
                              policy.simultaneous_logins};
  auto created = rt.sessions.create(request);
  if (!created) {
    ++rt.counters.logins_refused;
    log::error("login_refused",
               {{"user", msg->username}, {"public", peer.text()}, {"reason", created.error()}});
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
                         {"user", s.user},
                         {"ip", session::format_ipv4(s.ip)},
                         {"public", peer.text()},
                         {"tunnel_group", s.tunnel_group},
                         {"policy", s.policy},
                         {"replicated", acked ? "yes" : "no"}});
  co_return login_success_response(token);
}

std::string hex_bytes(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool is_tunnel_path(const std::string& target) {
  return target == "/CSCOSSLC/tunnel" || target.rfind("/CSTP", 0) == 0;
}

// CONNECT: find the session by token, answer with the tunnel configuration, hand over.
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
  if (const char* why = not_serving_reason(rt)) {
    co_await refuse(503, why);
    co_return;
  }
  auto token = req.cookie("webvpn");
  if (!token || token->empty()) {
    co_await refuse(401, "no session token");
    co_return;
  }
  session::TokenRefusal why{};
  session::Session* s = rt.sessions.find_by_token(*token, why);
  if (!s) {
    co_await refuse(401, session::to_string(why));
    co_return;
  }
  const std::uint64_t index = s->index;
  // S11: the session follows the client to where it is now; the resume is on the standby's
  // disk before the client hears it worked.
  s->public_ip = peer.ip;
  s->public_port = peer.port;
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
  params.dns = rt.config.dns;
  params.routes = rt.config.routes;
  params.policy = rt.policy_for(s->tunnel_group);
  params.server_name = rt.server_name;
  if (auto base = req.header("X-CSTP-Base-MTU")) {
    try {
      params.client_base_mtu = std::stoi(std::string(*base));
    } catch (...) {
      // A bad hint is ignored; the default applies.
    }
  }
  std::string dtls_app_id;
  if (rt.dtls && offers_psk_negotiate(req.header("X-DTLS-CipherSuite").value_or(""))) {
    // PSK-NEGOTIATE: both sides derive the DTLS key from this TLS connection (notes §5.2).
    std::array<std::uint8_t, 32> psk{};
    static constexpr char kLabel[] = "EXPORTER-openconnect-psk";
    if (SSL_export_keying_material(c->stream->native_handle(), psk.data(), psk.size(), kLabel,
                                   sizeof kLabel - 1, nullptr, 0, 0) == 1) {
      dtls_app_id = rt.dtls->register_tunnel(index, psk);
      params.dtls = TunnelParams::Dtls{rt.dtls->port(), hex_bytes(dtls_app_id)};
    }
    OPENSSL_cleanse(psk.data(), psk.size());
  }
  if (!co_await send(*c, build_connect_response(params))) {
    if (rt.dtls && !dtls_app_id.empty()) rt.dtls->unregister_tunnel(dtls_app_id);
    c->close();
    co_return;
  }
  // The session may have ended while we were writing.
  s = rt.sessions.find(index);
  if (!s) {
    if (rt.dtls && !dtls_app_id.empty()) rt.dtls->unregister_tunnel(dtls_app_id);
    c->close();
    co_return;
  }

  const bool resume = s->ssl_info.connected_at_unix != 0;

  c->handed_over = true;
  c->deadline.cancel();
  auto tunnel = std::make_shared<CstpTunnel>(rt, std::move(c->stream), *s, peer.text(),
                                             parser.take_leftover(), std::move(dtls_app_id));
  rt.sessions.attach_ssl(*s, tunnel, info);
  if (resume) {
    ++s->resumes;
    ++rt.counters.resumes;
    log::info("session_resumed", {{"index", std::to_string(index)},
                                  {"user", s->user},
                                  {"ip", session::format_ipv4(s->ip)},
                                  {"public", peer.text()}});
  }
  log::info("tunnel_up", {{"index", std::to_string(index)},
                          {"tunnel", std::to_string(index) + ".2"},
                          {"kind", "ssl"},
                          {"ip", session::format_ipv4(s->ip)},
                          {"public", peer.text()},
                          {"encapsulation", info.encapsulation},
                          {"cipher", info.cipher}});
  tunnel->start();
}

}  // namespace

asio::awaitable<void> serve_front_connection(Runtime& rt, tcp::socket socket) {
  Peer peer;
  {
    boost::system::error_code ec;
    auto ep = socket.remote_endpoint(ec);
    if (ec) co_return;
    peer.ip = ep.address().to_string();
    peer.port = ep.port();
  }
  if (rt.open_front_connections >= defaults::kMaxFrontConnections) {
    refuse_input(rt, peer, "too many connections in progress");
    co_return;
  }
  ++rt.open_front_connections;
  struct Counted {
    std::size_t& n;
    ~Counted() { --n; }
  } counted{rt.open_front_connections};

  auto c = std::make_shared<FrontConnection>(rt, std::move(socket));
  rt.front_connections.insert(c.get());
  c->expire_in(defaults::kTlsHandshakeTimeout);
  asio::co_spawn(rt.io, watchdog(c), asio::detached);
  struct StopWatchdog {
    Runtime& rt;
    std::shared_ptr<FrontConnection>& c;
    ~StopWatchdog() {
      rt.front_connections.erase(c.get());
      if (!c->handed_over) {
        c->close();
        c->deadline.cancel();
      }
    }
  } stop{rt, c};

  if (auto [ec] = co_await c->stream->async_handshake(asio::ssl::stream_base::server, use_nothrow);
      ec) {
    refuse_input(rt, peer,
                 c->timed_out ? std::string("TLS handshake not completed in time")
                              : "TLS handshake failed: " + ec.message());
    co_return;
  }

  http::Limits limits{defaults::kMaxHeaderBytes, defaults::kMaxHeaderCount,
                      defaults::kMaxBodyBytes};
  http::RequestParser parser(limits);
  std::vector<char> buf(16 * 1024);
  bool first = true;
  for (;;) {
    // A client gets kRequestTimeout to send a whole request once it starts, and is allowed to
    // sit idle between requests (a user typing a password) for kKeepAliveIdleTimeout.
    c->expire_in(first ? defaults::kRequestTimeout : defaults::kKeepAliveIdleTimeout);
    bool started = parser.state() != http::RequestParser::State::need_more;
    while (parser.state() == http::RequestParser::State::need_more) {
      auto [ec, n] = co_await c->stream->async_read_some(asio::buffer(buf), use_nothrow);
      if (ec) {
        if (c->timed_out)
          refuse_input(rt, peer,
                       started ? "request not completed in time" : "idle connection timed out");
        co_return;
      }
      if (!started) {
        started = true;
        c->expire_in(defaults::kRequestTimeout);
      }
      parser.feed(std::string_view(buf.data(), n));
    }
    if (parser.state() == http::RequestParser::State::error) {
      refuse_input(rt, peer, "HTTP: " + parser.error());
      co_await send(*c, error_response(parser.error_status()));
      co_return;
    }
    http::Request req = parser.take();
    first = false;
    c->expire_in(defaults::kRequestTimeout);
    if (req.method == "CONNECT") {
      co_await handle_connect(rt, c, req, parser, peer);
      co_return;
    }
    if (req.method != "POST") {
      refuse_input(rt, peer, "HTTP: " + req.method + " " + req.target + " is not served");
      co_await send(*c, error_response(req.method == "GET" ? 404 : 405));
      co_return;
    }
    bool close = false;
    http::Response resp = co_await handle_login(rt, req, peer, close);
    if (!req.keep_alive() || close) resp.headers.push_back({"Connection", "close"});
    if (!co_await send(*c, resp) || close || !req.keep_alive()) co_return;
  }
}

}  // namespace tandem::server
