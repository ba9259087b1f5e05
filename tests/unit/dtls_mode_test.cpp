// Which DTLS mode a CONNECT gets (node/dtls/dtls_mode.*, docs/dtls-modes.md).
#include <gtest/gtest.h>

#include <string>

#include "node/dtls/dtls_mode.hpp"

namespace tandem::dtls {
namespace {

// What openconnect 9.01 offers by default (protocol notes §3.1).
constexpr const char* kOpenconnectSuites =
    "PSK-NEGOTIATE:OC-DTLS1_2-AES256-GCM:OC2-DTLS1_2-CHACHA20-POLY1305:OC-DTLS1_2-AES128-GCM:"
    "DHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:AES256-SHA:AES128-SHA";
constexpr const char* kOpenconnect12 =
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256:AES256-GCM-SHA384:"
    "AES128-GCM-SHA256:DHE-RSA-AES256-SHA:DHE-RSA-AES128-SHA:AES256-SHA:AES128-SHA";
const std::string kSecret =
    "A8F5FD9BC3516469C9C107FA1366E6C4F0300197F7AD267A4C902F55D7A81E5156F3DE9BFE82832C169D7C9CB4A0"
    "AF8C";

TEST(DtlsMode, PskNegotiateWinsByDefault) {
  auto c = choose_dtls_mode({kOpenconnectSuites, kOpenconnect12, kSecret}, LegacyDtls::fallback);
  EXPECT_EQ(c.mode, DtlsMode::psk);
  EXPECT_TRUE(c.refused_because.empty());
}

TEST(DtlsMode, CiscoClientWithoutPskGetsLegacyDtls12) {
  // Cisco Secure Client: no PSK-NEGOTIATE, Cisco names in X-DTLS12-CipherSuite.
  auto c = choose_dtls_mode({"", "AES256-GCM-SHA384:AES128-GCM-SHA256", kSecret},
                            LegacyDtls::fallback);
  ASSERT_EQ(c.mode, DtlsMode::legacy12);
  EXPECT_EQ(c.answer_header, "X-DTLS12-CipherSuite");
  EXPECT_EQ(c.answer_name, "AES256-GCM-SHA384");
  EXPECT_EQ(c.cipher_id, 0x009D);
  EXPECT_EQ(c.master_secret[0], 0xA8);
  EXPECT_EQ(c.master_secret[47], 0x8C);
}

TEST(DtlsMode, OurPreferenceOrderNotTheClients) {
  auto c = choose_dtls_mode({"", "AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384", kSecret},
                            LegacyDtls::fallback);
  EXPECT_EQ(c.answer_name, "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_EQ(c.cipher_id, 0xC030);
}

TEST(DtlsMode, OpenconnectOwnDtls12NamesAnsweredInTheSameHeader) {
  auto c = choose_dtls_mode({"OC-DTLS1_2-AES128-GCM:AES256-SHA", "", kSecret},
                            LegacyDtls::fallback);
  ASSERT_EQ(c.mode, DtlsMode::legacy12);
  EXPECT_EQ(c.answer_header, "X-DTLS-CipherSuite");
  EXPECT_EQ(c.answer_name, "OC-DTLS1_2-AES128-GCM");
  EXPECT_EQ(c.cipher_id, 0x009C);
}

TEST(DtlsMode, PreferPicksLegacyNextToPsk) {
  auto c = choose_dtls_mode({kOpenconnectSuites, kOpenconnect12, kSecret}, LegacyDtls::prefer);
  ASSERT_EQ(c.mode, DtlsMode::legacy12);
  EXPECT_EQ(c.answer_name, "ECDHE-RSA-AES256-GCM-SHA384");
  // ... but PSK still serves a client whose secret is unusable.
  auto bad = choose_dtls_mode({kOpenconnectSuites, kOpenconnect12, "zz"}, LegacyDtls::prefer);
  EXPECT_EQ(bad.mode, DtlsMode::psk);
  EXPECT_EQ(bad.master_secret[0], 0);
}

TEST(DtlsMode, Dtls09OnlyIsRefusedWithAReason) {
  auto c = choose_dtls_mode({"AES256-SHA:DHE-RSA-AES128-SHA", "", kSecret}, LegacyDtls::fallback);
  EXPECT_EQ(c.mode, DtlsMode::none);
  EXPECT_EQ(c.refused_because, "dtls09_only");
}

TEST(DtlsMode, OffPolicyRefusesLegacyButKeepsPsk) {
  EXPECT_EQ(choose_dtls_mode({kOpenconnectSuites, kOpenconnect12, kSecret}, LegacyDtls::off).mode,
            DtlsMode::psk);
  auto c = choose_dtls_mode({"", kOpenconnect12, kSecret}, LegacyDtls::off);
  EXPECT_EQ(c.mode, DtlsMode::none);
  EXPECT_EQ(c.refused_because, "legacy_off");
}

TEST(DtlsMode, HostileInputNeverYieldsLegacy) {
  const std::string odd_length = kSecret.substr(1);
  std::string not_hex = kSecret;
  not_hex[10] = 'g';
  const std::string too_long = kSecret + "00";
  for (const auto& secret : {std::string(), odd_length, not_hex, too_long}) {
    auto c = choose_dtls_mode({"", "AES256-GCM-SHA384", secret}, LegacyDtls::fallback);
    EXPECT_EQ(c.mode, DtlsMode::none) << secret;
    EXPECT_EQ(c.refused_because, "bad_master_secret");
  }
  // Names are matched whole: a prefix, a suffix or a different case is not a suite.
  for (const char* list : {"AES256-GCM-SHA38", "XAES256-GCM-SHA384", "aes256-gcm-sha384",
                           "AES256-GCM-SHA384 ", ":::", "NULL-SHA"}) {
    auto c = choose_dtls_mode({"", list, kSecret}, LegacyDtls::fallback);
    EXPECT_EQ(c.mode, DtlsMode::none) << list;
    EXPECT_EQ(c.refused_because, "no_common_suite") << list;
  }
  EXPECT_EQ(choose_dtls_mode({"", "", kSecret}, LegacyDtls::fallback).refused_because, "");
}

TEST(DtlsMode, ParsesThePolicyWord) {
  LegacyDtls v = LegacyDtls::off;
  EXPECT_TRUE(parse_legacy_dtls("prefer", v));
  EXPECT_EQ(v, LegacyDtls::prefer);
  EXPECT_TRUE(parse_legacy_dtls("fallback", v));
  EXPECT_EQ(v, LegacyDtls::fallback);
  EXPECT_FALSE(parse_legacy_dtls("Prefer", v));
  EXPECT_FALSE(parse_legacy_dtls("", v));
  EXPECT_EQ(v, LegacyDtls::fallback);
}

}  // namespace
}  // namespace tandem::dtls
