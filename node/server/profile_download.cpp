// GET /CACHE/stc/profiles/<group>.xml: a logged-in client fetches the XML profile its login
// success announced (docs/cisco-clients.md). Only the profile of the session's own tunnel group
// is served, from memory; everything else is refused with a logged reason.
#include "base/log.hpp"
#include "base/text.hpp"
#include "node/http/client_headers.hpp"
#include "node/profile/manifest.hpp"
#include "node/server/front_connection.hpp"
#include "node/server/profiles.hpp"

namespace tandem::server {
namespace {

http::Response status_only(int status) {
  http::Response r;
  r.status = status;
  r.reason = status == 401 ? "Unauthorized" : status == 404 ? "Not Found" : "Service Unavailable";
  r.headers.push_back({"Connection", "close"});
  return r;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "-" : text::sanitize(out, 512);
}

}  // namespace

void log_profiles(const config::Config& config) {
  for (const auto& [name, group] : config.tunnel_groups) {
    if (!group.profile) continue;
    const profile::XmlProfile& p = *group.profile;
    log::info("profile_loaded", {{"tunnel_group", name},
                                 {"path", p.path},
                                 {"uri", profile::profile_uri(name)},
                                 {"sha1", p.sha1},
                                 {"bytes", std::to_string(p.bytes.size())},
                                 {"hosts", joined(p.summary.hosts)},
                                 {"backup_hosts", joined(p.summary.backup_hosts)}});
  }
}

http::Response serve_profile(Runtime& rt, const http::Request& req, const Peer& peer) {
  auto refuse = [&](int status, const std::string& reason) {
    ++rt.counters.input_refused;
    ++rt.counters.profiles_refused;
    std::uint64_t suppressed = 0;
    if (rt.front.login_refusal_log.allow(rt.clock.now(), suppressed))
      log::warn("profile_refused", {{"public", peer.text()},
                                    {"target", text::sanitize(req.target, 128)},
                                    {"status", std::to_string(status)},
                                    {"reason", reason},
                                    {"suppressed", std::to_string(suppressed)}});
    return status_only(status);
  };
  if (const char* why = not_serving_reason(rt, Attach::resume)) return refuse(503, why);
  const auto group = profile::group_of_profile_target(req.target);
  if (!group) return refuse(404, "not a profile name");
  auto token = http::session_token(req);
  if (!token) return refuse(401, token.error());
  session::TokenRefusal why{};
  session::SessionRef s = rt.sessions.find_by_token(*token, why);
  if (!s) return refuse(401, session::to_string(why));
  // Another group's profile may name hosts this user has no business knowing: same answer as
  // for a group without one.
  if (s->tunnel_group != *group)
    return refuse(404, "profile of tunnel group " + *group + ", session is in " + s->tunnel_group);
  const auto it = rt.config.tunnel_groups.find(*group);
  if (it == rt.config.tunnel_groups.end() || !it->second.profile)
    return refuse(404, "tunnel group " + *group + " has no profile");
  const profile::XmlProfile& p = *it->second.profile;
  ++rt.counters.profiles_served;
  log::info("profile_served", {{"index", std::to_string(s->index)},
                               {"user", text::sanitize(s->user, text::kMaxUsername)},
                               {"tunnel_group", *group},
                               {"sha1", p.sha1},
                               {"bytes", std::to_string(p.bytes.size())},
                               {"public", peer.text()}});
  http::Response r;
  r.status = 200;
  r.reason = "OK";
  r.headers.push_back({"Content-Type", "text/xml"});
  r.headers.push_back({"X-Transcend-Version", "1"});
  r.body = p.bytes;
  return r;
}

}  // namespace tandem::server
