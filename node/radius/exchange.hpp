#pragma once
// One RADIUS request over UDP, through a list of servers in order (docs/radius.md, "Servers,
// timeouts and retries"): each server gets (retries + 1) tries of `timeout` each, the same bytes
// every time (RFC 5080 §2.2.1), and the next server is asked when one stays silent or refuses
// the port. Datagrams that fail check_response are ignored (and logged): a forged or garbled
// answer must not end the wait for the real one. With a ServerHealth, the servers marked dead
// are asked last, and what each server did is reported to it (server_health.hpp). Blocks; runs
// on the RADIUS client's threads.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "node/config/radius_config.hpp"
#include "node/radius/packet.hpp"
#include "node/radius/server_health.hpp"

namespace tandem::radius {

struct ExchangeOptions {
  Duration timeout = std::chrono::seconds(3);
  int retries = 2;
  bool require_message_authenticator = false;  // Access-Requests only
  // Asked first, whatever its health: the server whose challenge this request answers (only
  // it knows the State).
  std::optional<config::RadiusServer> first;
};

struct ExchangeResult {
  enum class Kind { answered, no_answer, bad_answers } kind = Kind::no_answer;
  Response response;                 // when answered
  config::RadiusServer answered_by;  // when answered
  std::string detail;  // when not answered: the last reason an answer was refused, if any
};

ExchangeResult exchange(const Request& request, const std::vector<config::RadiusServer>& servers,
                        std::string_view secret, const ExchangeOptions& options,
                        ServerHealth* health = nullptr);

}  // namespace tandem::radius
