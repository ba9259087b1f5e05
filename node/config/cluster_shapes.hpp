#pragma once
// Shapes of configuration values shared by tandemd's and tandem-director's config readers.
#include <string>

namespace tandem::config {

// "ip:port": an IPv4 address and a port 1..65535 (no leading zero).
bool valid_listen(const std::string& s);
// "http://host:port" or "https://host:port": an etcd v3 endpoint.
bool valid_etcd_endpoint(const std::string& s);
// "https://host[:port]/": where directors send a member's new clients (no path, query or user).
bool valid_member_url(const std::string& s);

}  // namespace tandem::config
