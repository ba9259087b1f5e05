#pragma once
// The node's RADIUS client (docs/radius.md): the [radius] servers and the shared secret, in one
// place for authentication and accounting. Packets are our own (packet.hpp), so every
// Access-Request is signed with a Message-Authenticator. An exchange blocks while it waits for a
// server, so every request runs on this client's own worker threads, never on the node's I/O
// thread; callers co_spawn onto workers() (as the login does with the hash pool).
#include <boost/asio/thread_pool.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "node/config/radius_config.hpp"
#include "node/radius/attributes.hpp"
#include "node/radius/packet.hpp"
#include "node/radius/server_health.hpp"

namespace tandem::radius {

enum class Outcome { accept, reject, challenge, no_answer, error };
const char* to_string(Outcome o) noexcept;

struct AccessRequest {
  std::string user;
  std::string password;         // the password, or the answer to a challenge
  std::string state;            // the challenge's State when answering one, else empty
  std::string calling_station;  // the client's public address
  // When answering a challenge: the server that issued it, asked first (only it knows the
  // State), even if it is marked dead.
  std::optional<config::RadiusServer> challenged_by;
};

struct Reply {
  Outcome outcome = Outcome::error;
  Attributes attributes;
  std::string detail;                               // why, for an error (never a secret)
  std::optional<config::RadiusServer> answered_by;  // the server that answered, if one did
};

// The attributes of an answer the node uses (attributes.hpp); the rest are ignored.
Attributes read_attributes(const std::vector<RawAttribute>& received);

// The Access-Request's attributes (docs/radius.md, "The Access-Request"); the password in clear.
std::vector<RawAttribute> access_request_attributes(const AccessRequest& request,
                                                    const std::string& nas_identifier);

class RadiusClient {
 public:
  // Checks the settings (servers, secret) and starts the workers.
  static Result<std::unique_ptr<RadiusClient>> create(const config::RadiusSettings& settings,
                                                      std::size_t workers = 4);
  ~RadiusClient();  // waits for requests in progress
  RadiusClient(const RadiusClient&) = delete;
  RadiusClient& operator=(const RadiusClient&) = delete;

  boost::asio::thread_pool& workers() { return workers_; }
  const config::RadiusSettings& settings() const { return settings_; }

  // One Access-Request, through the servers in order (exchange.hpp). Blocks: call on workers().
  Reply authenticate(const AccessRequest& request);

  // One Accounting-Request through the accounting servers in order. True when one answered;
  // otherwise `why` says what went wrong. Blocks like authenticate: call on workers().
  bool account(const std::vector<RawAttribute>& attributes, std::string& why);

 private:
  explicit RadiusClient(config::RadiusSettings settings, std::size_t workers);

  config::RadiusSettings settings_;
  ServerHealth health_;  // which servers to ask last (dead_time)
  boost::asio::thread_pool workers_;
};

}  // namespace tandem::radius
