#pragma once
// The two client steps of a session: log in for a token, and CONNECT with it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tests/tools/held_dtls.hpp"
#include "tests/tools/load_stats.hpp"
#include "tests/tools/redirect_location.hpp"
#include "tests/tools/tls_connection.hpp"

namespace tandem::load {

struct LoggedIn {
  std::string token;
  // With follow_redirect: the member the director sent us to (the token is only good there);
  // nullopt when the first server answered the login itself.
  std::optional<Target> member;
  std::string landed;  // the authority ("ip:port") of the server that issued the token
};

// Logs in (init POST, form, auth-reply) and returns the session token. With follow_redirect, a
// redirect answering the very first POST (a director's 302, docs/director.md) is followed once:
// the login starts again at the Location's literal address, with its path and query. Any other
// redirect, or a Location that does not parse, fails the login.
asio::awaitable<Result<LoggedIn>> login(const Target& target, const std::string& user,
                                        const std::string& password, bool follow_redirect);

struct Redirected {
  RedirectTarget to;
  std::chrono::duration<double, std::milli> latency{};  // TCP connect .. redirect parsed
};

// Only the first request of a login, the init POST, sent to a director: succeeds when the answer
// is a redirect with a Location that parses (--redirect-only).
asio::awaitable<Result<Redirected>> ask_director(const Target& target);

// A Target for the address a redirect names, with the run's TLS context, pin and timeouts.
Target member_target(const Target& director, const RedirectTarget& to);

struct Connected {
  ConnectOutcome outcome = ConnectOutcome::connection_failed;
  std::string detail;  // why it is not `ok`: status line, X-Reason, or the I/O error
  std::chrono::duration<double, std::milli> latency{};  // TCP connect .. response head
  // On ok: the tunnel, the first CSTP bytes that came with the head, and what the server said.
  std::shared_ptr<TlsConnection> connection;
  std::string leftover;
  std::string address;                            // X-CSTP-Address
  std::optional<std::chrono::seconds> keepalive;  // X-CSTP-Keepalive
  std::optional<std::chrono::seconds> dpd;        // X-CSTP-DPD
  // Asked for DTLS: what the server offered, or why there is nothing to hold.
  std::optional<DtlsOffer> dtls;
  std::string no_dtls;
};

// One CONNECT /CSCOSSLC/tunnel on a fresh TLS connection, as a reconnecting client sends it.
// With `dtls`, DTLS is offered and the server's answer kept (Connected::dtls).
asio::awaitable<Connected> connect_tunnel(const Target& target, const std::string& token,
                                          bool dtls = false);

}  // namespace tandem::load
