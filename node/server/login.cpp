#include "node/server/login.hpp"

namespace tandem::server {

std::string resolve_tunnel_group(const config::Config& config, const auth::ClientMessage& msg,
                                 std::string_view path) {
  auto known = [&](std::string_view name) {
    return !name.empty() && config.tunnel_groups.count(std::string(name)) != 0;
  };
  if (known(msg.group_select)) return msg.group_select;
  if (known(msg.opaque_tunnel_group)) return msg.opaque_tunnel_group;
  std::string_view p = path;
  while (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (auto q = p.find_first_of("/?"); q != std::string_view::npos) p = p.substr(0, q);
  if (known(p)) return std::string(p);
  return "default";
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

http::Response login_success_response(const std::string& token, const std::string& banner) {
  auto r = xml_response(auth::build_login_success(token, banner));
  // Both carriers: the Set-Cookie header and <session-token> (notes §2.8).
  r.headers.push_back({"Set-Cookie", "webvpn=" + token + "; Secure; HttpOnly"});
  return r;
}

}  // namespace tandem::server
