#include "node/tls/certificate_expiry.hpp"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <ctime>
#include <limits>
#include <memory>

namespace tandem::tls {
namespace {

constexpr std::int64_t kDay = 24 * 60 * 60;
// A certificate file is a few kB; a bundle a few hundred. Anything larger is not one.
constexpr long kMaxPemBytes = 4 * 1024 * 1024;

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

std::string last_openssl_error() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return "no details";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::string subject_of(X509* cert) {
  std::unique_ptr<BIO, BioFree> out(BIO_new(BIO_s_mem()));
  if (!out) return "";
  X509_NAME_print_ex(out.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out.get(), &data);
  return n > 0 ? std::string(data, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace

std::int64_t seconds_until_expiry(std::int64_t not_after_unix, std::int64_t now_unix) noexcept {
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  if (now_unix < 0 && not_after_unix > kMax + now_unix) return kMax;
  if (now_unix > 0 && not_after_unix < kMin + now_unix) return kMin;
  return not_after_unix - now_unix;
}

std::int64_t whole_days(std::int64_t seconds) noexcept {
  const std::int64_t days = seconds / kDay;
  return (seconds % kDay != 0 && seconds < 0) ? days - 1 : days;
}

ExpiryState expiry_state(std::int64_t seconds_left, std::chrono::seconds warn_before) noexcept {
  if (seconds_left < 0) return ExpiryState::expired;
  if (seconds_left < warn_before.count()) return ExpiryState::expiring;
  return ExpiryState::ok;
}

const char* to_string(ExpiryState state) noexcept {
  switch (state) {
    case ExpiryState::ok:
      return "ok";
    case ExpiryState::expiring:
      return "expiring";
    case ExpiryState::expired:
      return "expired";
  }
  return "unknown";
}

std::string format_utc(std::int64_t unix_seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return n > 0 ? std::string(buf, n) : std::to_string(unix_seconds);
}

const CertificateInfo& soonest(const std::vector<CertificateInfo>& chain) {
  const CertificateInfo* first = &chain.front();
  for (const auto& c : chain)
    if (c.not_after_unix < first->not_after_unix) first = &c;
  return *first;
}

Result<CertificateInfo> describe(X509* cert) {
  if (cert == nullptr) return fail("no certificate");
  std::tm tm{};
  const ASN1_TIME* not_after = X509_get0_notAfter(cert);
  if (not_after == nullptr || ASN1_TIME_to_tm(not_after, &tm) != 1)
    return fail("unreadable notAfter: " + last_openssl_error());
  CertificateInfo info;
  info.not_after_unix = static_cast<std::int64_t>(timegm(&tm));
  info.subject = subject_of(cert);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &len) != 1)
    return fail("cannot hash the certificate: " + last_openssl_error());
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned int i = 0; i < len; ++i) {
    info.sha256 += kHex[digest[i] >> 4];
    info.sha256 += kHex[digest[i] & 15];
  }
  return info;
}

Result<std::vector<CertificateInfo>> read_pem_certificates(const std::string& path) {
  ERR_clear_error();
  std::unique_ptr<BIO, BioFree> in(BIO_new_file(path.c_str(), "r"));
  if (!in) return fail("cannot read " + path + ": " + last_openssl_error());
  std::vector<CertificateInfo> out;
  for (;;) {
    if (BIO_tell(in.get()) > kMaxPemBytes) return fail(path + ": larger than a certificate file");
    X509Ptr cert(PEM_read_bio_X509(in.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    auto info = describe(cert.get());
    if (!info)
      return fail(path + ": certificate " + std::to_string(out.size() + 1) + ": " + info.error());
    out.push_back(std::move(*info));
  }
  // The loop ends on "no more PEM blocks", which is only an error when there was none at all.
  const unsigned long err = ERR_peek_last_error();
  if (out.empty()) {
    return fail(path + ": no certificate" +
                (err != 0 ? " (" + last_openssl_error() + ")" : std::string()));
  }
  ERR_clear_error();
  return out;
}

Result<std::vector<CertificateInfo>> served_certificates(SSL_CTX* ctx) {
  X509* leaf = ctx != nullptr ? SSL_CTX_get0_certificate(ctx) : nullptr;
  if (leaf == nullptr) return fail("the TLS context has no certificate");
  std::vector<CertificateInfo> out;
  auto info = describe(leaf);
  if (!info) return fail(info.error());
  out.push_back(std::move(*info));
  STACK_OF(X509)* chain = nullptr;
  if (SSL_CTX_get0_chain_certs(ctx, &chain) == 1 && chain != nullptr) {
    for (int i = 0; i < sk_X509_num(chain); ++i) {
      auto link = describe(sk_X509_value(chain, i));
      if (!link) return fail("chain certificate " + std::to_string(i + 1) + ": " + link.error());
      out.push_back(std::move(*link));
    }
  }
  return out;
}

}  // namespace tandem::tls
