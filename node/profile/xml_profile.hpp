#pragma once
// The AnyConnect XML client profile an operator hands out per tunnel group (docs/cisco-clients.md):
// the checks a profile must pass before a node will announce it, and its SHA-1 as the client
// verifies it. Pure: bytes in, a summary or an error out.
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tandem::profile {

// A profile is a small document (a few KiB in practice); anything larger is refused at load.
inline constexpr std::size_t kMaxProfileBytes = 256 * 1024;

// What a profile lists, for the load log and the operator's sanity.
struct ProfileSummary {
  std::vector<std::string> hosts;         // ServerList/HostEntry/HostName, in order
  std::vector<std::string> backup_hosts;  // every BackupServerList/HostAddress, in order
};

// Well-formed XML within the limits above, root <AnyConnectProfile>, a <ServerList> with at least
// one <HostEntry> whose <HostName> is not empty. Errors say what is wrong, for the config error.
Result<ProfileSummary> check_profile(std::string_view bytes);

// SHA-1 of the exact bytes served, 40 upper-case hex digits (the client compares without case).
std::string sha1_hex(std::string_view bytes);

// A loaded profile: the bytes served and their hash, made once at load and shared read-only.
struct XmlProfile {
  std::string path;  // where it was read from, for logs
  std::string bytes;
  std::string sha1;
  ProfileSummary summary;
};

}  // namespace tandem::profile
