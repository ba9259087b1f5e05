#pragma once
// The node's RADIUS client (docs/radius.md): the [radius] servers, the shared secret and
// radcli's handles, in one place for authentication and accounting. radcli blocks while it
// waits for a server, so every request runs on this client's own worker threads, never on the
// node's I/O thread; callers co_spawn onto workers() (as the login does with the hash pool).
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/result.hpp"
#include "node/config/radius_config.hpp"
#include "node/radius/attributes.hpp"

struct rc_conf;  // radcli's handle (rc_handle)

namespace tandem::radius {

// Debian's libradcli4 installs its dictionary here (radcli needs one to name attributes).
inline constexpr const char* kDictionary = "/etc/radcli/dictionary";

enum class Outcome { accept, reject, challenge, no_answer, error };
const char* to_string(Outcome o) noexcept;

struct AccessRequest {
  std::string user;
  std::string password;         // the password, or the answer to a challenge
  std::string state;            // the challenge's State when answering one, else empty
  std::string calling_station;  // the client's public address
};

struct Reply {
  Outcome outcome = Outcome::error;
  Attributes attributes;
  std::string detail;  // why, for an error (never a secret)
};

class RadiusClient {
 public:
  // Builds one radcli handle per worker (servers, secret, timeout, retries, NAS-Identifier,
  // dictionary). Fails with the reason when radcli refuses any of it.
  static Result<std::unique_ptr<RadiusClient>> create(const config::RadiusSettings& settings,
                                                      std::size_t workers = 4,
                                                      const std::string& dictionary = kDictionary);
  ~RadiusClient();  // waits for requests in progress
  RadiusClient(const RadiusClient&) = delete;
  RadiusClient& operator=(const RadiusClient&) = delete;

  boost::asio::thread_pool& workers() { return workers_; }
  const config::RadiusSettings& settings() const { return settings_; }

  // One Access-Request, through the servers in order: radcli moves to the next server only
  // when one does not answer (retries + 1 tries of `timeout` each). Blocks: call on workers().
  Reply authenticate(const AccessRequest& request);

  // Runs `f` with a handle no other thread uses meanwhile (for accounting requests, which go to
  // the handle's acctserver list). Blocks like authenticate: call on workers().
  void with_handle(const std::function<void(rc_conf*)>& f);

 private:
  explicit RadiusClient(config::RadiusSettings settings, std::size_t workers);
  rc_conf* borrow();
  void give_back(rc_conf* h);

  config::RadiusSettings settings_;
  std::mutex mutex_;
  std::condition_variable free_cv_;  // a handle was given back
  std::vector<rc_conf*> all_;        // owned; destroyed with the client
  std::vector<rc_conf*> free_;       // guarded by mutex_; as many as workers, so borrow never waits
  boost::asio::thread_pool workers_;
};

}  // namespace tandem::radius
