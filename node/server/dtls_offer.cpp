#include "node/server/dtls_offer.hpp"

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include <array>

#include "base/log.hpp"
#include "node/dtls/dtls_mode.hpp"
#include "node/server/dtls_server.hpp"

namespace tandem::server {
namespace {

// PSK-NEGOTIATE: both sides derive the DTLS key from this TLS connection (notes §5.2).
std::string register_psk(DtlsServer& dtls, SSL* tls, std::uint64_t index) {
  std::array<std::uint8_t, 32> psk{};
  static constexpr char kLabel[] = "EXPORTER-openconnect-psk";
  std::string id;
  if (SSL_export_keying_material(tls, psk.data(), psk.size(), kLabel, sizeof kLabel - 1, nullptr,
                                 0, 0) == 1) {
    id = dtls.register_tunnel(index, psk);
  }
  OPENSSL_cleanse(psk.data(), psk.size());
  return id;
}

}  // namespace

std::string hex_bytes(const std::string& raw) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::string offer_dtls(DtlsServer* dtls, SSL* tls, const http::Request& req, std::uint64_t index,
                       TunnelParams& params) {
  if (dtls == nullptr) return {};
  const dtls::DtlsOffer offer{req.header("X-DTLS-CipherSuite").value_or(""),
                              req.header("X-DTLS12-CipherSuite").value_or(""),
                              req.header("X-DTLS-Master-Secret").value_or("")};
  auto choice = dtls::choose_dtls_mode(offer, params.policy.dtls_legacy);
  std::string id;
  if (choice.mode == dtls::DtlsMode::psk) {
    id = register_psk(*dtls, tls, index);
    if (!id.empty()) params.dtls = TunnelParams::Dtls{dtls->port(), hex_bytes(id), "", ""};
  } else if (choice.mode == dtls::DtlsMode::legacy12) {
    dtls::LegacySession legacy;
    legacy.master_secret = choice.master_secret;
    legacy.cipher_id = choice.cipher_id;
    id = dtls->register_legacy_tunnel(index, legacy);
    OPENSSL_cleanse(legacy.master_secret.data(), legacy.master_secret.size());
    params.dtls = TunnelParams::Dtls{dtls->port(), hex_bytes(id), choice.answer_header,
                                     choice.answer_name};
    log::debug("dtls_legacy_offered",
               {{"index", std::to_string(index)}, {"suite", choice.answer_name}});
  } else if (!choice.refused_because.empty()) {
    // The client stays on CSTP; say why (a fixed word, never the client's text).
    log::info("dtls_not_offered",
              {{"index", std::to_string(index)}, {"reason", choice.refused_because}});
  }
  OPENSSL_cleanse(choice.master_secret.data(), choice.master_secret.size());
  return id;
}

}  // namespace tandem::server
