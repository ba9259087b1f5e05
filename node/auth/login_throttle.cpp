#include "node/auth/login_throttle.hpp"

#include <algorithm>

namespace tandem::auth {
namespace {

std::string key(char kind, std::string_view a, std::string_view b = {}) {
  std::string k;
  k.reserve(1 + a.size() + 1 + b.size());
  k += kind;
  k += a;
  if (!b.empty()) {
    k += '\0';  // never inside a user name (refused before it gets here) or an address
    k += b;
  }
  return k;
}

std::string address_key(std::string_view address) { return key('a', address); }
std::string user_key(std::string_view user) { return key('u', user); }
std::string pair_key(std::string_view user, std::string_view address) {
  return key('p', user, address);
}

}  // namespace

ThrottleSettings throttle_settings(const config::Limits& l, std::size_t in_flight_total) {
  auto n = [](int v) { return static_cast<std::size_t>(std::max(v, 0)); };
  ThrottleSettings s;
  s.failures_per_user_address = n(l.login_failures_per_user_address);
  s.failures_per_address = n(l.login_failures_per_address);
  s.failures_per_user = n(l.login_failures_per_user);
  s.backoff_initial = l.login_backoff_initial;
  s.backoff_max = l.login_backoff_max;
  s.forget_after = l.login_forget_after;
  s.max_entries = std::max<std::size_t>(n(l.login_throttle_entries), 1);
  s.in_flight = in_flight_total;
  s.in_flight_per_address = n(l.logins_in_flight_per_address);
  return s;
}

std::string_view to_string(LoginThrottle::Scope scope) {
  switch (scope) {
    case LoginThrottle::Scope::user_address:
      return "user_address";
    case LoginThrottle::Scope::address:
      return "address";
    case LoginThrottle::Scope::user:
      return "user";
  }
  return "?";
}

// ---- Table ----

LoginThrottle::Entry* LoginThrottle::Table::find(std::string_view k) {
  auto it = index_.find(k);
  return it == index_.end() ? nullptr : &it->second->second;
}

LoginThrottle::Entry& LoginThrottle::Table::touch(std::string_view k) {
  auto it = index_.find(k);
  if (it != index_.end()) {
    order_.splice(order_.begin(), order_, it->second);
    return it->second->second;
  }
  order_.emplace_front(std::string(k), Entry{});
  index_.emplace(order_.front().first, order_.begin());  // the view points into the list node
  return order_.front().second;
}

void LoginThrottle::Table::erase(std::string_view k) {
  auto it = index_.find(k);
  if (it == index_.end()) return;
  auto node = it->second;
  index_.erase(it);  // before the node, whose string the key views
  order_.erase(node);
}

// ---- LoginThrottle ----

LoginThrottle::LoginThrottle(const Clock& clock, ThrottleSettings settings)
    : clock_(clock), settings_(settings) {}

void LoginThrottle::configure(ThrottleSettings settings) {
  settings_ = settings;
  const TimePoint now = clock_.now();
  bound(failures_, now, true);
  bound(trusted_, now, false);
}

// Drops entries the table may not keep: past forget_after (failures only; the back of the list
// is the oldest write), then the oldest beyond max_entries.
void LoginThrottle::bound(Table& table, TimePoint now, bool expire) {
  while (expire && table.size() > 0 && now - table.oldest().last >= settings_.forget_after)
    table.drop_oldest();
  while (table.size() > settings_.max_entries) {
    table.drop_oldest();
    ++stats_.evicted;
  }
}

// A key's failure record, or null when it has none or it was forgotten.
LoginThrottle::Entry* LoginThrottle::live_failures(std::string_view k, TimePoint now) {
  Entry* e = failures_.find(k);
  if (e != nullptr && now - e->last >= settings_.forget_after) {
    failures_.erase(k);
    return nullptr;
  }
  return e;
}

// The back-off: after `allowed` failures, initial * 2^(failures - allowed), capped at max,
// counted from the last failure.
Duration LoginThrottle::blocked_for(const Entry& e, std::size_t allowed, TimePoint now) const {
  if (allowed == 0 || e.failures < allowed) return Duration{0};
  Duration wait = settings_.backoff_initial;
  for (std::size_t i = allowed; i < e.failures && wait < settings_.backoff_max; ++i) wait *= 2;
  wait = std::min(wait, settings_.backoff_max);
  const TimePoint until = e.last + wait;
  return until > now ? until - now : Duration{0};
}

LoginThrottle::Admission LoginThrottle::admit(std::string_view user, std::string_view address) {
  const TimePoint now = clock_.now();
  Admission a;
  if (in_flight_ >= settings_.in_flight) {
    ++stats_.busy;
    a.verdict = Verdict::busy;
    return a;
  }
  const std::string akey = address_key(address);
  const std::string pkey = user.empty() ? std::string() : pair_key(user, address);
  auto in_flight_of = [this](const std::string& k) {
    auto it = in_flight_by_key_.find(k);
    return it == in_flight_by_key_.end() ? std::size_t{0} : it->second;
  };
  const std::size_t address_in_flight = in_flight_of(akey);
  if (settings_.in_flight_per_address != 0 &&
      address_in_flight >= settings_.in_flight_per_address) {
    ++stats_.address_busy;
    a.verdict = Verdict::address_busy;
    return a;
  }
  // A key one failure short of its back-off lets one check run at a time: otherwise checks
  // started together would all run before the first failure is recorded.
  auto refuse = [&](Scope scope, const Entry* e, std::size_t allowed, std::size_t running) -> bool {
    if (e == nullptr || allowed == 0) return false;
    Duration wait = blocked_for(*e, allowed, now);
    if (wait.count() == 0 && running > 0 && e->failures + running >= allowed)
      wait = settings_.backoff_initial;
    if (wait.count() == 0) return false;
    ++stats_.throttled[static_cast<std::size_t>(scope)];
    a = Admission{Verdict::throttled, scope, e->failures, wait};
    return true;
  };
  if (refuse(Scope::address, live_failures(akey, now), settings_.failures_per_address,
             address_in_flight))
    return a;
  if (!user.empty()) {
    if (refuse(Scope::user_address, live_failures(pkey, now), settings_.failures_per_user_address,
               in_flight_of(pkey)))
      return a;
    const bool trusted = trusted_.find(std::string_view(pkey).substr(1)) != nullptr;
    if (!trusted &&
        refuse(Scope::user, live_failures(user_key(user), now), settings_.failures_per_user, 0))
      return a;
  }
  ++stats_.allowed;
  ++in_flight_;
  ++in_flight_by_key_[akey];
  if (!pkey.empty()) ++in_flight_by_key_[pkey];
  return a;
}

void LoginThrottle::record_failure(std::string_view k, TimePoint now) {
  live_failures(k, now);  // a forgotten record starts again from zero
  Entry& entry = failures_.touch(k);
  ++entry.failures;
  entry.last = now;
}

void LoginThrottle::finish(std::string_view user, std::string_view address, Outcome outcome) {
  const TimePoint now = clock_.now();
  const std::string akey = address_key(address);
  const std::string pkey = user.empty() ? std::string() : pair_key(user, address);
  auto release = [this](const std::string& k) {
    auto it = in_flight_by_key_.find(k);
    if (it != in_flight_by_key_.end() && --it->second == 0) in_flight_by_key_.erase(it);
  };
  if (in_flight_ > 0) --in_flight_;
  release(akey);
  if (!pkey.empty()) release(pkey);

  if (outcome == Outcome::success && !pkey.empty()) {
    failures_.erase(pkey);
    Entry& t = trusted_.touch(std::string_view(pkey).substr(1));
    t.last = now;
    bound(trusted_, now, false);
  } else if (outcome == Outcome::failure) {
    record_failure(akey, now);
    if (!pkey.empty()) {
      // Each address adds at most its own allowance to the user's count.
      const Entry* pair = live_failures(pkey, now);
      const std::size_t before = pair != nullptr ? pair->failures : 0;
      record_failure(pkey, now);
      if (settings_.failures_per_user_address == 0 || before < settings_.failures_per_user_address)
        record_failure(user_key(user), now);
    }
    bound(failures_, now, true);
  }
}

}  // namespace tandem::auth
