#pragma once
// The DTLS half of a CONNECT answer: which mode the client gets (dtls/dtls_mode.hpp), its keys
// registered with the DTLS server, and the X-DTLS-* parameters filled into `params`.
#include <openssl/types.h>

#include <cstdint>
#include <string>

#include "node/http/request.hpp"
#include "node/server/connect_response.hpp"

namespace tandem::server {

class DtlsServer;

// Returns the registration id to unregister when the TLS connection ends ("" = no DTLS; then
// params.dtls stays empty). `dtls` null = the headend serves no UDP. `params.policy` must be set.
std::string offer_dtls(DtlsServer* dtls, SSL* tls, const http::Request& req, std::uint64_t index,
                       TunnelParams& params);

// Raw bytes as lowercase hex.
std::string hex_bytes(const std::string& raw);

}  // namespace tandem::server
