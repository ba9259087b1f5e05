#pragma once
// The director's one answer per connection (docs/director.md, "What the director answers"): a new
// client's first request gets `302 Found` with an absolute Location on a member, keeping the
// request's path and query; anything that belongs to a member (a CONNECT, a session token) or
// that no member can take gets `503` with an `X-Reason` header. Never 401: to openconnect a 401
// means the session is gone. Pure: a parsed request and a way to place it in, bytes out.
#include <functional>
#include <string>

#include "director/placement.hpp"
#include "node/http/request.hpp"

namespace tandem::director {

enum class Outcome {
  redirected,
  refused_connect,    // CONNECT: a tunnel goes to the member that holds the session
  refused_token,      // a webvpn cookie: a session's token, only its member can use it
  refused_method,     // neither GET, HEAD nor POST
  refused_target,     // not an origin-form target ("/path?query")
  refused_no_member,  // placement found none
  refused_loop,       // the member's URL names the host:port the client reached us on
};
inline constexpr std::size_t kOutcomes = 7;
const char* to_string(Outcome outcome);

struct Answer {
  Outcome outcome = Outcome::redirected;
  int status = 302;
  std::string reason;     // refusals: what X-Reason says
  std::string member;     // redirected: the member's id
  std::string location;   // redirected: the Location
  std::string bytes;      // the whole response, Connection: close
};

// `place` is called only for a request that may be redirected.
Answer answer(const http::Request& request, const std::function<Placement()>& place);

// The Location for `request` on `member`: https://<authority><base path><target>, bytes outside
// printable ASCII in the target percent-encoded.
std::string location(const Member& member, const std::string& target);

// A refusal for a request that did not parse (the parser's status, 400/413/431/501/505).
std::string error_bytes(int status, const std::string& reason);

}  // namespace tandem::director
