#include "node/tls/certificate_expiry.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <limits>
#include <string>

#include "node/config/config.hpp"
#include "node/server/certificate_monitor.hpp"
#include "test_pki.hpp"

namespace tandem::tls {
namespace {

using namespace std::chrono_literals;
constexpr std::int64_t kDay = 86400;

// --- the pure part: seconds, days, verdict ---

TEST(CertificateExpiry, SecondsUntilExpiryMayBeNegative) {
  EXPECT_EQ(seconds_until_expiry(1'000'000, 999'000), 1'000);
  EXPECT_EQ(seconds_until_expiry(1'000'000, 1'000'000), 0);
  EXPECT_EQ(seconds_until_expiry(1'000'000, 1'000'001), -1);
  EXPECT_EQ(seconds_until_expiry(0, 30 * kDay), -30 * kDay);
  // Absurd inputs saturate instead of overflowing.
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  EXPECT_EQ(seconds_until_expiry(kMax, -1), kMax);
  EXPECT_EQ(seconds_until_expiry(kMin, 1), kMin);
  EXPECT_EQ(seconds_until_expiry(kMax, 0), kMax);
}

TEST(CertificateExpiry, WholeDaysRoundDown) {
  EXPECT_EQ(whole_days(0), 0);
  EXPECT_EQ(whole_days(kDay - 1), 0);
  EXPECT_EQ(whole_days(kDay), 1);
  EXPECT_EQ(whole_days(10 * kDay + 5), 10);
  EXPECT_EQ(whole_days(-1), -1);  // a second past notAfter is already "day -1"
  EXPECT_EQ(whole_days(-kDay), -1);
  EXPECT_EQ(whole_days(-kDay - 1), -2);
}

TEST(CertificateExpiry, StateAgainstTheWarningPeriod) {
  const std::chrono::seconds warn =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::hours(30 * 24));
  EXPECT_EQ(expiry_state(31 * kDay, warn), ExpiryState::ok);
  EXPECT_EQ(expiry_state(30 * kDay, warn), ExpiryState::ok);  // "fewer than 30 days" warns
  EXPECT_EQ(expiry_state(30 * kDay - 1, warn), ExpiryState::expiring);
  EXPECT_EQ(expiry_state(10 * kDay, warn), ExpiryState::expiring);
  EXPECT_EQ(expiry_state(0, warn), ExpiryState::expiring);  // notAfter itself is still valid
  EXPECT_EQ(expiry_state(-1, warn), ExpiryState::expired);
  EXPECT_EQ(expiry_state(-400 * kDay, warn), ExpiryState::expired);
  EXPECT_EQ(expiry_state(1, 0s), ExpiryState::ok);  // 0: never warn
  EXPECT_EQ(expiry_state(-1, 0s), ExpiryState::expired);
  EXPECT_STREQ(to_string(ExpiryState::expiring), "expiring");
}

TEST(CertificateExpiry, FormatsUtcAndPicksTheSoonest) {
  EXPECT_EQ(format_utc(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(format_utc(1'893'456'000), "2030-01-01T00:00:00Z");
  const std::vector<CertificateInfo> chain = {
      {"leaf", 300, "a"}, {"ca", 100, "b"}, {"root", 100, "c"}};
  EXPECT_EQ(soonest(chain).subject, "ca");  // the first of equals
}

// --- reading real certificates ---

using test_pki::CertFree;
using test_pki::KeyFree;

// A self-signed certificate valid until `not_after` ("YYYYMMDDHHMMSSZ").
std::unique_ptr<X509, CertFree> make_cert(const char* cn, const char* not_after, EVP_PKEY* key) {
  std::unique_ptr<X509, CertFree> cert(X509_new());
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  EXPECT_EQ(ASN1_TIME_set_string(X509_getm_notAfter(cert.get()), not_after), 1);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  EXPECT_GT(X509_sign(cert.get(), key, EVP_sha256()), 0);
  return cert;
}

struct CertificateFiles : ::testing::Test {
  void SetUp() override { key.reset(EVP_EC_gen("P-256")); }
  std::string path(const std::string& name) {
    return ::testing::TempDir() + "tandem_cert_test_" + std::to_string(::getpid()) + "_" + name;
  }
  void write(const std::string& file, std::initializer_list<X509*> certs) {
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    for (X509* c : certs) PEM_write_X509(f, c);
    std::fclose(f);
  }
  std::unique_ptr<EVP_PKEY, KeyFree> key;
};

TEST_F(CertificateFiles, DescribeReadsNotAfterSubjectAndDigest) {
  auto cert = make_cert("vpn.example.com", "20300101000000Z", key.get());
  auto info = describe(cert.get());
  ASSERT_TRUE(info.ok()) << info.error();
  EXPECT_EQ(info->not_after_unix, 1'893'456'000);
  EXPECT_EQ(info->subject, "CN=vpn.example.com");
  EXPECT_EQ(info->sha256.size(), 64u);
  EXPECT_FALSE(describe(nullptr).ok());
}

TEST_F(CertificateFiles, APemFileGivesEveryCertificateInOrder) {
  auto leaf = make_cert("leaf", "20301231235959Z", key.get());
  auto ca = make_cert("ca", "20270601120000Z", key.get());
  const std::string file = path("chain.pem");
  write(file, {leaf.get(), ca.get()});
  auto chain = read_pem_certificates(file);
  ASSERT_TRUE(chain.ok()) << chain.error();
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_EQ((*chain)[0].subject, "CN=leaf");
  EXPECT_EQ(soonest(*chain).subject, "CN=ca");
  EXPECT_EQ(soonest(*chain).not_after_unix, 1'811'851'200);  // 2027-06-01T12:00:00Z
  ::unlink(file.c_str());

  const std::string empty = path("empty.pem");
  std::fclose(std::fopen(empty.c_str(), "w"));
  auto none = read_pem_certificates(empty);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().find("no certificate"), std::string::npos) << none.error();
  ::unlink(empty.c_str());
  auto missing = read_pem_certificates(path("missing.pem"));
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("cannot read"), std::string::npos) << missing.error();
}

TEST_F(CertificateFiles, ServedCertificatesComeFromTheContext) {
  auto leaf = make_cert("served", "20290101000000Z", key.get());
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  ASSERT_NE(ctx, nullptr);
  EXPECT_FALSE(served_certificates(ctx).ok());  // no certificate yet
  ASSERT_EQ(SSL_CTX_use_certificate(ctx, leaf.get()), 1);
  ASSERT_EQ(SSL_CTX_use_PrivateKey(ctx, key.get()), 1);
  auto served = served_certificates(ctx);
  ASSERT_TRUE(served.ok()) << served.error();
  ASSERT_EQ(served->size(), 1u);
  EXPECT_EQ((*served)[0].subject, "CN=served");
  SSL_CTX_free(ctx);
}

TEST_F(CertificateFiles, MonitorReportsEachCertificateInUse) {
  auto tls_cert = make_cert("tls", "20300101000000Z", key.get());
  auto peer_cert = make_cert("peer", "20290101000000Z", key.get());
  auto peer_ca = make_cert("peer-ca", "20350101000000Z", key.get());
  const std::string peer_file = path("peer.pem");
  const std::string ca_file = path("ca.pem");
  write(peer_file, {peer_cert.get()});
  write(ca_file, {peer_ca.get()});
  auto served = describe(tls_cert.get());
  ASSERT_TRUE(served.ok());

  config::Peer peer;
  auto alone = server::CertificateMonitor::create({*served}, "/tls.pem", peer);
  ASSERT_EQ(alone.watched().size(), 1u);  // no [peer]: only the client-facing one

  peer.enabled = true;
  peer.certificate = peer_file;
  peer.ca = ca_file;
  auto m = server::CertificateMonitor::create({*served}, "/tls.pem", peer);
  const std::int64_t now = 1'893'456'000 - 10 * kDay;  // ten days before the tls notAfter
  const auto left = m.seconds_left(now);
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(left[0], (std::pair<std::string, std::int64_t>{"tls", 10 * kDay}));
  EXPECT_EQ(left[1].first, "peer");
  EXPECT_LT(left[1].second, 0);  // expired a year before
  EXPECT_EQ(left[2].first, "peer_ca");
  m.check(now, std::chrono::seconds(30 * kDay), true);  // logs only

  // An unreadable [peer] file is left out (and logged), not fatal.
  peer.ca = path("missing.pem");
  EXPECT_EQ(server::CertificateMonitor::create({*served}, "/tls.pem", peer).watched().size(), 2u);
  ::unlink(peer_file.c_str());
  ::unlink(ca_file.c_str());
}

}  // namespace
}  // namespace tandem::tls
