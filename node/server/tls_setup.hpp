#pragma once
// Server TLS context: the configured certificate, or a self-signed one kept in state_dir so
// that its pin stays the same across restarts. Plain OpenSSL, no Asio.
#include <openssl/ssl.h>

#include <string>

#include "base/result.hpp"

namespace tandem::server {

struct TlsIdentity {
  SSL_CTX* ctx = nullptr;   // caller owns it (Asio's ssl::context takes it over)
  std::string certificate;  // path used
  std::string pin;          // "pin-sha256:<base64>" of the public key, what clients pin
  bool self_signed = false;
};

// The client-facing TLS policy (docs/tls.md), applied to `ctx`: TLS 1.2 with ECDHE and an AEAD
// cipher, or TLS 1.3; no session resumption (no tickets, no cache: S10), no renegotiation, no
// compression, the server's cipher order. Errors name the setting OpenSSL refused.
Result<bool> apply_tls_policy(SSL_CTX* ctx);

// certificate/private_key empty: use (or create) <state_dir>/self-signed-{cert,key}.pem.
Result<TlsIdentity> make_server_tls(const std::string& certificate, const std::string& private_key,
                                    const std::string& state_dir, const std::string& common_name);

// The pin of a certificate's public key, as openconnect's --servercert takes it.
Result<std::string> public_key_pin(X509* cert);

// The most recent OpenSSL error queue entry as text (and the queue cleared).
std::string openssl_error();

}  // namespace tandem::server
