#include "node/profile/manifest.hpp"

#include "node/auth/config_auth.hpp"

namespace tandem::profile {
namespace {

constexpr std::string_view kSuffix = ".xml";
constexpr std::size_t kMaxGroupName = 64;

bool group_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// openconnect 9.01 asks for "<uri>:<port>" when the server's port is not 443 (seen on the wire,
// docs/cisco-clients.md): a port number after ".xml" is dropped.
std::string_view without_port(std::string_view target) {
  const auto colon = target.rfind(':');
  if (colon == std::string_view::npos) return target;
  const std::string_view digits = target.substr(colon + 1);
  if (digits.empty() || digits.size() > 5) return target;
  unsigned port = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return target;
    port = port * 10 + static_cast<unsigned>(c - '0');
  }
  return port >= 1 && port <= 65535 ? target.substr(0, colon) : target;
}

}  // namespace

std::string profile_uri(std::string_view tunnel_group) {
  return std::string(kProfilePathPrefix) + std::string(tunnel_group) + std::string(kSuffix);
}

bool is_profile_target(std::string_view target) { return target.starts_with(kProfilePathPrefix); }

std::optional<std::string> group_of_profile_target(std::string_view target) {
  target = without_port(target);
  if (!target.starts_with(kProfilePathPrefix) || !target.ends_with(kSuffix)) return std::nullopt;
  std::string_view name = target.substr(kProfilePathPrefix.size());
  name.remove_suffix(kSuffix.size());
  if (name.empty() || name.size() > kMaxGroupName || name.front() == '.') return std::nullopt;
  for (char c : name)
    if (!group_name_char(c)) return std::nullopt;
  return std::string(name);
}

std::string build_profile_manifest(std::string_view uri, std::string_view sha1_hex) {
  std::string out = "<config client=\"vpn\" type=\"private\">";
  out += "<vpn-profile-manifest><vpn rev=\"1.0\">";
  out += "<file type=\"profile\" service-type=\"user\">";
  out += "<uri>" + auth::xml_escape(uri) + "</uri>";
  out += "<hash type=\"sha1\">" + auth::xml_escape(sha1_hex) + "</hash>";
  out += "</file></vpn></vpn-profile-manifest></config>";
  return out;
}

}  // namespace tandem::profile
