// Client certificates (docs/client-certificates.md): the per-group decision (pure), the
// username read from a certificate, verification against a CA and a CRL, and the config keys.
// Certificates are made here with OpenSSL, in memory and in a temporary directory.
#include "node/tls/client_certificate.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "node/auth/certificate_login.hpp"
#include "node/config/config.hpp"
#include "node/session/session_record.hpp"
#include "proto/session.pb.h"
#include "temp_dir.hpp"
#include "test_pki.hpp"

namespace tandem {
namespace {

using auth::CertificateMode;
using auth::CertificateRefusal;
using auth::CertificateStatus;
using auth::CertificateUser;
using ::testing::HasSubstr;
using namespace test_pki;

// --- the decision ---------------------------------------------------------------------------

TEST(CertificateLogin, OffIgnoresTheCertificate) {
  for (auto st : {CertificateStatus::missing, CertificateStatus::revoked,
                  CertificateStatus::untrusted, CertificateStatus::valid}) {
    auto d = auth::decide_certificate_login(CertificateMode::off, st, "mallory", "alice");
    EXPECT_EQ(d.refusal, CertificateRefusal::none);
    EXPECT_TRUE(d.password_needed);
    EXPECT_EQ(d.user, "alice");
  }
}

TEST(CertificateLogin, RequiredTakesTheUserFromAValidCertificateAndAsksNoPassword) {
  auto d = auth::decide_certificate_login(CertificateMode::required, CertificateStatus::valid,
                                          "alice", "");
  EXPECT_EQ(d.refusal, CertificateRefusal::none);
  EXPECT_FALSE(d.password_needed);
  EXPECT_EQ(d.user, "alice");
  // Whatever the client typed does not matter: the certificate names the user.
  d = auth::decide_certificate_login(CertificateMode::required, CertificateStatus::valid, "alice",
                                     "root");
  EXPECT_EQ(d.user, "alice");
}

TEST(CertificateLogin, RequiredRefusesEachBadStateWithItsReason) {
  struct Case {
    CertificateStatus status;
    CertificateRefusal refusal;
    const char* code;
  } cases[] = {
      {CertificateStatus::missing, CertificateRefusal::missing, "client_cert_missing"},
      {CertificateStatus::untrusted, CertificateRefusal::untrusted, "client_cert_untrusted"},
      {CertificateStatus::revoked, CertificateRefusal::revoked, "client_cert_revoked"},
      {CertificateStatus::expired, CertificateRefusal::expired, "client_cert_expired"},
      {CertificateStatus::invalid, CertificateRefusal::invalid, "client_cert_invalid"},
  };
  for (const auto& c : cases) {
    auto d = auth::decide_certificate_login(CertificateMode::required, c.status, "alice", "");
    EXPECT_EQ(d.refusal, c.refusal) << c.code;
    EXPECT_STREQ(auth::to_string(d.refusal), c.code);
    EXPECT_TRUE(d.user.empty());
  }
  auto d = auth::decide_certificate_login(CertificateMode::required, CertificateStatus::valid,
                                          std::nullopt, "");
  EXPECT_EQ(d.refusal, CertificateRefusal::no_user);
  EXPECT_STREQ(auth::to_string(d.refusal), "client_cert_no_user");
}

TEST(CertificateLogin, WithPasswordNeedsBothAndTheSameUser) {
  auto d = auth::decide_certificate_login(CertificateMode::with_password, CertificateStatus::valid,
                                          "alice", "alice");
  EXPECT_EQ(d.refusal, CertificateRefusal::none);
  EXPECT_TRUE(d.password_needed);
  EXPECT_EQ(d.user, "alice");
  d = auth::decide_certificate_login(CertificateMode::with_password, CertificateStatus::valid,
                                     "alice", "bob");
  EXPECT_EQ(d.refusal, CertificateRefusal::user_mismatch);
  EXPECT_STREQ(auth::to_string(d.refusal), "client_cert_user_mismatch");
  // Exact: a username is an identifier.
  d = auth::decide_certificate_login(CertificateMode::with_password, CertificateStatus::valid,
                                     "alice", "Alice");
  EXPECT_EQ(d.refusal, CertificateRefusal::user_mismatch);
  // The certificate's state comes first: a revoked certificate of the right user is revoked.
  d = auth::decide_certificate_login(CertificateMode::with_password, CertificateStatus::revoked,
                                     "alice", "alice");
  EXPECT_EQ(d.refusal, CertificateRefusal::revoked);
  d = auth::decide_certificate_login(CertificateMode::with_password, CertificateStatus::missing,
                                     std::nullopt, "alice");
  EXPECT_EQ(d.refusal, CertificateRefusal::missing);
}

TEST(CertificateLogin, ResumeChecksTheCertificateAgainstTheSessionsUser) {
  using auth::check_certificate_resume;
  EXPECT_EQ(check_certificate_resume(CertificateMode::off, CertificateStatus::missing, {}, "a"),
            CertificateRefusal::none);
  EXPECT_EQ(check_certificate_resume(CertificateMode::required, CertificateStatus::valid, "a", "a"),
            CertificateRefusal::none);
  EXPECT_EQ(
      check_certificate_resume(CertificateMode::required, CertificateStatus::missing, {}, "a"),
      CertificateRefusal::missing);
  EXPECT_EQ(
      check_certificate_resume(CertificateMode::with_password, CertificateStatus::valid, "b", "a"),
      CertificateRefusal::user_mismatch);
  EXPECT_EQ(
      check_certificate_resume(CertificateMode::required, CertificateStatus::revoked, "a", "a"),
      CertificateRefusal::revoked);
  // Someone else's revoked certificate does not say this session's certificate is revoked.
  EXPECT_EQ(
      check_certificate_resume(CertificateMode::required, CertificateStatus::revoked, "b", "a"),
      CertificateRefusal::user_mismatch);
}

TEST(CertificateLogin, NamesParseAndPrint) {
  CertificateMode m{};
  EXPECT_TRUE(auth::parse_certificate_mode("with_password", m));
  EXPECT_EQ(m, CertificateMode::with_password);
  EXPECT_FALSE(auth::parse_certificate_mode("yes", m));
  CertificateUser u{};
  for (const char* name : {"cn", "uid", "san_email", "san_upn"}) {
    EXPECT_TRUE(auth::parse_certificate_user(name, u)) << name;
    EXPECT_STREQ(auth::to_string(u), name);
  }
  EXPECT_FALSE(auth::parse_certificate_user("CN", u));
  EXPECT_STREQ(auth::to_string(auth::auth_method_of(CertificateMode::off)), "password");
  EXPECT_STREQ(auth::to_string(auth::auth_method_of(CertificateMode::required)), "certificate");
  EXPECT_STREQ(auth::to_string(auth::auth_method_of(CertificateMode::with_password)),
               "certificate+password");
}

TEST(CertificateLogin, TheAuthMethodTravelsWithTheSessionRecord) {
  session::Session s;
  s.index = 7;
  s.user = "alice";
  for (auto m : {auth::AuthMethod::password, auth::AuthMethod::certificate,
                 auth::AuthMethod::certificate_and_password}) {
    s.auth_method = m;
    EXPECT_EQ(session::from_record(session::to_record(s)).auth_method, m);
  }
  // A row from before the field, or from a newer writer with a value we do not know: password,
  // the weakest claim.
  proto::SessionRecord r = session::to_record(s);
  r.clear_auth_method();
  EXPECT_EQ(session::from_record(r).auth_method, auth::AuthMethod::password);
  r.set_auth_method(9);
  EXPECT_EQ(session::from_record(r).auth_method, auth::AuthMethod::password);
}

// --- certificates made here -----------------------------------------------------------------

std::string username(X509* cert, CertificateUser field) {
  auto r = tls::certificate_username(cert, field);
  return r ? *r : "error: " + r.error();
}

TEST(CertificateUsername, EachFieldIsRead) {
  Key key = make_key();
  Cert cert = make_cert({{{"O", "Example"}, {"CN", "alice"}, {"UID", "a123"}},
                         "email:alice@example.com, otherName:msUPN;UTF8:alice@corp.example"},
                        key.get(), nullptr, nullptr, 1, false);
  EXPECT_EQ(username(cert.get(), CertificateUser::cn), "alice");
  EXPECT_EQ(username(cert.get(), CertificateUser::uid), "a123");
  EXPECT_EQ(username(cert.get(), CertificateUser::san_email), "alice@example.com");
  EXPECT_EQ(username(cert.get(), CertificateUser::san_upn), "alice@corp.example");
}

TEST(CertificateUsername, AbsentRepeatedOrUnprintableIsAnError) {
  Key key = make_key();
  Cert none = make_cert({{{"O", "Example"}}, ""}, key.get(), nullptr, nullptr, 1, false);
  EXPECT_THAT(username(none.get(), CertificateUser::cn), HasSubstr("no commonName"));
  EXPECT_THAT(username(none.get(), CertificateUser::san_email), HasSubstr("no subjectAltName"));
  Cert two = make_cert({{{"CN", "alice"}, {"CN", "admin"}}, "email:a@x.example, email:b@x.example"},
                       key.get(), nullptr, nullptr, 2, false);
  EXPECT_THAT(username(two.get(), CertificateUser::cn), HasSubstr("more than one commonName"));
  EXPECT_THAT(username(two.get(), CertificateUser::san_email), HasSubstr("more than one"));
  Cert control = make_cert({{{"CN", std::string("ali\x01"
                                                "ce")}},
                            ""},
                           key.get(), nullptr, nullptr, 3, false);
  EXPECT_THAT(username(control.get(), CertificateUser::cn), HasSubstr("not a usable username"));
  // 33 characters (a commonName may have 64) but 66 bytes: longer than a username may be.
  std::string long_name;
  for (int i = 0; i < 33; ++i) long_name += "\xc3\xa9";
  Cert long_cn = make_cert({{{"CN", long_name}}, ""}, key.get(), nullptr, nullptr, 4, false);
  EXPECT_THAT(username(long_cn.get(), CertificateUser::cn), HasSubstr("not a usable username"));
  // A name with a space is a name (a commonName often is "First Last").
  Cert spaced = make_cert({{{"CN", "Alice Smith"}}, ""}, key.get(), nullptr, nullptr, 5, false);
  EXPECT_EQ(username(spaced.get(), CertificateUser::cn), "Alice Smith");
}

// --- verification against a CA and a CRL --------------------------------------------------

void write_crl(const std::string& path, X509* ca, EVP_PKEY* ca_key, std::vector<long> revoked,
               long next_update = 86400) {
  X509_CRL* crl = X509_CRL_new();
  X509_CRL_set_version(crl, 1);
  X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
  ASN1_TIME* now = X509_gmtime_adj(nullptr, -60);
  ASN1_TIME* next = X509_gmtime_adj(nullptr, next_update);
  X509_CRL_set1_lastUpdate(crl, now);
  X509_CRL_set1_nextUpdate(crl, next);
  for (long serial : revoked) {
    X509_REVOKED* r = X509_REVOKED_new();
    ASN1_INTEGER* s = ASN1_INTEGER_new();
    ASN1_INTEGER_set(s, serial);
    X509_REVOKED_set_serialNumber(r, s);
    X509_REVOKED_set_revocationDate(r, now);
    X509_CRL_add0_revoked(crl, r);
    ASN1_INTEGER_free(s);
  }
  X509_CRL_sort(crl);
  X509_CRL_sign(crl, ca_key, EVP_sha256());
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  PEM_write_X509_CRL(f, crl);
  std::fclose(f);
  ASN1_TIME_free(now);
  ASN1_TIME_free(next);
  X509_CRL_free(crl);
}

struct Pki {
  testing::TempDir dir;
  Key ca_key = make_key(), other_key = make_key(), user_key = make_key();
  Cert ca = make_cert({{{"CN", "test CA"}}, ""}, ca_key.get(), nullptr, nullptr, 100, true);
  Cert other = make_cert({{{"CN", "other CA"}}, ""}, other_key.get(), nullptr, nullptr, 200, true);
  Cert good = make_cert({{{"CN", "alice"}}, ""}, user_key.get(), ca.get(), ca_key.get(), 1, false);
  Cert revoked = make_cert({{{"CN", "bob"}}, ""}, user_key.get(), ca.get(), ca_key.get(), 2, false);
  Cert expired = make_cert({{{"CN", "carol"}}, ""}, user_key.get(), ca.get(), ca_key.get(), 3,
                           false, -7200, -3600);
  Cert foreign =
      make_cert({{{"CN", "alice"}}, ""}, user_key.get(), other.get(), other_key.get(), 1, false);
  Pki() {
    write_pem(dir.sub("ca.pem"), ca.get());
    write_pem(dir.sub("other.pem"), other.get());
    write_crl(dir.sub("crl.pem"), ca.get(), ca_key.get(), {2});
    write_crl(dir.sub("other-crl.pem"), other.get(), other_key.get(), {});
    write_crl(dir.sub("stale-crl.pem"), ca.get(), ca_key.get(), {}, -30);
  }
};

CertificateStatus status(const tls::ClientTrust& trust, X509* cert) {
  return tls::verify_client_certificate(&trust, cert, nullptr).status;
}

TEST(ClientTrust, VerifiesAgainstTheCaAndTheCrl) {
  Pki pki;
  auto trust = tls::ClientTrust::load(pki.dir.sub("ca.pem"), pki.dir.sub("crl.pem"));
  ASSERT_TRUE(trust) << trust.error();
  EXPECT_EQ((*trust)->ca_count(), 1);
  EXPECT_EQ((*trust)->crl_count(), 1);
  EXPECT_GT((*trust)->crl_next_update_unix(), 0);
  EXPECT_EQ(status(**trust, pki.good.get()), CertificateStatus::valid);
  EXPECT_EQ(status(**trust, pki.revoked.get()), CertificateStatus::revoked);
  EXPECT_EQ(status(**trust, pki.expired.get()), CertificateStatus::expired);
  EXPECT_EQ(status(**trust, pki.foreign.get()), CertificateStatus::untrusted);
  EXPECT_EQ(status(**trust, pki.other.get()), CertificateStatus::untrusted);  // self-signed
  EXPECT_EQ(status(**trust, nullptr), CertificateStatus::missing);
  auto check = tls::verify_client_certificate(trust->get(), pki.revoked.get(), nullptr);
  EXPECT_EQ(check.detail, "certificate revoked");
  EXPECT_EQ(check.subject, "CN=bob");
  EXPECT_EQ(check.serial, "02");
}

TEST(ClientTrust, WithoutACrlNothingIsRevoked) {
  Pki pki;
  auto trust = tls::ClientTrust::load(pki.dir.sub("ca.pem"), "");
  ASSERT_TRUE(trust) << trust.error();
  EXPECT_EQ(status(**trust, pki.revoked.get()), CertificateStatus::valid);
  EXPECT_EQ(status(**trust, pki.foreign.get()), CertificateStatus::untrusted);
}

TEST(ClientTrust, AnExpiredCrlRefusesEveryCertificate) {
  Pki pki;
  auto trust = tls::ClientTrust::load(pki.dir.sub("ca.pem"), pki.dir.sub("stale-crl.pem"));
  ASSERT_TRUE(trust) << trust.error();
  auto check = tls::verify_client_certificate(trust->get(), pki.good.get(), nullptr);
  EXPECT_EQ(check.status, CertificateStatus::invalid);
  EXPECT_EQ(check.detail, "CRL has expired");
}

TEST(ClientTrust, BadFilesAreErrorsNamingThem) {
  Pki pki;
  auto missing = tls::ClientTrust::load(pki.dir.sub("nope.pem"), "");
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error(), HasSubstr("nope.pem"));
  // A CRL no CA of client_ca signed would never be consulted.
  auto foreign = tls::ClientTrust::load(pki.dir.sub("ca.pem"), pki.dir.sub("other-crl.pem"));
  ASSERT_FALSE(foreign);
  EXPECT_THAT(foreign.error(), HasSubstr("not signed by a CA of client_ca"));
  // A CA file with no certificate in it (here: a CRL).
  auto empty = tls::ClientTrust::load(pki.dir.sub("crl.pem"), "");
  ASSERT_FALSE(empty);
  EXPECT_THAT(empty.error(), HasSubstr("no certificate"));
}

// --- configuration --------------------------------------------------------------------------

std::string config_error(const std::string& text) {
  auto c = config::parse_config(text, "test.toml");
  return c ? std::string() : c.error();
}

TEST(ClientCertificateConfig, GroupsAndTls) {
  auto c = config::parse_config(
      "[tls]\nclient_ca = \"/etc/ca.pem\"\nclient_crl = \"/etc/crl.pem\"\n"
      "[tunnel_group.certs]\ncertificate = \"required\"\ncertificate_user = \"san_email\"\n"
      "[tunnel_group.both]\ncertificate = \"with_password\"\n",
      "test.toml");
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->tls_client_ca, "/etc/ca.pem");
  EXPECT_EQ(c->tls_client_crl, "/etc/crl.pem");
  EXPECT_EQ(c->tunnel_groups.at("certs").certificate, CertificateMode::required);
  EXPECT_EQ(c->tunnel_groups.at("certs").certificate_user, CertificateUser::san_email);
  EXPECT_EQ(c->tunnel_groups.at("both").certificate, CertificateMode::with_password);
  EXPECT_EQ(c->tunnel_groups.at("both").certificate_user, CertificateUser::cn);
  EXPECT_EQ(c->tunnel_groups.at("default").certificate, CertificateMode::off);
}

TEST(ClientCertificateConfig, MistakesNameTheKey) {
  EXPECT_THAT(config_error("[tunnel_group.g]\ncertificate = \"required\"\n"),
              HasSubstr("tunnel_group.g.certificate: needs [tls] client_ca"));
  EXPECT_THAT(config_error("[tls]\nclient_ca = \"/ca\"\n[tunnel_group.g]\ncertificate = \"yes\"\n"),
              HasSubstr("tunnel_group.g.certificate: expected \"off\", \"required\""));
  EXPECT_THAT(
      config_error("[tls]\nclient_ca = \"/ca\"\n[tunnel_group.g]\ncertificate = \"required\"\n"
                   "certificate_user = \"dn\"\n"),
      HasSubstr("tunnel_group.g.certificate_user: expected \"cn\""));
  EXPECT_THAT(config_error("[tls]\nclient_ca = \"/ca\"\n[tunnel_group.g]\ncertificate_user = "
                           "\"cn\"\n"),
              HasSubstr("tunnel_group.g.certificate_user: has no effect"));
  EXPECT_THAT(config_error("[tls]\nclient_crl = \"/crl\"\n"),
              HasSubstr("tls.client_crl: needs tls.client_ca"));
}

}  // namespace
}  // namespace tandem
