#include "node/profile/xml_profile.hpp"

#include <openssl/evp.h>

#include "base/text.hpp"
#include "node/auth/config_auth.hpp"

namespace tandem::profile {
namespace {

std::string trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
}

// Backup servers may be listed per host entry and once for the whole profile; both count.
void collect_backups(const auth::XmlElement& list, std::vector<std::string>& out) {
  for (const auto& c : list.children)
    if (c.name == "HostAddress" && !trimmed(c.text).empty()) out.push_back(trimmed(c.text));
}

void walk_backups(const auth::XmlElement& el, std::vector<std::string>& out, int depth) {
  if (depth > 4) return;  // the schema nests them at most three levels down
  for (const auto& c : el.children) {
    if (c.name == "BackupServerList")
      collect_backups(c, out);
    else
      walk_backups(c, out, depth + 1);
  }
}

}  // namespace

Result<ProfileSummary> check_profile(std::string_view bytes) {
  if (bytes.size() > kMaxProfileBytes)
    return fail("profile of " + std::to_string(bytes.size()) + " bytes is over the limit of " +
                std::to_string(kMaxProfileBytes));
  // Same reader as the login XML: no DTD, no entities, bounded nesting; more elements allowed,
  // since a profile may list many hosts.
  auto doc = auth::parse_xml(bytes, auth::XmlLimits{kMaxProfileBytes, 16, 16384});
  if (!doc) return fail("not well-formed XML: " + doc.error());
  if (doc->name != "AnyConnectProfile")
    return fail("root element is <" + text::sanitize(doc->name, 40) +
                ">, expected <AnyConnectProfile>");
  const auth::XmlElement* servers = doc->child("ServerList");
  if (servers == nullptr) return fail("no <ServerList>: the client would have no host to show");
  ProfileSummary s;
  for (const auto& entry : servers->children) {
    if (entry.name != "HostEntry") continue;
    const auth::XmlElement* name = entry.child("HostName");
    const std::string host = name != nullptr ? trimmed(name->text) : std::string();
    if (host.empty())
      return fail("<HostEntry> number " + std::to_string(s.hosts.size() + 1) +
                  " has no <HostName>");
    s.hosts.push_back(host);
  }
  if (s.hosts.empty()) return fail("<ServerList> has no <HostEntry>");
  walk_backups(*doc, s.backup_hosts, 0);
  return s;
}

std::string sha1_hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kDigits[md[i] >> 4]);
    out.push_back(kDigits[md[i] & 15]);
  }
  return out;
}

}  // namespace tandem::profile
