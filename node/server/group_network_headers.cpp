#include "node/server/group_network_headers.hpp"

namespace tandem::server {

std::string banner_header_value(std::string_view banner) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(banner.size());
  for (const char ch : banner) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '%' || c < 0x20 || c >= 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

void add_group_network_headers(http::Response& response, const config::Policy& policy) {
  auto add = [&response](std::string name, std::string value) {
    response.headers.push_back({std::move(name), std::move(value)});
  };
  for (const auto& domain : policy.split_dns) add("X-CSTP-Split-DNS", domain);
  if (!policy.default_domain.empty()) add("X-CSTP-Default-Domain", policy.default_domain);
  if (!policy.banner.empty()) add("X-CSTP-Banner", banner_header_value(policy.banner));
}

}  // namespace tandem::server
