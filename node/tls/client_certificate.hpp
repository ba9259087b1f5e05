#pragma once
// Client certificates, the OpenSSL side (docs/client-certificates.md): the trust the node checks
// them against ([tls] client_ca and client_crl), asking every client for one without failing its
// handshake, verifying what it sent, and reading the username from it. The decision per tunnel
// group is node/auth/certificate_login.hpp.
//
// The tunnel group is chosen in the login exchange, after the TLS handshake, so the handshake
// cannot know whether this client needs a certificate: it asks every client for one, accepts
// whatever comes (or nothing), and the login verifies it against the trust in force then (a
// reloaded CRL applies to the next login, not only to the next handshake). The handshake still
// proves the client holds the certificate's private key (CertificateVerify).
#include <openssl/types.h>
#include <openssl/x509.h>  // STACK_OF(X509), declared at global scope

#include <memory>
#include <optional>
#include <string>

#include "base/result.hpp"
#include "node/auth/certificate_login.hpp"

namespace tandem::tls {

// The CA certificates and CRLs client certificates are checked against. Immutable once loaded;
// a reload makes a new one.
class ClientTrust {
 public:
  // `ca`: PEM file of one or more CA certificates (required). `crl`: PEM file of one or more
  // CRLs, empty = none; with CRLs the leaf is checked against its issuer's CRL, and a leaf whose
  // issuer has no CRL (or an expired one) is refused (fail closed).
  static Result<std::shared_ptr<const ClientTrust>> load(const std::string& ca,
                                                         const std::string& crl);
  ~ClientTrust();
  ClientTrust(const ClientTrust&) = delete;
  ClientTrust& operator=(const ClientTrust&) = delete;

  X509_STORE* store() const { return store_; }
  const std::string& ca_path() const { return ca_; }
  const std::string& crl_path() const { return crl_; }
  int ca_count() const { return ca_count_; }
  int crl_count() const { return crl_count_; }
  // The earliest nextUpdate of the CRLs, Unix seconds; 0 without CRLs.
  long long crl_next_update_unix() const { return next_update_; }

 private:
  ClientTrust() = default;
  X509_STORE* store_ = nullptr;
  std::string ca_, crl_;
  int ca_count_ = 0, crl_count_ = 0;
  long long next_update_ = 0;
};

// Makes the server ask for a client certificate (naming the CAs of `trust` in its request, so
// that clients with several certificates can pick) without failing the handshake when none, or
// a bad one, is sent. Null `trust`: nothing is asked. Applies to handshakes that start later.
void request_client_certificates(SSL_CTX* ctx, const ClientTrust* trust);

struct CertificateCheck {
  auth::CertificateStatus status = auth::CertificateStatus::missing;
  std::string detail;   // OpenSSL's words for a refusal ("certificate revoked"), for the log
  std::string subject;  // one line, RFC 2253; empty when missing
  std::string serial;   // hex; empty when missing
};

// Verifies `leaf` (with the client-sent `chain`, may be null) against `trust` for TLS client
// authentication, now. Null `leaf`: missing. Null `trust`: every certificate is untrusted.
CertificateCheck verify_client_certificate(const ClientTrust* trust, X509* leaf,
                                           STACK_OF(X509) * chain);

// The certificate a TLS connection's client presented, verified as above.
CertificateCheck check_peer_certificate(const ClientTrust* trust, SSL* ssl);

// The username in `cert` per `field`: exactly one value, valid UTF-8 without control
// characters, 1..64 bytes. An error says what is wrong (for the log).
Result<std::string> certificate_username(X509* cert, auth::CertificateUser field);

// The peer's certificate username, nullopt when there is no certificate or no usable name
// (`why` then says which).
std::optional<std::string> peer_certificate_username(SSL* ssl, auth::CertificateUser field,
                                                     std::string& why);

}  // namespace tandem::tls
