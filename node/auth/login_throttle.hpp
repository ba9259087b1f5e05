#pragma once
// Login throttling: exponential back-off after repeated failed logins, and the caps on password
// checks in flight. Pure: the front door asks admit() before it runs the password hash and
// reports the outcome afterwards; time comes from the injected clock (docs/limits.md).
//
// Three keys, each with its own allowance of failures before the back-off starts:
//  - (user, address): one guesser at one user. A success from that address clears it.
//  - address: one address trying many names (password spraying, a flood of made-up names).
//  - user: many addresses trying one user. Each address adds at most the (user, address)
//    allowance to it, so one address alone cannot trip it, and it is not applied to an address
//    this user has logged in from: failures from X never lock the user out from their usual Y.
// A name that is no user counts exactly like a real one (the client must not tell them apart).
// A refused attempt counts for nothing and creates no state. Memory is bounded: two tables
// (failures; where users logged in from) of at most max_entries each, oldest evicted first, and
// in-flight counts that exist only while a check runs (at most `in_flight` of them).
#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "base/clock.hpp"
#include "node/config/config.hpp"

namespace tandem::auth {

struct ThrottleSettings {
  std::size_t failures_per_user_address = 5;  // 0: no back-off on this key
  std::size_t failures_per_address = 20;
  std::size_t failures_per_user = 50;
  Duration backoff_initial = std::chrono::seconds(2);
  Duration backoff_max = std::chrono::minutes(5);
  Duration forget_after = std::chrono::hours(1);
  std::size_t max_entries = 20000;        // per table
  std::size_t in_flight = 256;            // password checks running, in total
  std::size_t in_flight_per_address = 4;  // 0: no per-address cap
};

ThrottleSettings throttle_settings(const config::Limits& limits, std::size_t in_flight_total);

class LoginThrottle {
 public:
  enum class Verdict { allowed, busy, address_busy, throttled };
  enum class Scope { user_address = 0, address = 1, user = 2 };
  struct Admission {
    Verdict verdict = Verdict::allowed;
    Scope scope = Scope::user_address;  // which key throttled
    std::size_t failures = 0;           // that key's failures
    Duration retry_after{0};            // until that key lets an attempt through
  };
  enum class Outcome { success, failure, abandoned };

  struct Stats {
    std::uint64_t allowed = 0;
    std::array<std::uint64_t, 3> throttled{};  // by Scope
    std::uint64_t busy = 0;                    // total in-flight cap
    std::uint64_t address_busy = 0;            // per-address in-flight cap
    std::uint64_t evicted = 0;                 // entries dropped to stay within max_entries
  };

  LoginThrottle(const Clock& clock, ThrottleSettings settings);
  LoginThrottle(const LoginThrottle&) = delete;
  LoginThrottle& operator=(const LoginThrottle&) = delete;

  // New settings (a reload); tables shrink to the new bound at once.
  void configure(ThrottleSettings settings);

  // Before the password check. `user` empty: a name no user can have, only the address counts.
  Admission admit(std::string_view user, std::string_view address);
  // Once after every allowed admit(), with the same user and address.
  void finish(std::string_view user, std::string_view address, Outcome outcome);

  std::size_t failure_entries() const { return failures_.size(); }
  std::size_t trusted_entries() const { return trusted_.size(); }
  std::size_t in_flight() const { return in_flight_; }
  const Stats& stats() const { return stats_; }
  const ThrottleSettings& settings() const { return settings_; }

 private:
  struct Entry {
    std::size_t failures = 0;
    TimePoint last;  // last failure (failures table) or last success (trusted table)
  };
  // Keys in most-recently-written order; the back is the oldest write, evicted first.
  class Table {
   public:
    Entry* find(std::string_view key);
    Entry& touch(std::string_view key);  // finds or creates, and moves to the front
    void erase(std::string_view key);
    void drop_oldest() { erase(order_.back().first); }
    const Entry& oldest() const { return order_.back().second; }
    std::size_t size() const { return order_.size(); }

   private:
    std::list<std::pair<std::string, Entry>> order_;
    std::unordered_map<std::string_view, std::list<std::pair<std::string, Entry>>::iterator> index_;
  };

  Entry* live_failures(std::string_view key, TimePoint now);
  Duration blocked_for(const Entry& e, std::size_t allowed, TimePoint now) const;
  void record_failure(std::string_view key, TimePoint now);
  void bound(Table& table, TimePoint now, bool expire);

  const Clock& clock_;
  ThrottleSettings settings_;
  Table failures_;  // keys: "a" address, "u" user, "p" user NUL address
  Table trusted_;   // keys: user NUL address, for each successful login
  std::unordered_map<std::string, std::size_t> in_flight_by_key_;  // "a"/"p" keys, while checked
  std::size_t in_flight_ = 0;
  Stats stats_;
};

// One admitted login: reports its outcome to the throttle exactly once (abandoned if dropped).
class LoginAttempt {
 public:
  LoginAttempt(LoginThrottle& throttle, std::string user, std::string address)
      : throttle_(&throttle), user_(std::move(user)), address_(std::move(address)) {}
  LoginAttempt(LoginAttempt&& other) noexcept
      : throttle_(std::exchange(other.throttle_, nullptr)),
        user_(std::move(other.user_)),
        address_(std::move(other.address_)) {}
  LoginAttempt& operator=(LoginAttempt&&) = delete;
  ~LoginAttempt() { finish(LoginThrottle::Outcome::abandoned); }

  void finish(LoginThrottle::Outcome outcome) {
    if (throttle_ != nullptr) std::exchange(throttle_, nullptr)->finish(user_, address_, outcome);
  }

 private:
  LoginThrottle* throttle_;
  std::string user_;
  std::string address_;
};

std::string_view to_string(LoginThrottle::Scope scope);

}  // namespace tandem::auth
