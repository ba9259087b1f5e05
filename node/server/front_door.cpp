#include "node/server/front_door.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <utility>
#include <vector>

#include "base/log.hpp"
#include "node/config/defaults.hpp"
#include "node/http/request.hpp"
#include "node/profile/manifest.hpp"
#include "node/server/front_connection.hpp"
#include "node/session/session_record.hpp"

namespace tandem::server {

void reset_front_connections(Runtime& rt) {
  for (FrontConnection* c : rt.front.connections) {
    if (c->handed_over) continue;
    boost::system::error_code ignored;
    c->stream->lowest_layer().set_option(tcp::socket::linger(true, 0), ignored);
    c->close();
  }
}

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

asio::awaitable<Persisted> replicate(Runtime& rt, std::uint64_t index,
                                     const session::TunnelInfo* new_ssl) {
  session::SessionRef s = rt.sessions.find(index);
  if (!s || !rt.replication) co_return Persisted::failed;
  struct Wait {
    explicit Wait(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool done = false;
    Persisted where = Persisted::failed;
  };
  auto wait = std::make_shared<Wait>(rt.io);
  rt.sessions.mark_sent(s);
  session::Session record_view;
  const session::Session* record = s.get();
  if (new_ssl) {
    record_view = rt.sessions.with_ssl(s, *new_ssl);
    record = &record_view;
  }
  rt.replication->upsert(session::to_record(*record), true, [wait](Persisted where) {
    wait->done = true;
    wait->where = where;
    wait->timer.cancel();
  });
  if (!wait->done) co_await wait->timer.async_wait(use_nothrow);
  co_return wait->where;
}

const char* not_serving_reason(const Runtime& rt, Attach what) {
  if (!rt.serving()) return "this node is a standby";
  if (!rt.replication) return nullptr;
  if (!rt.replication->accepting_resumes()) return "handing over to the standby";
  if (what == Attach::login && !rt.replication->accepting_logins())
    return "this node is draining (tandemctl drain)";
  return nullptr;
}

namespace {

// Closes the connection when its deadline passes; moving the deadline re-arms it.
asio::awaitable<void> watchdog(std::shared_ptr<FrontConnection> c) {
  for (;;) {
    co_await c->deadline.async_wait(use_nothrow);
    if (c->handed_over || !c->stream->lowest_layer().is_open()) co_return;
    const auto now = asio::steady_timer::clock_type::now();
    if (c->deadline.expiry() <= now) {
      c->timed_out = true;
      c->login_expired = now >= c->login_deadline;
      c->close();
      co_return;
    }
  }
}

// Refused before any byte is read: a reset, so that neither side keeps state for it. The log
// is rate-limited (a flood would flood it); the metric counts every refusal.
void refuse_connection(Runtime& rt, tcp::socket& socket, const Peer& peer,
                       FrontDoorLimits::Refusal why) {
  boost::system::error_code ignored;
  socket.set_option(tcp::socket::linger(true, 0), ignored);
  socket.close(ignored);
  std::uint64_t suppressed = 0;
  if (!rt.front.connection_refusal_log.allow(rt.clock.now(), suppressed)) return;
  const auto& l = rt.config.limits;
  int limit = static_cast<int>(defaults::kMaxFrontConnections);
  if (why == FrontDoorLimits::Refusal::connections_per_address) limit = l.connections_per_address;
  if (why == FrontDoorLimits::Refusal::handshakes) limit = l.tls_handshakes;
  if (why == FrontDoorLimits::Refusal::handshakes_per_address) limit = l.tls_handshakes_per_address;
  log::warn("connection_refused", {{"public", peer.text()},
                                   {"reason", std::string(to_string(why))},
                                   {"limit", std::to_string(limit)},
                                   {"suppressed", std::to_string(suppressed)}});
}

// A deadline closed the connection: say which one.
void refuse_timeout(Runtime& rt, const Peer& peer, const FrontConnection& c,
                    const std::string& stage_reason) {
  if (!c.login_expired) return refuse_input(rt, peer, stage_reason);
  ++rt.counters.login_deadline_expired;
  const auto secs =
      std::chrono::duration_cast<std::chrono::seconds>(rt.config.limits.login_deadline);
  refuse_input(
      rt, peer,
      "login not completed within the login deadline (" + std::to_string(secs.count()) + " s)");
}

// The connection's places in the front door's counts, given back however the coroutine ends.
struct LimitSlot {
  FrontDoorLimits& limits;  // not through the Runtime: this may run at shutdown
  std::string address;
  bool handshaking = true;
  void handshake_over() {
    if (std::exchange(handshaking, false)) limits.handshake_over(address);
  }
  ~LimitSlot() {
    handshake_over();
    limits.release(address);
  }
};

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
  if (auto why = rt.front.limits.admit(peer.ip); why != FrontDoorLimits::Refusal::none) {
    refuse_connection(rt, socket, peer, why);
    co_return;
  }
  LimitSlot slot{rt.front.limits, peer.ip};

  auto c = std::make_shared<FrontConnection>(rt, std::move(socket));
  rt.front.connections.insert(c.get());
  c->expire_in(defaults::kTlsHandshakeTimeout);
  asio::co_spawn(rt.io, watchdog(c), asio::detached);
  struct StopWatchdog {
    Runtime& rt;
    std::shared_ptr<FrontConnection>& c;
    ~StopWatchdog() {
      rt.front.connections.erase(c.get());
      if (!c->handed_over) {
        c->close();
        c->deadline.cancel();
      }
    }
  } stop{rt, c};

  auto [hs_ec] = co_await c->stream->async_handshake(asio::ssl::stream_base::server, use_nothrow);
  slot.handshake_over();
  if (hs_ec) {
    if (c->timed_out)
      refuse_timeout(rt, peer, *c, "TLS handshake not completed in time");
    else
      refuse_input(rt, peer, "TLS handshake failed: " + hs_ec.message());
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
          refuse_timeout(rt, peer, *c,
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
    if (req.method == "GET" && profile::is_profile_target(req.target)) {
      const http::Response r = serve_profile(rt, req, peer);
      const bool close = r.status != 200 || !req.keep_alive();
      if (!co_await send(*c, r) || close) co_return;
      continue;
    }
    if (req.method != "POST") {
      refuse_input(rt, peer, "HTTP: " + req.method + " " + req.target + " is not served");
      co_await send(*c, error_response(req.method == "GET" ? 404 : 405));
      co_return;
    }
    LoginReply reply = co_await handle_login(rt, req, peer, c->stream->native_handle());
    if (c->timed_out) {  // a deadline passed while the password was checked
      refuse_timeout(rt, peer, *c, "request not completed in time");
      co_return;
    }
    if (reply.logged_in) c->logged_in();
    const bool close = reply.close || !req.keep_alive();
    if (close) reply.response.headers.push_back({"Connection", "close"});
    if (!co_await send(*c, reply.response) || close) co_return;
  }
}

}  // namespace tandem::server
