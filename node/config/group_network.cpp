#include "node/config/group_network.hpp"

#include "base/text.hpp"

namespace tandem::config {
namespace {

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

}  // namespace

std::string check_domain_name(std::string_view name) {
  if (name.empty()) return "empty";
  if (name.size() > 253) return "longer than 253 characters";
  if (name.back() == '.') return "ends with a dot (write it without the trailing dot)";
  std::string_view last;
  while (!name.empty()) {
    const std::size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty()) return "an empty label (two dots, or a leading dot)";
    if (label.size() > 63) return "a label longer than 63 characters";
    for (const char c : label) {
      if (!is_alnum(c) && c != '-') {
        return c == '*' ? "a wildcard (name the domain itself: it covers its subdomains)"
                        : "a character other than A-Z a-z 0-9 - in a label";
      }
    }
    if (label.front() == '-' || label.back() == '-') return "a label that starts or ends with -";
    last = label;
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  if (last.find_first_not_of("0123456789") == std::string_view::npos)
    return "an all-digit last label (an address, not a domain name)";
  return {};
}

std::string check_default_domain(std::string_view domains) {
  if (domains.empty()) return "empty (leave the key out for none)";
  std::size_t count = 0;
  while (true) {
    const std::size_t space = domains.find(' ');
    const std::string why = check_domain_name(domains.substr(0, space));
    if (!why.empty()) return "domain " + std::to_string(count + 1) + ": " + why;
    if (++count > kMaxDefaultDomains)
      return "more than " + std::to_string(kMaxDefaultDomains) + " domains";
    if (space == std::string_view::npos) return {};
    domains.remove_prefix(space + 1);
  }
}

std::string check_banner(std::string_view banner) {
  if (banner.size() > kMaxBannerBytes)
    return "longer than " + std::to_string(kMaxBannerBytes) + " bytes";
  if (!text::is_valid_utf8(banner)) return "not valid UTF-8";
  for (const char ch : banner) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\r') return "a carriage return (end lines with LF only)";
    if ((c < 0x20 && c != '\n') || c == 0x7f) return "a control character";
  }
  // C1 controls (U+0080..U+009F) are two bytes in UTF-8: 0xC2 0x80..0x9F.
  for (std::size_t i = 0; i + 1 < banner.size(); ++i) {
    if (static_cast<unsigned char>(banner[i]) == 0xc2 &&
        static_cast<unsigned char>(banner[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(banner[i + 1]) >= 0x80)
      return "a control character";
  }
  return {};
}

}  // namespace tandem::config
