#include "tests/tools/tls_connection.hpp"

#include <netinet/in.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "node/server/tls_setup.hpp"

namespace tandem::load {

asio::ssl::context make_client_tls() {
  asio::ssl::context ctx(asio::ssl::context::tls_client);
  ctx.set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                  asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  ctx.set_verify_mode(asio::ssl::verify_none);
  return ctx;
}

TlsConnection::TlsConnection(const Target& target)
    : stream_(target.io, target.tls), deadline_(target.io), step_timeout_(target.step_timeout) {}

TlsConnection::~TlsConnection() { close(); }

void TlsConnection::arm(SteadyDuration d) {
  deadline_.expires_after(d);  // cancels the previous wait
  deadline_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;  // re-armed, disarmed or destroyed
    auto self = weak.lock();
    // A wait that had already fired when the deadline was moved cannot be cancelled any more:
    // only a deadline that really passed closes the connection.
    if (self && self->deadline_.expiry() <= asio::steady_timer::clock_type::now()) {
      self->timed_out_ = true;
      self->close();
    }
  });
}

// Moving the expiry to "never" also defuses a wait that fired but has not run yet.
void TlsConnection::disarm() { deadline_.expires_at(asio::steady_timer::time_point::max()); }

void TlsConnection::close() {
  deadline_.cancel();
  boost::system::error_code ignored;
  stream_.lowest_layer().close(ignored);
}

namespace {

// Binds the socket to the next --source address. IP_BIND_ADDRESS_NO_PORT: the port is chosen at
// connect() for the whole 4-tuple, as without bind, instead of one port per address for life.
Result<bool> bind_source(const Target& t, tcp::socket& socket) {
  const auto& address = t.sources[(*t.next_source)++ % t.sources.size()];
  boost::system::error_code ec;
  socket.open(address.is_v6() ? tcp::v6() : tcp::v4(), ec);
  if (ec) return fail("socket: " + ec.message());
#ifdef IP_BIND_ADDRESS_NO_PORT
  socket.set_option(asio::detail::socket_option::boolean<IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT>(true),
                    ec);
  if (ec) return fail("IP_BIND_ADDRESS_NO_PORT: " + ec.message());
#endif
  socket.bind(tcp::endpoint(address, 0), ec);
  if (ec) return fail("bind to --source " + address.to_string() + ": " + ec.message());
  return true;
}

}  // namespace

asio::awaitable<Result<std::shared_ptr<TlsConnection>>> TlsConnection::open(const Target& t) {
  auto c = std::make_shared<TlsConnection>(t);
  if (!t.sources.empty()) {
    if (auto bound = bind_source(t, c->stream_.next_layer()); !bound) co_return fail(bound.error());
  }
  c->arm(c->step_timeout_);
  if (auto [ec] = co_await c->stream_.lowest_layer().async_connect(t.endpoint, use_nothrow); ec) {
    co_return fail(c->timed_out_ ? "TCP connect timed out" : "TCP connect: " + ec.message());
  }
  // No Nagle: our TLS Finished and the request right behind it are two writes, and with Nagle
  // the request waits for the server's (delayed, ~40 ms) ACK of the Finished. That stall is
  // the client's, not the server's, and it dominated every latency measured through a director
  // (~45 ms per request against ~12 ms with curl, which sets TCP_NODELAY too).
  boost::system::error_code ignored;
  c->stream_.lowest_layer().set_option(tcp::no_delay(true), ignored);
  c->arm(c->step_timeout_);
  if (auto [ec] = co_await c->stream_.async_handshake(asio::ssl::stream_base::client, use_nothrow);
      ec) {
    co_return fail(c->timed_out_ ? "TLS handshake timed out" : "TLS handshake: " + ec.message());
  }
  c->disarm();
  if (!t.pin.empty()) {
    X509* cert = SSL_get0_peer_certificate(c->stream_.native_handle());
    if (!cert) co_return fail("server sent no certificate");
    auto pin = server::public_key_pin(cert);
    if (!pin) co_return fail("server certificate: " + pin.error());
    if (*pin != t.pin) co_return fail("server public key pin mismatch: got " + *pin);
  }
  co_return c;
}

asio::awaitable<Result<HttpResponse>> TlsConnection::exchange(std::string request, bool head_only,
                                                              std::string* leftover) {
  arm(step_timeout_);
  if (auto [ec, n] = co_await asio::async_write(stream_, asio::buffer(request), use_nothrow); ec) {
    co_return fail(timed_out_ ? "sending the request timed out" : "sending: " + ec.message());
  }
  arm(step_timeout_);
  ResponseParser parser(head_only);
  std::vector<char> buf(16 * 1024);
  while (parser.state() == ResponseParser::State::need_more) {
    auto [ec, n] = co_await stream_.async_read_some(asio::buffer(buf), use_nothrow);
    if (timed_out_) co_return fail("no complete response in time");
    if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) {
      parser.feed_eof();
    } else if (ec) {
      co_return fail("reading the response: " + ec.message());
    } else {
      parser.feed(std::string_view(buf.data(), n));
    }
  }
  disarm();
  if (parser.state() == ResponseParser::State::error) co_return fail("response: " + parser.error());
  if (leftover) *leftover = parser.take_leftover();
  co_return parser.response();
}

}  // namespace tandem::load
