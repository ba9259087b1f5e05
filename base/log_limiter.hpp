#pragma once
// Keeps a flood of one kind of event from flooding the log: a burst of lines, then one line per
// interval; the lines skipped meanwhile are counted and reported with the next one written.
// Pure (time is passed in); one limiter per kind of event.
#include <cstddef>
#include <cstdint>

#include "base/clock.hpp"

namespace tandem::log {

class LogLimiter {
 public:
  LogLimiter(std::size_t burst, Duration interval)
      : burst_(burst), interval_(interval), tokens_(burst) {}

  // True when a line may be written at `now`; `suppressed` is then how many were skipped since
  // the last line written (0 otherwise).
  bool allow(TimePoint now, std::uint64_t& suppressed) {
    refill(now);
    suppressed = 0;
    if (tokens_ == 0) {
      ++skipped_;
      return false;
    }
    --tokens_;
    suppressed = skipped_;
    skipped_ = 0;
    return true;
  }

 private:
  void refill(TimePoint now) {
    if (!started_) {
      started_ = true;
      last_ = now;
      return;
    }
    if (interval_.count() <= 0 || now <= last_) return;
    const auto periods = static_cast<std::size_t>((now - last_) / interval_);
    if (periods == 0) return;
    tokens_ = periods >= burst_ - tokens_ ? burst_ : tokens_ + periods;
    last_ += interval_ * static_cast<Duration::rep>(periods);
  }

  std::size_t burst_;
  Duration interval_;
  std::size_t tokens_;
  std::uint64_t skipped_ = 0;
  TimePoint last_{};
  bool started_ = false;
};

}  // namespace tandem::log
