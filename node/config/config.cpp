#include "node/config/config.hpp"

#include <fcntl.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "base/address.hpp"
#include "node/auth/users.hpp"
#include "node/config/defaults.hpp"
#include "node/config/group_network.hpp"
#include "node/profile/profile_file.hpp"
#include "node/session/address_pool.hpp"
#include "node/session/address_pool6.hpp"

namespace tandem::config {
namespace {

constexpr const char* kDurationShape =
    "a duration (\"30s\", \"30m\", \"1h\", \"1500ms\", \"2d\", \"none\", or whole seconds)";
constexpr const char* kNameShape = "a name of 1-64 characters A-Z a-z 0-9 _ . -";

// Bytes in a UTF-8 character that starts at s[at]: never cut one in half in a message.
std::size_t char_size_at(std::string_view s, std::size_t at) {
  std::size_t n = 1;
  while (at + n < s.size() && n < 4 && (static_cast<unsigned char>(s[at + n]) & 0xc0) == 0x80) ++n;
  return n;
}

// Shown back to the operator inside an error: quoted, escaped, and kept short (80 bytes, cut
// between characters).
std::string quote(std::string_view s) {
  std::size_t keep = 0;
  while (keep < s.size() && keep + char_size_at(s, keep) <= 80) keep += char_size_at(s, keep);
  std::string out = "\"";
  for (std::size_t i = 0; i < keep; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (keep < s.size() ? "...\"" : "\"");
}

// A message from toml++ shows the character it stopped at as it is, even a newline: control
// characters become \xNN, so that every problem stays on its own line.
std::string escape_controls(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string describe(const toml::node& n) {
  if (const auto* s = n.as_string()) return quote(s->get());
  if (const auto* i = n.as_integer()) return std::to_string(i->get());
  if (const auto* b = n.as_boolean()) return b->get() ? "true" : "false";
  if (n.is_floating_point()) return "a floating-point number";
  if (n.is_table()) return "a table";
  if (n.is_array()) return "an array";
  return "a date or time";
}

// Milliseconds per unit; 0 for an unknown unit.
std::int64_t unit_scale(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60'000;
  if (unit == "h") return 3'600'000;
  if (unit == "d") return 86'400'000;
  return 0;
}

constexpr std::string_view kNameChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";

bool valid_name(std::string_view s) {
  return !s.empty() && s.size() <= 64 && s.find_first_not_of(kNameChars) == s.npos;
}

int listen_port(const std::string& s) {
  const std::size_t colon = s.rfind(':');
  int port = 0;
  if (colon == std::string::npos) return 0;
  for (char ch : s.substr(colon + 1)) {
    if (ch < '0' || ch > '9') return 0;
    port = port * 10 + (ch - '0');
    if (port > 65535) return 0;
  }
  return port;
}

// A user or group name as useradd(8) accepts it on Debian (empty: the key's "not set").
bool valid_account_name(const std::string& s) {
  if (s.empty()) return true;
  if (s.size() > 32 || s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) return false;
  return s.find_first_not_of(kNameChars) == std::string::npos;
}

// "10.200.0.10/24": an interface address, host bits allowed.
bool valid_address_prefix(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos || !net::parse_ipv4(s.substr(0, slash))) return false;
  const std::string p = s.substr(slash + 1);
  if (p.empty() || p.size() > 2 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  int prefix = std::stoi(p);
  return prefix >= 1 && prefix <= 32;
}

// "fd00:99::1/64": an IPv6 interface address a neighbour can route through, host bits allowed.
// Not multicast, link-local (every interface has its own), ::, ::1 or IPv4-mapped.
bool valid_address6_prefix(const std::string& s) {
  auto slash = s.find('/');
  if (slash == std::string::npos) return false;
  auto a = net::parse_ipv6(s.substr(0, slash));
  if (!a) return false;
  const std::string p = s.substr(slash + 1);
  if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
    return false;
  const int prefix = std::stoi(p);
  if (prefix < 1 || prefix > 128) return false;
  const auto& b = *a;
  if (b[0] == 0xff || (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)) return false;
  bool zero_first80 = true;
  for (int i = 0; i < 10; ++i) zero_first80 = zero_first80 && b[i] == 0;
  if (zero_first80 && b[10] == 0xff && b[11] == 0xff) return false;  // ::ffff:0:0/96
  bool zero_first120 =
      zero_first80 && b[10] == 0 && b[11] == 0 && b[12] == 0 && b[13] == 0 && b[14] == 0;
  return !(zero_first120 && b[15] <= 1);  // ::, ::1
}

bool valid_tun_name(const std::string& s) {
  // IFNAMSIZ is 16 with the NUL; the kernel also refuses "." and "..".
  return valid_name(s) && s.size() <= 15 && s != "." && s != "..";
}

Policy builtin_policy(const std::string& name) {
  return Policy{name,
                defaults::kIdleTimeout,
                defaults::kSessionTimeout,
                defaults::kIdleTimeout,
                defaults::kDpdInterval,
                defaults::kKeepalive,
                Duration{},  // rekey_interval: never
                defaults::kMtu,
                defaults::kSimultaneousLogins,
                {},
                {},
                {},  // routes6
                {},  // exclude_routes6
                defaults::kClientToClient,
                {},
                {},
                {},
                {},
                dtls::LegacyDtls::fallback,  // as Policy declares it (docs/dtls-modes.md)
                defaults::kClientBypassProtocol,
                defaults::kDisableAlwaysOnVpn};
}

std::string check_cidr(const std::string& s) {
  auto cidr = net::parse_cidr(s);
  return cidr ? std::string() : cidr.error();
}

std::string check_cidr6(const std::string& s) {
  auto cidr = net::parse_cidr6(s);
  return cidr ? std::string() : cidr.error();
}

// A DNS server is sent in X-CSTP-DNS whichever its family (docs/ipv6.md).
std::string check_dns_server(const std::string& s) {
  if (net::parse_ipv4(s) || net::parse_ipv6(s)) return {};
  return "neither a dotted quad nor an IPv6 address";
}
constexpr int kMinIpv6Mtu = 1280;  // RFC 8200
constexpr const char* kDnsShape = "an array of IPv4 or IPv6 addresses";
constexpr const char* kDnsElementShape = "an IPv4 or IPv6 address";
constexpr const char* kCidr6Shape = "an IPv6 network \"x:y::/len\"";

// Walks the parsed document, filling a Config and collecting every error, so that one run of
// `tandemd --config` shows the operator all that is wrong, not just the first thing.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Result<Config> read(const toml::table& root);

 private:
  void report(std::string message, const toml::node* at) {
    const std::size_t line = at != nullptr ? at->source().begin.line : 0;
    if (line > 0) message += " (line " + std::to_string(line) + ")";
    errors_.emplace_back(line, source_ + ": " + message);
  }
  void error(const std::string& path, const std::string& message, const toml::node* at) {
    report(path + ": " + message, at);
  }
  void expected(const std::string& path, std::string_view shape, const toml::node& got,
                std::string_view detail = {}) {
    std::string message = "expected " + std::string(shape) + ", got " + describe(got);
    if (!detail.empty()) message += ": " + std::string(detail);
    error(path, message, &got);
  }

  static std::string join(const std::string& prefix, std::string_view key) {
    return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
  }

  void check_keys(const toml::table& t, const std::string& prefix,
                  std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : t) {
      if (std::find(known.begin(), known.end(), key.str()) == known.end()) {
        report("unknown key '" + join(prefix, key.str()) + "'", &node);
      }
    }
  }

  // Null when absent (defaults apply) or not a table (reported).
  const toml::table* table(const toml::table& parent, const std::string& prefix,
                           std::string_view key) {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) expected(join(prefix, key), "a table", *n);
    return n->as_table();
  }

  template <class Valid>
  void string_key(const toml::table& t, const std::string& prefix, std::string_view key,
                  std::string& out, std::string_view shape, Valid valid) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const auto* s = n->as_string();
    if (s == nullptr || s->get().find('\0') != std::string::npos || !valid(s->get())) {
      return expected(join(prefix, key), shape, *n);
    }
    out = s->get();
  }

  void path_key(const toml::table& t, const std::string& prefix, std::string_view key,
                std::string& out, std::size_t max = 4096) {
    string_key(t, prefix, key, out, "a path of 1-" + std::to_string(max) + " bytes",
               [max](const std::string& s) { return !s.empty() && s.size() <= max; });
  }

  void int_key(const toml::table& t, const std::string& prefix, std::string_view key, int& out,
               int lo, int hi) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const auto* i = n->as_integer();
    if (i == nullptr || i->get() < lo || i->get() > hi) {
      return expected(join(prefix, key),
                      "an integer " + std::to_string(lo) + ".." + std::to_string(hi), *n);
    }
    out = static_cast<int>(i->get());
  }

  void bool_key(const toml::table& t, const std::string& prefix, std::string_view key, bool& out) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const auto* b = n->as_boolean();
    if (b == nullptr) return expected(join(prefix, key), "true or false", *n);
    out = b->get();
  }

  // Returns false when absent, so the caller can tell "not given" from "given".
  bool duration_key(const toml::table& t, const std::string& prefix, std::string_view key,
                    Duration& out, bool allow_zero) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return false;
    Result<Duration> d = fail("");  // a type other than integer or string
    if (const auto* i = n->as_integer()) {
      if (i->get() >= 0 && i->get() <= INT64_MAX / 1000) {
        d = Duration(std::chrono::seconds(i->get()));
      }
    } else if (const auto* s = n->as_string()) {
      d = parse_duration(s->get());
    }
    if (!d) {
      expected(join(prefix, key), kDurationShape, *n, d.error());
    } else if (!allow_zero && d->count() == 0) {
      expected(join(prefix, key), "a duration above zero", *n);
    } else {
      out = *d;
    }
    return true;
  }

  template <class Check>
  void string_array(const toml::table& t, const std::string& prefix, std::string_view key,
                    std::vector<std::string>& out, std::string_view array_shape,
                    std::string_view element_shape, Check check) {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const std::string path = join(prefix, key);
    const auto* a = n->as_array();
    if (a == nullptr) return expected(path, array_shape, *n);
    out.clear();
    for (std::size_t i = 0; i < a->size(); ++i) {
      const toml::node& e = *a->get(i);
      const auto* s = e.as_string();
      const std::string detail = s != nullptr ? check(s->get()) : std::string();
      if (s == nullptr || !detail.empty()) {
        expected(path + "[" + std::to_string(i) + "]", element_shape, e, detail);
      } else {
        out.push_back(s->get());
      }
    }
  }

  // [policy.NAME] / [tunnel_group.NAME]: calls `f` for each well-named table.
  template <class F>
  void named_tables(const toml::table& root, std::string_view kind, F f) {
    const toml::table* all = table(root, "", kind);
    if (all == nullptr) return;
    for (const auto& [key, node] : *all) {
      const std::string name(key.str());
      if (!valid_name(name)) {
        error(std::string(kind) + "." + quote(name), std::string("expected ") + kNameShape, &node);
      } else if (!node.is_table()) {
        expected(std::string(kind) + "." + name, "a table", node);
      } else {
        f(name, std::string(kind) + "." + name, *node.as_table());
      }
    }
  }

  void read_node(const toml::table& t, Config& c);
  void read_limits(const toml::table& t, Limits& l);
  void read_process(const toml::table& t, Config& c);
  void read_peer(const toml::table& t, Config& c);
  void read_cluster(const toml::table& root, Config& c);
  void read_pool(const toml::table& t, Config& c);
  Policy read_policy(const toml::table& t, const std::string& name, const std::string& prefix,
                     const Config& c);
  void read_group_network(const toml::table& t, const std::string& prefix, Policy& pol);
  void checked_string_key(const toml::table& t, const std::string& prefix, std::string_view key,
                          std::string& out, std::string_view shape,
                          std::string (*check)(std::string_view));
  void read_radius(const toml::table& t, Config& c);
  void read_group_certificate(const toml::table& t, const std::string& prefix, TunnelGroup& group);
  TunnelGroup read_tunnel_group(const toml::table& t, const std::string& name,
                                const std::string& prefix,
                                const std::map<std::string, Policy>& policies);

  std::string source_;
  std::vector<std::pair<std::size_t, std::string>> errors_;  // (line, message)
};

void Reader::read_node(const toml::table& t, Config& c) {
  const std::string p = "node";
  check_keys(t, p,
             {"id", "listen", "admin_socket", "state_dir", "log_level", "tun_name",
              "service_address", "service_interface", "inside_address", "inside_address6",
              "inside_interface", "metrics_listen", "tun_offload", "data_threads"});
  const char* kPrefixShape = "\"ip/prefix\" (IPv4 address and prefix length 1..32)";
  string_key(t, p, "service_address", c.service_address, kPrefixShape, valid_address_prefix);
  string_key(t, p, "service_interface", c.service_interface, "an interface name", valid_tun_name);
  string_key(t, p, "inside_address", c.inside_address, kPrefixShape, valid_address_prefix);
  string_key(t, p, "inside_address6", c.inside_address6,
             "\"ipv6/prefix\" (IPv6 address, not link-local or multicast, and prefix length "
             "1..128)",
             valid_address6_prefix);
  string_key(t, p, "inside_interface", c.inside_interface, "an interface name", valid_tun_name);
  string_key(t, p, "metrics_listen", c.metrics_listen, "\"ip:port\" (IPv4 address, port 1..65535)",
             net::valid_listen);
  if (c.service_address.empty() != c.service_interface.empty())
    error(p, "service_address and service_interface must be given together", &t);
  if (!c.inside_address6.empty()) {
    if (c.inside_interface.empty())
      error(p, "inside_address6 needs inside_interface (the interface it goes on)", &t);
  } else if (c.inside_address.empty() != c.inside_interface.empty()) {
    error(p, "inside_address and inside_interface must be given together", &t);
  }
  string_key(t, p, "id", c.node_id, kNameShape, valid_name);
  string_key(t, p, "listen", c.listen, "\"ip:port\" or \"[ipv6]:port\" (port 1..65535)",
             net::valid_listen_any);
  path_key(t, p, "admin_socket", c.admin_socket, sizeof(sockaddr_un::sun_path) - 1);
  path_key(t, p, "state_dir", c.state_dir);
  string_key(t, p, "log_level", c.log_level, "one of debug, info, warn, error",
             [](const std::string& s) {
               return s == "debug" || s == "info" || s == "warn" || s == "error";
             });
  string_key(t, p, "tun_name", c.tun_name, "an interface name (1-15 characters A-Z a-z 0-9 _ . -)",
             valid_tun_name);
  bool_key(t, p, "tun_offload", c.tun_offload);
  int_key(t, p, "data_threads", c.data_threads, 0, 256);
}

void Reader::read_pool(const toml::table& t, Config& c) {
  const std::string p = "pool";
  check_keys(t, p, {"ipv4", "ipv6", "dns", "routes", "routes6"});
  if (const toml::node* n = t.get("ipv4")) {
    const auto* s = n->as_string();
    Result<net::Ipv4Net> pool = s ? net::parse_cidr(s->get()) : fail("");
    if (pool && (pool->prefix < 8 || pool->prefix > 30)) pool = fail("");
    if (!pool) {
      expected("pool.ipv4", "an IPv4 network \"a.b.c.d/len\" with len 8..30", *n, pool.error());
    } else {
      c.pool_ipv4 = s->get();
    }
  }
  if (const toml::node* n = t.get("ipv6")) {
    const auto* s = n->as_string();
    Result<net::Ipv6Net> pool = s ? net::parse_cidr6(s->get()) : fail("");
    if (pool &&
        (pool->prefix < session::kMinPool6Prefix || pool->prefix > session::kMaxPool6Prefix))
      pool = fail("");
    if (!pool) {
      expected("pool.ipv6",
               "an IPv6 network \"x:y::/len\" with len " +
                   std::to_string(session::kMinPool6Prefix) + ".." +
                   std::to_string(session::kMaxPool6Prefix),
               *n, pool.error());
    } else {
      c.pool_ipv6 = s->get();
    }
  }
  string_array(t, p, "dns", c.dns, kDnsShape, kDnsElementShape, check_dns_server);
  string_array(t, p, "routes", c.routes, "an array of IPv4 networks",
               "an IPv4 network \"a.b.c.d/len\"", check_cidr);
  string_array(t, p, "routes6", c.routes6, "an array of IPv6 networks", kCidr6Shape, check_cidr6);
}

void Reader::checked_string_key(const toml::table& t, const std::string& prefix,
                                std::string_view key, std::string& out, std::string_view shape,
                                std::string (*check)(std::string_view)) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return;
  const auto* s = n->as_string();
  const std::string why = s != nullptr ? check(s->get()) : std::string();
  if (s == nullptr || !why.empty()) return expected(join(prefix, key), shape, *n, why);
  out = s->get();
}

// dns, split_dns, default_domain, banner (docs/group-networks.md).
void Reader::read_group_network(const toml::table& t, const std::string& prefix, Policy& pol) {
  string_array(t, prefix, "dns", pol.dns, kDnsShape, kDnsElementShape, check_dns_server);
  if (t.get("dns") != nullptr && pol.dns.size() > kMaxPolicyDns)  // its own, not [pool] dns
    error(prefix + ".dns",
          "at most " + std::to_string(kMaxPolicyDns) +
              " servers (openconnect keeps the first 3 and ignores the rest)",
          t.get("dns"));
  checked_string_key(t, prefix, "default_domain", pol.default_domain,
                     "one or more domain names separated by single spaces", check_default_domain);
  checked_string_key(t, prefix, "banner", pol.banner,
                     "text of at most " + std::to_string(kMaxBannerBytes) +
                         " bytes, lines ending in LF, no other control characters",
                     check_banner);
  string_array(t, prefix, "split_dns", pol.split_dns, "an array of domain names",
               "a domain name (\"corp.example.com\")",
               [](const std::string& s) { return check_domain_name(s); });
  if (pol.split_dns.size() > kMaxSplitDns) {
    error(prefix + ".split_dns", "at most " + std::to_string(kMaxSplitDns) + " domains",
          t.get("split_dns"));
    return;
  }
  // A domain listed twice is a copy-and-paste slip; DNS names compare without case.
  std::vector<std::string> lower;
  for (const auto& d : pol.split_dns) {
    std::string l = d;
    for (char& ch : l) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (std::find(lower.begin(), lower.end(), l) != lower.end())
      error(prefix + ".split_dns", quote(d) + " is listed twice", t.get("split_dns"));
    lower.push_back(std::move(l));
  }
}

Policy Reader::read_policy(const toml::table& t, const std::string& name, const std::string& prefix,
                           const Config& c) {
  check_keys(t, prefix,
             {"idle_timeout",
              "session_timeout",
              "disconnected_timeout",
              "dpd_interval",
              "keepalive",
              "mtu",
              "simultaneous_logins",
              "routes",
              "exclude_routes",
              "routes6",
              "exclude_routes6",
              "client_to_client",
              "dns",
              "split_dns",
              "default_domain",
              "banner",
              "dtls_legacy",
              "rekey_interval",
              "client_bypass_protocol",
              "disable_always_on_vpn"});
  Policy pol = builtin_policy(name);
  pol.routes = c.routes;  // unless the policy names its own (`routes = []`: full tunnel)
  pol.dns = c.dns;        // likewise (`dns = []`: none)
  pol.routes6 = c.routes6;
  read_group_network(t, prefix, pol);
  string_array(t, prefix, "routes", pol.routes, "an array of IPv4 networks",
               "an IPv4 network \"a.b.c.d/len\"", check_cidr);
  string_array(t, prefix, "exclude_routes", pol.exclude_routes, "an array of IPv4 networks",
               "an IPv4 network \"a.b.c.d/len\"", check_cidr);
  string_array(t, prefix, "routes6", pol.routes6, "an array of IPv6 networks", kCidr6Shape,
               check_cidr6);
  string_array(t, prefix, "exclude_routes6", pol.exclude_routes6, "an array of IPv6 networks",
               kCidr6Shape, check_cidr6);
  if (c.pool_ipv6.empty()) {
    for (const char* key : {"routes6", "exclude_routes6"})
      if (t.get(key) != nullptr)
        error(join(prefix, key), "needs [pool] ipv6 (without it the policy has no IPv6)",
              t.get(key));
  }
  bool_key(t, prefix, "client_to_client", pol.client_to_client);
  bool_key(t, prefix, "client_bypass_protocol", pol.client_bypass_protocol);
  bool_key(t, prefix, "disable_always_on_vpn", pol.disable_always_on_vpn);
  duration_key(t, prefix, "idle_timeout", pol.idle_timeout, false);
  duration_key(t, prefix, "session_timeout", pol.session_timeout, true);
  // S8: the time a disconnected client has to come back is the idle timeout unless set.
  if (!duration_key(t, prefix, "disconnected_timeout", pol.disconnected_timeout, false)) {
    pol.disconnected_timeout = pol.idle_timeout;
  }
  duration_key(t, prefix, "dpd_interval", pol.dpd_interval, true);
  duration_key(t, prefix, "keepalive", pol.keepalive, true);
  duration_key(t, prefix, "rekey_interval", pol.rekey_interval, true);
  if (pol.rekey_interval > Duration{} && pol.rekey_interval < std::chrono::seconds(10)) {
    // Each rekey is a new TLS handshake and CONNECT: a floor keeps a typo from costing a
    // handshake per client every few seconds.
    error(prefix + ".rekey_interval", "expected 0 (never) or at least 10s",
          t.get("rekey_interval"));
  }
  int_key(t, prefix, "mtu", pol.mtu, 576, 9000);
  // A link with an MTU under IPv6's minimum gets no IPv6 at all: the client could not use its
  // address (docs/ipv6.md).
  if (!c.pool_ipv6.empty() && pol.mtu < kMinIpv6Mtu)
    error(prefix + ".mtu", "at least " + std::to_string(kMinIpv6Mtu) + " with [pool] ipv6",
          t.get("mtu"));
  int_key(t, prefix, "simultaneous_logins", pol.simultaneous_logins, 0, 1000);
  std::string legacy;
  string_key(t, prefix, "dtls_legacy", legacy, "\"off\", \"fallback\" or \"prefer\"",
             [](const std::string& s) {
               dtls::LegacyDtls ignored;
               return dtls::parse_legacy_dtls(s, ignored);
             });
  if (!legacy.empty()) dtls::parse_legacy_dtls(legacy, pol.dtls_legacy);
  return pol;
}

void Reader::read_group_certificate(const toml::table& t, const std::string& prefix,
                                    TunnelGroup& group) {
  std::string mode, field;
  string_key(t, prefix, "certificate", mode, "\"off\", \"required\" or \"with_password\"",
             [](const std::string& s) {
               auth::CertificateMode ignored;
               return auth::parse_certificate_mode(s, ignored);
             });
  string_key(t, prefix, "certificate_user", field, "\"cn\", \"uid\", \"san_email\" or \"san_upn\"",
             [](const std::string& s) {
               auth::CertificateUser ignored;
               return auth::parse_certificate_user(s, ignored);
             });
  if (!mode.empty()) auth::parse_certificate_mode(mode, group.certificate);
  if (!field.empty()) auth::parse_certificate_user(field, group.certificate_user);
  if (!field.empty() && group.certificate == auth::CertificateMode::off)
    error(prefix + ".certificate_user",
          "has no effect unless certificate is \"required\" or \"with_password\"",
          t.get("certificate_user"));
}

TunnelGroup Reader::read_tunnel_group(const toml::table& t, const std::string& name,
                                      const std::string& prefix,
                                      const std::map<std::string, Policy>& policies) {
  check_keys(t, prefix, {"policy", "users", "profile", "certificate", "certificate_user", "auth"});
  TunnelGroup group{name, defaults::kPolicyName, std::nullopt, {}, nullptr};
  std::string auth_text;
  string_key(t, prefix, "policy", group.policy, kNameShape, valid_name);
  path_key(t, prefix, "profile", group.profile_path);
  // Served as /CACHE/stc/profiles/<name>.xml, where a leading '.' is refused (profile/manifest).
  if (!group.profile_path.empty() && name.front() == '.')
    error(prefix + ".profile", "a tunnel group whose name starts with '.' cannot have a profile",
          t.get("profile"));
  if (t.get("users") != nullptr) {
    group.users.emplace();
    string_array(t, prefix, "users", *group.users, "an array of user names",
                 "a user name (1-64 characters of A-Z a-z 0-9 . _ @ + -)",
                 [](const std::string& s) {
                   return auth::valid_username(s) ? std::string() : std::string("not a user name");
                 });
    std::sort(group.users->begin(), group.users->end());
  }
  read_group_certificate(t, prefix, group);
  string_key(t, prefix, "auth", auth_text, "\"users\" or \"radius\"", [](const std::string& s) {
    config::GroupAuth ignored;
    return parse_group_auth(s, ignored);
  });
  if (!auth_text.empty()) parse_group_auth(auth_text, group.auth);
  if (group.auth == GroupAuth::radius && group.certificate == auth::CertificateMode::required)
    error(prefix + ".auth",
          "a group on certificate = \"required\" asks for no password to send to RADIUS",
          t.get("auth"));
  if (policies.count(group.policy) == 0) {
    std::string known;
    for (const auto& entry : policies) known += (known.empty() ? "" : ", ") + entry.first;
    error(prefix + ".policy",
          "no policy named " + quote(group.policy) + " (defined: " + known + ")", t.get("policy"));
  }
  return group;
}

void Reader::read_radius(const toml::table& t, Config& c) {
  const std::string p = "radius";
  check_keys(
      t, p,
      {"servers", "accounting_servers", "secret_file", "timeout", "retries", "nas_identifier",
       "interim_interval", "class_policy", "require_message_authenticator", "dead_time"});
  RadiusSettings& r = c.radius;
  r.enabled = true;
  r.nas_identifier = c.node_id;
  auto servers = [&](std::string_view key, std::uint16_t port, std::vector<RadiusServer>& out) {
    std::vector<std::string> texts;
    string_array(t, p, key, texts, "an array of \"ip:port\"", "\"ip\" or \"ip:port\"",
                 [port](const std::string& s) {
                   auto server = parse_radius_server(s, port);
                   return server ? std::string() : server.error();
                 });
    // More would only lengthen the worst-case wait, which must fit the login deadline.
    if (texts.size() > 8) error(p + "." + std::string(key), "at most 8 servers", t.get(key));
    for (const auto& text : texts) out.push_back(parse_radius_server(text, port).value());
  };
  servers("servers", kRadiusAuthPort, r.servers);
  if (r.servers.empty()) error(p + ".servers", "at least one server is needed", &t);
  servers("accounting_servers", kRadiusAccountingPort, r.accounting_servers);
  if (t.get("accounting_servers") == nullptr)
    for (const auto& s : r.servers) r.accounting_servers.push_back({s.ip, kRadiusAccountingPort});
  path_key(t, p, "secret_file", r.secret_file);
  if (r.secret_file.empty()) error(p + ".secret_file", "is required", &t);
  if (duration_key(t, p, "timeout", r.timeout, false) &&
      (r.timeout.count() % 1000 != 0 || r.timeout > std::chrono::seconds(60)))
    error(p + ".timeout", "whole seconds from 1s to 60s", t.get("timeout"));
  int_key(t, p, "retries", r.retries, 0, 10);
  if (duration_key(t, p, "dead_time", r.dead_time, true) &&
      (r.dead_time.count() % 1000 != 0 || r.dead_time > std::chrono::hours(1)))
    error(p + ".dead_time", "0 (off) or whole seconds up to 3600s", t.get("dead_time"));
  bool_key(t, p, "require_message_authenticator", r.require_message_authenticator);
  string_key(t, p, "nas_identifier", r.nas_identifier, "a text of 1-253 printable ASCII bytes",
             [](const std::string& s) {
               if (s.empty() || s.size() > 253) return false;
               for (char ch : s)
                 if (ch < 0x20 || ch > 0x7e) return false;
               return true;
             });
  duration_key(t, p, "interim_interval", r.interim_interval, true);
  // Below 60 s only for tests (docs/radius-accounting.md).
  if (r.interim_interval.count() != 0 && r.interim_interval < std::chrono::seconds(1))
    error(p + ".interim_interval", "0 (off) or at least 1s", t.get("interim_interval"));
  if (const auto* m = table(t, p, "class_policy")) {
    for (const auto& [key, node] : *m) {
      const std::string value(key.str());
      const std::string at = p + ".class_policy." + quote(value);
      const auto* s = node.as_string();
      if (value.empty() || value.size() > 253) {
        error(at, "a Class or Filter-Id value is 1-253 bytes", &node);
      } else if (s == nullptr) {
        expected(at, "a policy name", node);
      } else if (c.policies.count(s->get()) == 0) {
        std::string known;
        for (const auto& entry : c.policies) known += (known.empty() ? "" : ", ") + entry.first;
        error(at, "no policy named " + quote(s->get()) + " (defined: " + known + ")", &node);
      } else {
        r.class_policy[value] = s->get();
      }
    }
  }
  // A login waits for the servers: the wait must fit in the login deadline.
  if (radius_worst_case(r) >= c.limits.login_deadline)
    error(p,
          "servers x (retries + 1) x timeout = " +
              std::to_string(radius_worst_case(r).count() / 1000) +
              "s must be below limits.login_deadline",
          &t);
}

void Reader::read_peer(const toml::table& t, Config& c) {
  const std::string p = "peer";
  check_keys(t, p,
             {"node_id", "listen", "address", "ca", "certificate", "private_key", "priority",
              "poll_interval", "hold_time"});
  Peer& peer = c.peer;
  peer.enabled = true;
  const char* kEndpoint = "\"ip:port\" (IPv4 address, port 1..65535)";
  string_key(t, p, "node_id", peer.node_id, kNameShape, valid_name);
  string_key(t, p, "listen", peer.listen, kEndpoint, net::valid_listen);
  string_key(t, p, "address", peer.address, kEndpoint, net::valid_listen);
  path_key(t, p, "ca", peer.ca);
  path_key(t, p, "certificate", peer.certificate);
  path_key(t, p, "private_key", peer.private_key);
  int_key(t, p, "priority", peer.priority, 0, 65535);
  duration_key(t, p, "poll_interval", peer.poll_interval, false);
  duration_key(t, p, "hold_time", peer.hold_time, false);
  for (const char* key : {"node_id", "listen", "address", "ca", "certificate", "private_key"}) {
    if (t.get(key) == nullptr)
      error(p + "." + key, "required in [peer] (mutual TLS to the peer)", &t);
  }
  if (!peer.node_id.empty() && peer.node_id == c.node_id)
    error(p + ".node_id", "is this node's own id: name the other node of the pair",
          t.get("node_id"));
  if (peer.hold_time <= peer.poll_interval)
    error(p + ".hold_time", "must be longer than peer.poll_interval", &t);
}

void Reader::read_cluster(const toml::table& root, Config& c) {
  if (const auto* t = table(root, "", "arbiter")) {
    const std::string p = "arbiter";
    check_keys(*t, p, {"endpoints", "ca", "certificate", "private_key", "lease_ttl"});
    c.arbiter.enabled = true;
    string_array(
        *t, p, "endpoints", c.arbiter.endpoints, "an array of \"http://host:port\" strings",
        "\"http(s)://host:port\"", [](const std::string& s) {
          return net::valid_etcd_endpoint(s) ? std::string() : std::string("not an endpoint");
        });
    if (c.arbiter.endpoints.empty()) error(p + ".endpoints", "required: at least one etcd", t);
    path_key(*t, p, "ca", c.arbiter.ca);
    path_key(*t, p, "certificate", c.arbiter.certificate);
    path_key(*t, p, "private_key", c.arbiter.private_key);
    if (c.arbiter.certificate.empty() != c.arbiter.private_key.empty())
      error(p, "certificate and private_key must be given together", t);
    duration_key(*t, p, "lease_ttl", c.arbiter.lease_ttl, false);
    if (c.arbiter.lease_ttl < std::chrono::seconds(1) || c.arbiter.lease_ttl.count() % 1000 != 0)
      error(p + ".lease_ttl", "must be whole seconds, at least 1 (etcd leases count seconds)",
            t->get("lease_ttl") ? t->get("lease_ttl") : t);
  }
  const auto* m = table(root, "", "member");
  if (m != nullptr) {
    const std::string p = "member";
    check_keys(*m, p, {"id", "url", "capacity"});
    string_key(*m, p, "id", c.member.id, kNameShape, valid_name);
    string_key(*m, p, "url", c.member.url, "\"https://host[:port]/\"", net::valid_member_url);
    int_key(*m, p, "capacity", c.member.capacity, 1, 10'000'000);
    if (!c.arbiter.enabled) error(p, "needs [arbiter]: members are published in etcd", m);
  }
  if (c.arbiter.enabled && c.member.id.empty())
    error("member.id", "required with [arbiter] (names the pair's key in etcd)", m);
  if (c.arbiter.enabled && c.member.url.empty()) {
    // Where the clients reach the member: its service address, else the node's listen address.
    const std::string port = c.listen.substr(c.listen.rfind(':') + 1);
    std::string host = c.service_address.substr(0, c.service_address.find('/'));
    if (host.empty()) host = c.listen.substr(0, c.listen.rfind(':'));
    if (host == "0.0.0.0" || host == "[::]")
      error("member.url",
            "required when the node listens on " + host + " without a service address", m);
    else
      c.member.url = "https://" + host + ":" + port + "/";
  }
}

void Reader::read_process(const toml::table& t, Config& c) {
  const std::string p = "process";
  check_keys(t, p, {"user", "group"});
  const char* kAccount =
      "a user or group name (1-32 characters a-z A-Z 0-9 _ . -, not starting "
      "with - or a digit)";
  string_key(t, p, "user", c.run_as_user, kAccount, valid_account_name);
  string_key(t, p, "group", c.run_as_group, kAccount, valid_account_name);
  if (c.run_as_user.empty() && !c.run_as_group.empty())
    error(p + ".group", "needs process.user (without a user tandemd stays root)", t.get("group"));
  // The replication server binds after the drop, without CAP_NET_BIND_SERVICE.
  if (!c.run_as_user.empty() && c.peer.enabled && listen_port(c.peer.listen) < 1024)
    error("peer.listen",
          "must be a port from 1024 up when process.user is set (it is bound "
          "after tandemd gives up root)",
          t.get("user"));
}

void Reader::read_limits(const toml::table& t, Limits& l) {
  const std::string p = "limits";
  struct IntKey {
    const char* key;
    int Limits::*field;
    int lo, hi;
  };
  static constexpr IntKey kInts[] = {
      {"connections_per_address", &Limits::connections_per_address, 0, 100'000},
      {"tls_handshakes", &Limits::tls_handshakes, 1, 100'000},
      {"tls_handshakes_per_address", &Limits::tls_handshakes_per_address, 0, 100'000},
      {"logins_in_flight_per_address", &Limits::logins_in_flight_per_address, 0, 10'000},
      {"login_failures_per_user_address", &Limits::login_failures_per_user_address, 0, 1'000'000},
      {"login_failures_per_address", &Limits::login_failures_per_address, 0, 1'000'000},
      {"login_failures_per_user", &Limits::login_failures_per_user, 0, 1'000'000},
      {"login_throttle_entries", &Limits::login_throttle_entries, 100, 10'000'000},
      {"dtls_handshakes", &Limits::dtls_handshakes, 1, 100'000},
      {"dtls_handshakes_per_session", &Limits::dtls_handshakes_per_session, 0, 64},
      {"max_sessions", &Limits::max_sessions, 0, 10'000'000},
  };
  static constexpr std::pair<const char*, Duration Limits::*> kDurations[] = {
      {"login_deadline", &Limits::login_deadline},
      {"login_backoff_initial", &Limits::login_backoff_initial},
      {"login_backoff_max", &Limits::login_backoff_max},
      {"login_forget_after", &Limits::login_forget_after},
  };
  std::vector<std::string_view> names;
  for (const auto& k : kInts) names.push_back(k.key);
  for (const auto& k : kDurations) names.push_back(k.first);
  for (const auto& [key, node] : t) {
    if (std::find(names.begin(), names.end(), key.str()) == names.end())
      report("unknown key '" + join(p, key.str()) + "'", &node);
  }
  for (const auto& k : kInts) int_key(t, p, k.key, l.*k.field, k.lo, k.hi);
  for (const auto& [key, field] : kDurations) duration_key(t, p, key, l.*field, false);
  // Waiting out the forget time must not be quicker than waiting out the longest back-off.
  auto at = [&t](const char* key) { return t.get(key) != nullptr ? t.get(key) : &t; };
  if (l.login_backoff_max < l.login_backoff_initial)
    error(p + ".login_backoff_max", "must not be shorter than limits.login_backoff_initial",
          at("login_backoff_max"));
  if (l.login_forget_after <= l.login_backoff_max)
    error(p + ".login_forget_after", "must be longer than limits.login_backoff_max",
          at("login_forget_after"));
}

Result<Config> Reader::read(const toml::table& root) {
  Config c = default_config();
  c.source = source_;
  check_keys(root, "",
             {"node", "tls", "auth", "pool", "policy", "tunnel_group", "peer", "arbiter", "member",
              "limits", "process", "radius"});

  if (const auto* t = table(root, "", "node")) read_node(*t, c);
  if (const auto* t = table(root, "", "tls")) {
    check_keys(*t, "tls",
               {"certificate", "private_key", "expiry_warning", "client_ca", "client_crl"});
    path_key(*t, "tls", "certificate", c.tls_certificate);
    path_key(*t, "tls", "client_ca", c.tls_client_ca);
    path_key(*t, "tls", "client_crl", c.tls_client_crl);
    if (!c.tls_client_crl.empty() && c.tls_client_ca.empty())
      error("tls.client_crl", "needs tls.client_ca (the CA whose revocations it lists)", t);
    path_key(*t, "tls", "private_key", c.tls_private_key);
    duration_key(*t, "tls", "expiry_warning", c.tls_expiry_warning, true);
    if (c.tls_certificate.empty() != c.tls_private_key.empty()) {
      error("tls", "certificate and private_key must be given together", t);
    }
  }
  if (const auto* t = table(root, "", "auth")) {
    check_keys(*t, "auth", {"users_file"});
    path_key(*t, "auth", "users_file", c.users_file);
  }
  if (const auto* t = table(root, "", "pool")) read_pool(*t, c);
  if (const auto* t = table(root, "", "peer")) read_peer(*t, c);
  if (const auto* t = table(root, "", "limits")) read_limits(*t, c.limits);
  read_cluster(root, c);
  if (const auto* t = table(root, "", "process")) read_process(*t, c);

  // The built-in default policy follows [pool] routes too, when the file does not define it.
  for (auto& [name, policy] : c.policies) {
    policy.routes = c.routes;
    policy.routes6 = c.routes6;
    policy.dns = c.dns;
  }
  if (c.pool_ipv6.empty() && !c.routes6.empty()) {
    if (const auto* t = table(root, "", "pool"))
      error("pool.routes6", "needs [pool] ipv6 (without it no session has IPv6)",
            t->get("routes6"));
  }
  named_tables(root, "policy",
               [&](const std::string& name, const std::string& prefix, const toml::table& t) {
                 c.policies[name] = read_policy(t, name, prefix, c);
               });
  // After the policies: its class_policy names them.
  const toml::table* radius = table(root, "", "radius");
  if (radius != nullptr) read_radius(*radius, c);
  // After all policies, so a group may name one defined later in the file.
  named_tables(root, "tunnel_group",
               [&](const std::string& name, const std::string& prefix, const toml::table& t) {
                 c.tunnel_groups[name] = read_tunnel_group(t, name, prefix, c.policies);
                 if (c.tunnel_groups[name].certificate != auth::CertificateMode::off &&
                     c.tls_client_ca.empty())
                   error(prefix + ".certificate",
                         "needs [tls] client_ca (the CA client certificates must chain to)",
                         t.get("certificate"));
                 if (c.tunnel_groups[name].auth == GroupAuth::radius && !c.radius.enabled)
                   error(prefix + ".auth", "needs a [radius] table (the servers to ask)",
                         t.get("auth"));
               });

  if (errors_.empty()) return c;
  // In file order, as an editor would walk them (tables are visited in key order).
  std::stable_sort(errors_.begin(), errors_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string all;
  for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e.second;
  return fail(all);
}

}  // namespace

Config default_config() {
  Config c;
  c.source = "<built-in defaults>";
  c.node_id = "tandem-1";
  c.listen = defaults::kListen;
  c.admin_socket = defaults::kAdminSocket;
  c.state_dir = defaults::kStateDir;
  c.log_level = "info";
  c.tun_name = defaults::kTunName;
  c.users_file = defaults::kUsersFile;
  c.tls_expiry_warning = defaults::kCertificateExpiryWarning;
  c.pool_ipv4 = defaults::kPoolIpv4;
  c.peer.poll_interval = defaults::kPollInterval;
  c.peer.hold_time = defaults::kHoldTime;
  c.arbiter.lease_ttl = defaults::kLeaseTtl;
  c.member.capacity = defaults::kMemberCapacity;
  c.limits = default_limits();
  c.policies[defaults::kPolicyName] = builtin_policy(defaults::kPolicyName);
  c.tunnel_groups[defaults::kTunnelGroupName] =
      TunnelGroup{defaults::kTunnelGroupName, defaults::kPolicyName, std::nullopt, {}, nullptr};
  return c;
}

bool TunnelGroup::admits(std::string_view user) const {
  return !users || std::binary_search(users->begin(), users->end(), user, std::less<>());
}

Limits default_limits() {
  auto n = [](std::size_t v) { return static_cast<int>(v); };
  return Limits{n(defaults::kConnectionsPerAddress),
                n(defaults::kTlsHandshakes),
                n(defaults::kTlsHandshakesPerAddress),
                defaults::kLoginDeadline,
                n(defaults::kLoginsInFlightPerAddress),
                n(defaults::kLoginFailuresPerUserAddress),
                n(defaults::kLoginFailuresPerAddress),
                n(defaults::kLoginFailuresPerUser),
                defaults::kLoginBackoffInitial,
                defaults::kLoginBackoffMax,
                defaults::kLoginForgetAfter,
                n(defaults::kLoginThrottleEntries),
                n(defaults::kDtlsHandshakes),
                n(defaults::kDtlsHandshakesPerSession),
                defaults::kMaxSessionsFromMemory};
}

Result<Config> parse_config(const std::string& toml_text, const std::string& source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& e) {
    return fail(source + ": line " + std::to_string(e.source().begin.line) + ", column " +
                std::to_string(e.source().begin.column) + ": " + escape_controls(e.description()));
  }
  return Reader(source).read(root);
}

Result<Config> load_config(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read config file " + path + ": " + std::strerror(errno));
  std::string text;
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = "cannot read config file " + path + ": " + std::strerror(errno);
      ::close(fd);
      return fail(message);
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  auto config = parse_config(text, path);
  if (!config) return config;
  // Profiles are read with the file that names them: a bad one refuses the whole configuration
  // (at a reload, the running one stays), every bad one reported at once.
  std::string errors;
  for (auto& [name, group] : config->tunnel_groups) {
    if (group.profile_path.empty()) continue;
    auto loaded = profile::load_profile_file(group.profile_path);
    if (loaded)
      group.profile = std::move(*loaded);
    else
      errors += (errors.empty() ? "" : "\n") + path + ": tunnel_group." + name +
                ".profile: " + loaded.error();
  }
  if (config->radius.enabled) {
    auto secret = read_radius_secret(config->radius.secret_file);
    if (secret)
      config->radius.secret = std::move(*secret);
    else
      errors += (errors.empty() ? "" : "\n") + path + ": radius.secret_file: " + secret.error();
  }
  if (!errors.empty()) return fail(errors);
  return config;
}

Result<Duration> parse_duration(const std::string& text) {
  if (text == "none" || text == "0") return Duration{0};
  if (text.empty()) return fail("empty duration");
  // One or more <digits><unit> parts, summed ("1h30m"); no signs, spaces or fractions.
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t digits_at = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == digits_at) return fail("expected a whole number at " + quote(text.substr(i)));
    const std::string digits = text.substr(digits_at, i - digits_at);
    const std::size_t unit_at = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i])) != 0) ++i;
    const std::string unit = text.substr(unit_at, i - unit_at);
    if (unit.empty() && i < text.size()) {
      return fail("unexpected " + quote(text.substr(i, char_size_at(text, i))) +
                  " (whole numbers only)");
    }
    if (unit.empty()) return fail("missing unit after " + digits + " (use ms, s, m, h or d)");
    const std::int64_t scale = unit_scale(unit);
    if (scale == 0) return fail("unknown unit " + quote(unit) + " (use ms, s, m, h or d)");
    std::int64_t value = 0;
    for (char c : digits) {
      if (value > (INT64_MAX - (c - '0')) / 10) return fail("duration too large");
      value = value * 10 + (c - '0');
    }
    if (value > (INT64_MAX - total) / scale) return fail("duration too large");
    total += value * scale;
  }
  return Duration{total};
}

}  // namespace tandem::config
