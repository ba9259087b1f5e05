#include "node/radius/challenge_store.hpp"

#include <openssl/rand.h>

#include <cstdint>
#include <stdexcept>

namespace tandem::radius {

void ChallengeStore::expire(TimePoint now) {
  for (auto it = entries_.begin(); it != entries_.end();)
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
}

std::optional<std::string> ChallengeStore::add(std::string id, PendingChallenge c, TimePoint now) {
  if (entries_.size() >= capacity_) expire(now);
  if (entries_.size() >= capacity_ || id.empty() || entries_.count(id) != 0) return std::nullopt;
  entries_.emplace(id, Entry{std::move(c), now + ttl_});
  return id;
}

ChallengeStore::Taken ChallengeStore::take(const std::string& id, TimePoint now) {
  using Status = Taken::Status;
  auto it = entries_.find(id);
  if (it == entries_.end()) return {Status::unknown, {}};
  Entry e = std::move(it->second);
  entries_.erase(it);
  if (e.expires <= now) return {Status::expired, {}};
  return {Status::found, std::move(e.challenge)};
}

std::string random_challenge_id() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace tandem::radius
