#include "node/dtls/dtls_mode.hpp"

#include <optional>

namespace tandem::dtls {
namespace {

struct LegacySuite {
  std::string_view name;  // as the client names it
  std::uint16_t id;       // the TLS cipher suite it resumes
};

// Our preference order. AEAD only: the CBC names Cisco clients also list are not offered.
// The key exchange in a name is never run (the session is resumed), so ECDHE-RSA-X and X
// differ only in what the client expects to read back.
constexpr LegacySuite kCiscoDtls12[] = {
    {"ECDHE-RSA-AES256-GCM-SHA384", 0xC030},
    {"AES256-GCM-SHA384", 0x009D},
    {"ECDHE-RSA-AES128-GCM-SHA256", 0xC02F},
    {"AES128-GCM-SHA256", 0x009C},
};
// openconnect's own names for DTLS 1.2 resumption, offered in X-DTLS-CipherSuite.
constexpr LegacySuite kOpenconnectDtls12[] = {
    {"OC-DTLS1_2-AES256-GCM", 0x009D},
    {"OC-DTLS1_2-AES128-GCM", 0x009C},
};
// Cisco's pre-standard DTLS (version 0x0100): recognised only to say why it is refused.
constexpr std::string_view kDtls09[] = {"DHE-RSA-AES256-SHA", "DHE-RSA-AES128-SHA", "AES256-SHA",
                                        "AES128-SHA", "DES-CBC3-SHA"};

bool lists(std::string_view suites, std::string_view name) {
  while (!suites.empty()) {
    const auto colon = suites.find(':');
    if (suites.substr(0, colon) == name) return true;
    if (colon == std::string_view::npos) break;
    suites.remove_prefix(colon + 1);
  }
  return false;
}

template <std::size_t N>
std::optional<LegacySuite> first_listed(const LegacySuite (&ours)[N], std::string_view suites) {
  for (const auto& suite : ours) {
    if (lists(suites, suite.name)) return suite;
  }
  return std::nullopt;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool parse_secret(std::string_view hex, std::array<std::uint8_t, kMasterSecretSize>& out) {
  if (hex.size() != 2 * kMasterSecretSize) return false;
  for (std::size_t i = 0; i < kMasterSecretSize; ++i) {
    const int hi = hex_digit(hex[2 * i]);
    const int lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

DtlsChoice choose_dtls_mode(const DtlsOffer& offer, LegacyDtls policy) {
  DtlsChoice choice;
  const bool psk = lists(offer.cipher_suite, "PSK-NEGOTIATE");
  if (psk && policy != LegacyDtls::prefer) {
    choice.mode = DtlsMode::psk;
    return choice;
  }
  std::string_view header = "X-DTLS12-CipherSuite";
  auto suite = first_listed(kCiscoDtls12, offer.dtls12_cipher_suite);
  if (!suite) {
    header = "X-DTLS-CipherSuite";
    suite = first_listed(kOpenconnectDtls12, offer.cipher_suite);
  }
  if (psk && (!suite || !parse_secret(offer.master_secret_hex, choice.master_secret))) {
    choice.master_secret.fill(0);
    choice.mode = DtlsMode::psk;  // preferred legacy is not possible: PSK still is
    return choice;
  }
  if (offer.cipher_suite.empty() && offer.dtls12_cipher_suite.empty()) return choice;  // no DTLS
  if (policy == LegacyDtls::off) {
    choice.refused_because = "legacy_off";
  } else if (suite) {
    if (parse_secret(offer.master_secret_hex, choice.master_secret)) {
      choice.mode = DtlsMode::legacy12;
      choice.answer_header = std::string(header);
      choice.answer_name = std::string(suite->name);
      choice.cipher_id = suite->id;
    } else {
      choice.refused_because = "bad_master_secret";
    }
  } else {
    bool dtls09 = false;
    for (auto name : kDtls09) dtls09 = dtls09 || lists(offer.cipher_suite, name);
    choice.refused_because = dtls09 ? "dtls09_only" : "no_common_suite";
  }
  return choice;
}

bool parse_legacy_dtls(std::string_view text, LegacyDtls& out) {
  if (text == "off") {
    out = LegacyDtls::off;
  } else if (text == "fallback") {
    out = LegacyDtls::fallback;
  } else if (text == "prefer") {
    out = LegacyDtls::prefer;
  } else {
    return false;
  }
  return true;
}

}  // namespace tandem::dtls
