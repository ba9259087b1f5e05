#pragma once
// The client network settings of a group policy (docs/group-networks.md): DNS servers, split-DNS
// domains, the default domain and the banner. Checked here when the configuration is loaded, so
// that nothing sent in a CONNECT answer or a login reply can carry what a header or the client's
// resolver configuration must not hold. Pure.
#include <cstddef>
#include <string>
#include <string_view>

namespace tandem::config {

// openconnect keeps the first 3 X-CSTP-DNS servers and drops the rest without a word.
inline constexpr std::size_t kMaxPolicyDns = 3;
inline constexpr std::size_t kMaxSplitDns = 64;
// The search list a resolver is sure to honour (resolv.conf's long-standing limit).
inline constexpr std::size_t kMaxDefaultDomains = 6;
inline constexpr std::size_t kMaxBannerBytes = 4000;

// "" when `name` is a DNS domain name in the form the keys take ("corp.example.com": letters,
// digits and hyphens in labels of 1-63 characters, no hyphen at either end of a label, at most
// 253 characters, no trailing dot, a last label that is not all digits); else why not.
std::string check_domain_name(std::string_view name);

// default_domain: one or more domain names separated by single spaces (the search list).
std::string check_default_domain(std::string_view domains);

// banner: UTF-8 text of at most kMaxBannerBytes bytes; lines end with LF; no other control
// character (no CR, no tab, no NUL), so that it reads the same in every client.
std::string check_banner(std::string_view banner);

}  // namespace tandem::config
