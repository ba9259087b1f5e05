#pragma once
// Which DTLS mode a CONNECT gets (docs/dtls-modes.md): pure, from the client's X-DTLS-* request
// headers and the group policy. PSK-NEGOTIATE when offered; otherwise Cisco's "resumed session"
// DTLS 1.2, whose master secret the client chose and sent in X-DTLS-Master-Secret; never
// Cisco's pre-standard DTLS 0.9, which OpenSSL can only speak as a client.
//
// Every input is hostile: unknown names are skipped, a malformed master secret means no legacy
// DTLS (the client stays on CSTP), and nothing here echoes client text into the answer.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace tandem::dtls {

inline constexpr std::size_t kMasterSecretSize = 48;  // 96 hex digits on the wire
inline constexpr std::size_t kSessionIdSize = 32;     // X-DTLS-Session-ID: exactly 64 hex digits

// [policy.NAME] dtls_legacy: when the legacy DTLS 1.2 mode is used.
enum class LegacyDtls {
  off,       // only PSK-NEGOTIATE; a client without it stays on CSTP
  fallback,  // legacy when the client does not offer PSK-NEGOTIATE (Cisco Secure Client)
  prefer,    // legacy whenever the client offers a suite we can resume, even next to PSK
};

enum class DtlsMode { none, psk, legacy12 };

struct DtlsOffer {
  std::string_view cipher_suite;         // X-DTLS-CipherSuite
  std::string_view dtls12_cipher_suite;  // X-DTLS12-CipherSuite (Cisco names)
  std::string_view master_secret_hex;    // X-DTLS-Master-Secret
};

struct DtlsChoice {
  DtlsMode mode = DtlsMode::none;
  // legacy12 only: the answer header ("X-DTLS12-CipherSuite" for a Cisco name, or
  // "X-DTLS-CipherSuite" for openconnect's OC-DTLS1_2-* names), the name it carries, the
  // suite's TLS id, and the client's master secret.
  std::string answer_header;
  std::string answer_name;
  std::uint16_t cipher_id = 0;
  std::array<std::uint8_t, kMasterSecretSize> master_secret{};
  // mode == none although the client offered DTLS: why, for the log (a fixed word, never client
  // text): "dtls09_only", "no_common_suite", "bad_master_secret", "legacy_off".
  std::string refused_because;
};

DtlsChoice choose_dtls_mode(const DtlsOffer& offer, LegacyDtls policy);

// "off" / "fallback" / "prefer"; false for anything else.
bool parse_legacy_dtls(std::string_view text, LegacyDtls& out);

}  // namespace tandem::dtls
