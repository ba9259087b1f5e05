#pragma once
// Server TLS context: the configured certificate, or a self-signed one kept in state_dir so
// that its pin stays the same across restarts. Plain OpenSSL, no Asio.
#include <openssl/ssl.h>

#include <string>

#include "node/common/result.hpp"

namespace tandem::server {

struct TlsIdentity {
  SSL_CTX* ctx = nullptr;   // caller owns it (Asio's ssl::context takes it over)
  std::string certificate;  // path used
  std::string pin;          // "pin-sha256:<base64>" of the public key, what clients pin
  bool self_signed = false;
};

// certificate/private_key empty: use (or create) <state_dir>/self-signed-{cert,key}.pem.
Result<TlsIdentity> make_server_tls(const std::string& certificate, const std::string& private_key,
                                    const std::string& state_dir, const std::string& common_name);

// The pin of a certificate's public key, as openconnect's --servercert takes it.
Result<std::string> public_key_pin(X509* cert);

// The most recent OpenSSL error queue entry as text (and the queue cleared).
std::string openssl_error();

}  // namespace tandem::server
