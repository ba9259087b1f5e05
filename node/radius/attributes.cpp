#include "node/radius/attributes.hpp"

namespace tandem::radius {

Result<Grant> grant_from_accept(const Attributes& a, const config::RadiusSettings& settings,
                                const net::Ipv4Net& pool, const std::string& group_policy) {
  Grant g;
  if (a.framed_ip && *a.framed_ip != 0xfffffffeu && *a.framed_ip != 0xffffffffu) {
    const std::uint32_t ip = *a.framed_ip;
    const std::uint32_t mask = pool.netmask();
    const std::uint32_t broadcast = pool.network | ~mask;
    if ((ip & mask) != pool.network)
      return fail(Errc::invalid, "Framed-IP-Address " + net::format_ipv4(ip) +
                                     " is outside the pool " + net::format_ipv4(pool.network) +
                                     "/" + std::to_string(pool.prefix));
    if (ip == pool.network || ip == pool.network + 1 || ip == broadcast)
      return fail(Errc::invalid, "Framed-IP-Address " + net::format_ipv4(ip) +
                                     " is the pool's network, gateway or broadcast address");
    g.ip = ip;
  }
  if (a.radius_class) g.radius_class = *a.radius_class;
  if (a.session_timeout && *a.session_timeout > 0)
    g.session_timeout = std::chrono::seconds(*a.session_timeout);
  if (a.idle_timeout && *a.idle_timeout > 0) g.idle_timeout = std::chrono::seconds(*a.idle_timeout);
  g.policy = group_policy;
  g.policy_from = "group";
  if (a.radius_class) {
    if (auto it = settings.class_policy.find(*a.radius_class); it != settings.class_policy.end()) {
      g.policy = it->second;
      g.policy_from = "Class";
      return g;
    }
  }
  for (const auto& id : a.filter_ids) {
    if (auto it = settings.class_policy.find(id); it != settings.class_policy.end()) {
      g.policy = it->second;
      g.policy_from = "Filter-Id";
      return g;
    }
  }
  return g;
}

std::string printable(const std::string& bytes, std::size_t max) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (bytes.size() > max) out += "...";
  return out;
}

}  // namespace tandem::radius
