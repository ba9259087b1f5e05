#pragma once
// Where a tunnel group's profile is served and how the login success announces it (the
// <vpn-profile-manifest> inside <config>, docs/cisco-clients.md). Pure string functions.
#include <optional>
#include <string>
#include <string_view>

namespace tandem::profile {

// The path prefix profiles are served under; the rest is "<tunnel group>.xml".
inline constexpr std::string_view kProfilePathPrefix = "/CACHE/stc/profiles/";

// "/CACHE/stc/profiles/<group>.xml".
std::string profile_uri(std::string_view tunnel_group);

// True when `target` is under kProfilePathPrefix (whether or not it names a valid group).
bool is_profile_target(std::string_view target);

// The tunnel group a request target asks for, or nullopt when the target is not exactly
// prefix + name + ".xml" (optionally followed by ":<port>", as openconnect 9.01 sends it on a
// port other than 443) with a name of A-Z a-z 0-9 _ . - not starting with '.'. No decoding is
// done: "%2e%2e", "..", "/" or a query string never name a group, so nothing outside the loaded
// profiles can be reached (they are served from memory, not from a directory).
std::optional<std::string> group_of_profile_target(std::string_view target);

// The <config> element for the login success: one <file type="profile" service-type="user">
// with the URI and its SHA-1, inside <vpn-profile-manifest><vpn rev="1.0">.
std::string build_profile_manifest(std::string_view uri, std::string_view sha1_hex);

}  // namespace tandem::profile
