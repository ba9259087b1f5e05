#pragma once
// [radius]: the RADIUS servers a tunnel group with `auth = "radius"` asks (docs/radius.md).
// The values and their checks; config.cpp reads the TOML into them, load_config reads the
// secret file.
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"

namespace tandem::config {

// How a tunnel group checks passwords: its users file, or the [radius] servers.
enum class GroupAuth : std::uint8_t { users, radius };
bool parse_group_auth(std::string_view text, GroupAuth& out);
const char* to_string(GroupAuth auth) noexcept;

struct RadiusServer {
  std::uint32_t ip = 0;  // host byte order
  std::uint16_t port = 0;
  std::string text() const;  // "ip:port"
  bool operator==(const RadiusServer&) const = default;
};

inline constexpr std::uint16_t kRadiusAuthPort = 1812;
inline constexpr std::uint16_t kRadiusAccountingPort = 1813;

struct RadiusSettings {
  bool enabled = false;                          // the file has a [radius] table
  std::vector<RadiusServer> servers;             // Access-Request: tried in this order
  std::vector<RadiusServer> accounting_servers;  // default: the servers' hosts on port 1813
  std::string secret_file;
  // Read from secret_file by load_config (parse_config leaves it empty). Never logged.
  std::string secret;
  Duration timeout = std::chrono::seconds(3);  // per try, whole seconds
  int retries = 2;                             // retransmissions per server after the first try
  // A server that let a whole request go unanswered is asked last for this long; 0 = never.
  Duration dead_time = std::chrono::seconds(60);
  // Refuse an Access-Accept/Reject/Challenge without a valid Message-Authenticator (servers that
  // sign every answer, as the Blast-RADIUS fixes do; FreeRADIUS 3.2.1 does not). One that has
  // one is always checked.
  bool require_message_authenticator = false;
  std::string nas_identifier;                             // default: [node] id
  Duration interim_interval = std::chrono::seconds(300);  // accounting updates; 0 = off
  // A Class or Filter-Id value of an Access-Accept -> the policy the session gets. Reloadable.
  std::map<std::string, std::string> class_policy;

  bool operator==(const RadiusSettings&) const = default;
};

// "ip" or "ip:port" (IPv4 dotted quad, port 1..65535).
Result<RadiusServer> parse_radius_server(std::string_view text, std::uint16_t default_port);

// The shared secret: 1..128 bytes of printable ASCII without spaces or commas, so that it reads
// the same in every server's configuration file. Empty string when fine, else why not.
std::string check_radius_secret(std::string_view secret);

// Reads the secret file: one line, the trailing newline (and CR) dropped. Refuses a file that
// others may read, and an empty or malformed secret.
Result<std::string> read_radius_secret(const std::string& path);

// The longest one Access-Request can wait before every server has been given up:
// servers x (retries + 1) x timeout (docs/radius.md).
Duration radius_worst_case(const RadiusSettings& s);

}  // namespace tandem::config
