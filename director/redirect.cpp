#include "director/redirect.hpp"

#include <utility>

namespace tandem::director {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// "host:443" and "host" are the same place for an https client.
std::string normalized_authority(std::string_view authority) {
  std::string a = lower(authority);
  if (a.ends_with(":443")) a.resize(a.size() - 4);
  return a;
}

const char* phrase(int status) {
  switch (status) {
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Payload Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string refusal_bytes(int status, const std::string& reason) {
  http::Response r;
  r.status = status;
  r.reason = phrase(status);
  r.headers.push_back({"X-Reason", reason});
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.headers.push_back({"Connection", "close"});
  r.body = reason + "\n";
  return r.serialize();
}

Answer refuse(Outcome outcome, int status, std::string reason) {
  Answer a;
  a.outcome = outcome;
  a.status = status;
  a.reason = std::move(reason);
  a.bytes = refusal_bytes(status, a.reason);
  return a;
}

}  // namespace

const char* to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::redirected:
      return "redirected";
    case Outcome::refused_connect:
      return "connect";
    case Outcome::refused_token:
      return "token";
    case Outcome::refused_method:
      return "method";
    case Outcome::refused_target:
      return "target";
    case Outcome::refused_no_member:
      return "no_member";
    case Outcome::refused_loop:
      return "loop";
  }
  return "?";
}

std::string location(const Member& member, const std::string& target) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out = "https://" + member.authority + member.base_path;
  for (char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7f) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string error_bytes(int status, const std::string& reason) {
  return refusal_bytes(status, reason);
}

Answer answer(const http::Request& request, const std::function<Placement()>& place) {
  // A CONNECT or a token here means a client is trying to use a session through the director.
  // 503 makes openconnect try again later, at the address it has cached for its member (§6.5);
  // a 401 would make it drop the session for good.
  if (request.method == "CONNECT")
    return refuse(Outcome::refused_connect, 503,
                  "tunnels are served by members, not by the director");
  if (request.cookie("webvpn"))
    return refuse(Outcome::refused_token, 503,
                  "a session token is only valid at its member, not at the director");
  if (request.method != "GET" && request.method != "POST" && request.method != "HEAD")
    return refuse(Outcome::refused_method, 405, "method " + request.method + " is not served");
  if (request.target.empty() || request.target.front() != '/')
    return refuse(Outcome::refused_target, 400, "the request target must be a path");

  Placement placed = place();
  if (const auto* none = std::get_if<NoMember>(&placed))
    return refuse(Outcome::refused_no_member, 503, none->reason);
  const Member& member = *std::get<const Member*>(placed);
  // Sent back to where it came from, openconnect would leave its XML login for the legacy one
  // and loop (§2.9): a member URL that names this director is a configuration error.
  if (const auto host = request.header("Host");
      host && normalized_authority(*host) == normalized_authority(member.authority))
    return refuse(Outcome::refused_loop, 503,
                  "member " + member.id + " publishes this director's own address as its URL");

  Answer a;
  a.outcome = Outcome::redirected;
  a.status = 302;
  a.member = member.id;
  a.location = location(member, request.target);
  http::Response r;
  r.status = 302;
  r.reason = "Found";
  r.headers.push_back({"Location", a.location});
  r.headers.push_back({"Connection", "close"});
  a.bytes = r.serialize();
  return a;
}

}  // namespace tandem::director
