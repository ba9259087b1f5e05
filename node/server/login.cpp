#include "node/server/login.hpp"

#include "node/profile/manifest.hpp"

namespace tandem::server {
namespace {

// "/engineering/x?y" -> "engineering".
std::string_view first_segment(std::string_view p) {
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (auto q = p.find_first_of("/?#"); q != std::string_view::npos) p = p.substr(0, q);
  return p;
}

}  // namespace

std::string resolve_tunnel_group(const config::Config& config, const auth::ClientMessage& msg,
                                 std::string_view path) {
  auto known = [&](std::string_view name) {
    return !name.empty() && config.tunnel_groups.count(std::string(name)) != 0;
  };
  if (known(msg.group_select)) return msg.group_select;
  if (known(msg.opaque_tunnel_group)) return msg.opaque_tunnel_group;
  if (known(first_segment(path))) return std::string(first_segment(path));
  if (const std::string access = group_access_segment(msg.group_access); known(access))
    return access;
  return "default";
}

std::string group_access_segment(std::string_view url) {
  if (url.size() > 1024) return {};
  for (char c : url)
    if (c <= 0x20 || c > 0x7e) return {};
  constexpr std::string_view kScheme = "https://";
  if (url.size() < kScheme.size()) return {};
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if ((url[i] | 0x20) != kScheme[i]) return {};
  url.remove_prefix(kScheme.size());
  const auto slash = url.find('/');
  if (slash == std::string_view::npos) return {};
  return std::string(first_segment(url.substr(slash)));
}

http::Response xml_response(std::string body) {
  http::Response r;
  r.status = 200;
  r.reason = "OK";
  r.headers.push_back({"Content-Type", "text/xml"});
  r.headers.push_back({"X-Transcend-Version", "1"});
  r.body = std::move(body);
  return r;
}

http::Response login_form_response(const config::Config& config, const std::string& group,
                                   const std::string& error) {
  auth::LoginForm form;
  form.error = error;
  for (const auto& [name, g] : config.tunnel_groups) form.groups.push_back(name);
  form.selected_group = group;
  return xml_response(auth::build_login_form(form));
}

http::Response login_success_response(const std::string& token, const config::TunnelGroup& group,
                                      const std::string& banner) {
  std::string manifest;
  if (group.profile)
    manifest =
        profile::build_profile_manifest(profile::profile_uri(group.name), group.profile->sha1);
  auto r = xml_response(auth::build_login_success(token, banner, manifest));
  // Both carriers: the Set-Cookie header and <session-token> (notes §2.8).
  r.headers.push_back({"Set-Cookie", "webvpn=" + token + "; Secure; HttpOnly"});
  return r;
}

}  // namespace tandem::server
