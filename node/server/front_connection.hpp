#pragma once
// Internal to node/server: a client connection before it becomes a tunnel, and the helpers the
// three stages share (front_door.cpp: TLS and HTTP; login_exchange.cpp: the config-auth POSTs;
// tunnel_connect.cpp: the CONNECT). Includes Asio: only those files include it.
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <memory>
#include <string>

#include "node/http/request.hpp"
#include "node/server/runtime.hpp"

namespace tandem::server {

// The connection and its deadlines, shared by the serving coroutine and its watchdog. Each stage
// (handshake, request, idle between requests) sets its own deadline, but none reaches past the
// login deadline: until the client has logged in on this connection (or handed it over with a
// valid token), keep-alive requests cannot keep it open.
struct FrontConnection {
  using TimerPoint = asio::steady_timer::time_point;
  FrontConnection(Runtime& rt, tcp::socket socket)
      : stream(std::make_unique<TlsStream>(std::move(socket), rt.front.tls)),
        deadline(rt.io),
        login_deadline(asio::steady_timer::clock_type::now() + rt.config.limits.login_deadline) {}
  std::unique_ptr<TlsStream> stream;
  asio::steady_timer deadline;
  TimerPoint login_deadline;  // TimerPoint::max() once logged in
  bool handed_over = false;   // the stream now belongs to a tunnel
  bool timed_out = false;
  bool login_expired = false;  // the timeout was the login deadline

  void expire_in(Duration d) {
    deadline.expires_at(std::min(asio::steady_timer::clock_type::now() + d, login_deadline));
  }
  void logged_in() { login_deadline = TimerPoint::max(); }
  void close() {
    boost::system::error_code ignored;
    stream->lowest_layer().close(ignored);
  }
};

struct Peer {
  std::string ip;
  std::uint16_t port = 0;
  std::string text() const { return ip + ":" + std::to_string(port); }
};

void refuse_input(Runtime& rt, const Peer& peer, const std::string& reason);
asio::awaitable<bool> send(FrontConnection& c, const http::Response& r);
http::Response error_response(int status);

// Only the active node of a member takes logins and tunnels; a standby (or an active handing
// over) answers "try again", which openconnect retries (notes §6.4). A draining node (tandemctl
// drain) refuses new logins only: clients resuming their session are still taken.
// nullptr when serving.
enum class Attach : std::uint8_t { login, resume };
const char* not_serving_reason(const Runtime& rt, Attach what);

// Persist the session and wait (bounded, inside the replicator) until the standby has it too:
// a session the client is told about must survive a failover (DESIGN step 3). `new_ssl`: the
// SSL tunnel about to be attached, written into the record so that a standby promoted right
// after knows where this client's connection ends (for the tickle).
// Persisted::failed means the client must not be told (the store refused the write, or this node
// stopped being the active one meanwhile).
asio::awaitable<Persisted> replicate(Runtime& rt, std::uint64_t index,
                                     const session::TunnelInfo* new_ssl = nullptr);

// One POST of the login exchange: the response, whether to close (bad input), and whether the
// client logged in (which lifts the connection's login deadline).
struct LoginReply {
  http::Response response;
  bool close = false;
  bool logged_in = false;
};
// `ssl`: the connection, for the client certificate it presented (client_certificates.hpp).
asio::awaitable<LoginReply> handle_login(Runtime& rt, const http::Request& req, const Peer& peer,
                                         SSL* ssl);

// GET of the profile a login announced (profile_download.cpp): the session's token picks it.
http::Response serve_profile(Runtime& rt, const http::Request& req, const Peer& peer);

// CONNECT: find the session by token, answer with the tunnel configuration, hand over.
asio::awaitable<void> handle_connect(Runtime& rt, std::shared_ptr<FrontConnection> c,
                                     const http::Request& req, http::RequestParser& parser,
                                     const Peer& peer);

}  // namespace tandem::server
