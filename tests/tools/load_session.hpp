#pragma once
// The two client steps of a session: log in for a token, and CONNECT with it.
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "tests/tools/load_stats.hpp"
#include "tests/tools/tls_connection.hpp"

namespace tandem::load {

// Logs in (init POST, form, auth-reply) and returns the session token. Follows no redirects:
// the tool only talks to the address it was given.
asio::awaitable<Result<std::string>> login(const Target& target, const std::string& user,
                                           const std::string& password);

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
};

// One CONNECT /CSCOSSLC/tunnel on a fresh TLS connection, as a reconnecting client sends it.
asio::awaitable<Connected> connect_tunnel(const Target& target, const std::string& token);

}  // namespace tandem::load
