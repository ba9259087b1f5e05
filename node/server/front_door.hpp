#pragma once
// One client TLS connection before it becomes a tunnel: TLS handshake, HTTP requests, the
// config-auth login exchange, and the CONNECT that hands the connection to a CstpTunnel.
// Every stage has a deadline; bad input is logged with its reason and the connection closed.
#include "node/server/runtime.hpp"

namespace tandem::server {

asio::awaitable<void> serve_front_connection(Runtime& rt, tcp::socket socket);

// Reset (RST) every connection still in the login or CONNECT stage: this node stopped serving,
// and a client waiting on it would otherwise wait for its own timeouts.
void reset_front_connections(Runtime& rt);

}  // namespace tandem::server
