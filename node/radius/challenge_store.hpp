#pragma once
// Access-Challenges waiting for the user's answer (docs/radius.md). The RADIUS State stays
// here, on the node: the client gets only a random id (in the challenge form's <opaque>), so it
// can neither read nor forge a State, nor answer for another user. Bounded in number and in
// time; an id answers once. Pure, with the time passed in.
#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "base/clock.hpp"
#include "node/config/radius_config.hpp"

namespace tandem::radius {

struct PendingChallenge {
  std::string user;
  std::string tunnel_group;
  std::string public_ip;  // the address that got the challenge; the answer must come from it
  std::string state;      // RADIUS State, raw bytes
  std::optional<config::RadiusServer> server;  // the server that sent it: it gets the answer
};

class ChallengeStore {
 public:
  ChallengeStore(std::size_t capacity, Duration ttl) : capacity_(capacity), ttl_(ttl) {}

  // The id to put in the form, or nullopt when `capacity` challenges are already waiting.
  // `id` is fresh random text from the caller (random_challenge_id()).
  std::optional<std::string> add(std::string id, PendingChallenge c, TimePoint now);
  // The challenge with this id, removed (an id answers once).
  struct Taken {
    enum class Status { found, unknown, expired } status;
    PendingChallenge challenge;  // when found
  };
  Taken take(const std::string& id, TimePoint now);
  std::size_t size() const { return entries_.size(); }

 private:
  void expire(TimePoint now);
  struct Entry {
    PendingChallenge challenge;
    TimePoint expires;
  };
  std::size_t capacity_;
  Duration ttl_;
  std::map<std::string, Entry> entries_;
};

// 32 hex digits from the system's CSPRNG.
std::string random_challenge_id();

}  // namespace tandem::radius
