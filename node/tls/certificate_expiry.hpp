#pragma once
// When the node's certificates expire: the client-facing one ([tls]) and, in a pair, the
// replication link's own certificate and CA ([peer]). Reading is plain OpenSSL on PEM files or
// on a loaded SSL_CTX; the arithmetic and the verdict are pure functions of the times.
#include <openssl/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "base/result.hpp"

namespace tandem::tls {

// One certificate as the expiry check sees it.
struct CertificateInfo {
  std::string subject;              // one line, RFC 2253, for logs
  std::int64_t not_after_unix = 0;  // notAfter, Unix seconds (UTC)
  std::string sha256;               // hex digest of the DER encoding: tells two files apart
};

enum class ExpiryState { ok, expiring, expired };

// Seconds from `now_unix` to `not_after_unix`; negative once expired. Saturates instead of
// overflowing.
std::int64_t seconds_until_expiry(std::int64_t not_after_unix, std::int64_t now_unix) noexcept;

// Whole days left, rounded towards minus infinity: 1 s past notAfter is day -1, not day 0.
std::int64_t whole_days(std::int64_t seconds) noexcept;

// expired when no time is left (notAfter itself is the last valid second: RFC 5280 makes
// notAfter inclusive, so 0 s left is still valid); expiring when less than `warn_before` is
// left; ok otherwise. warn_before 0 never says expiring.
ExpiryState expiry_state(std::int64_t seconds_left, std::chrono::seconds warn_before) noexcept;

const char* to_string(ExpiryState state) noexcept;

// "2026-09-01T12:00:00Z".
std::string format_utc(std::int64_t unix_seconds);

// The certificate that expires first (the first of equals); `chain` must not be empty.
const CertificateInfo& soonest(const std::vector<CertificateInfo>& chain);

Result<CertificateInfo> describe(X509* cert);

// Every certificate in a PEM file (a leaf with its chain, or a CA bundle), in file order.
// An error when the file cannot be read or holds no certificate.
Result<std::vector<CertificateInfo>> read_pem_certificates(const std::string& path);

// The certificate a server context presents and the chain it sends with it.
Result<std::vector<CertificateInfo>> served_certificates(SSL_CTX* ctx);

}  // namespace tandem::tls
