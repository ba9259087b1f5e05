#include "node/server/front_door.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <vector>

#include "node/common/log.hpp"
#include "node/config/defaults.hpp"
#include "node/http/request.hpp"
#include "node/server/front_connection.hpp"

namespace tandem::server {

void reset_front_connections(Runtime& rt) {
  for (FrontConnection* c : rt.front_connections) {
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

asio::awaitable<session::Persisted> replicate(Runtime& rt, std::uint64_t index,
                                              const session::TunnelInfo* new_ssl) {
  session::Session* s = rt.sessions.find(index);
  if (!s || !rt.replication) co_return session::Persisted::failed;
  struct Wait {
    explicit Wait(asio::io_context& io) : timer(io, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    bool done = false;
    session::Persisted where = session::Persisted::failed;
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
  rt.replication->upsert(*record, true, [wait](session::Persisted where) {
    wait->done = true;
    wait->where = where;
    wait->timer.cancel();
  });
  if (!wait->done) co_await wait->timer.async_wait(use_nothrow);
  co_return wait->where;
}

const char* not_serving_reason(const Runtime& rt) {
  if (!rt.serving) return "this node is a standby";
  if (rt.replication && !rt.replication->accepting_logins()) return "handing over to the standby";
  return nullptr;
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
