#pragma once
// One client TLS connection before it becomes a tunnel: TLS handshake, HTTP requests, the
// config-auth login exchange, and the CONNECT that hands the connection to a CstpTunnel.
// Every stage has a deadline; bad input is logged with its reason and the connection closed.
#include "node/server/runtime.hpp"

namespace tandem::server {

asio::awaitable<void> serve_front_connection(Runtime& rt, tcp::socket socket);

}  // namespace tandem::server
