#pragma once
// RADIUS accounting (RFC 2866/2869) as pure functions: the record a session event makes, the
// attributes a record is sent as, the terminate cause of an end reason, and the interim and
// retry schedule. No I/O (docs/radius-accounting.md).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "node/session/session.hpp"
#include "proto/accounting.pb.h"

namespace tandem::radius {

// RFC 2866 Acct-Terminate-Cause values we use.
enum class TerminateCause : std::uint32_t {
  user_request = 1,
  lost_carrier = 2,
  lost_service = 3,
  idle_timeout = 4,
  session_timeout = 5,
  admin_reset = 6,
  nas_error = 9,
  nas_request = 10,
  port_preempted = 12,
  service_unavailable = 15,
};
TerminateCause terminate_cause(session::EndReason reason);

// The counters as accounting reports them: input = from the client (the headend's rx).
struct AcctCounters {
  std::uint64_t input_octets = 0, output_octets = 0;
  std::uint64_t input_packets = 0, output_packets = 0;
  bool operator==(const AcctCounters&) const = default;
};
AcctCounters acct_counters(const session::Counters& c);
// Field by field: what a record reports is never below what an earlier one reported.
AcctCounters at_least(const AcctCounters& current, const AcctCounters& reported);

// What a record needs from the session; `reported` is the session's floor (see at_least).
struct AcctEvent {
  proto::AccountingRecord::Status status = proto::AccountingRecord::START;
  long long now_unix = 0;
  std::string nas_identifier;
  std::optional<session::EndReason> end_reason;  // Stop only
  std::string radius_class;  // the Access-Accept's Class, when the session has one
};
proto::AccountingRecord make_record(const session::Session& s, const AcctCounters& reported,
                                    const AcctEvent& event);

// A RADIUS attribute as sent: its type and an integer or IPv4 address (host order), or text.
struct Attribute {
  int type = 0;
  bool is_text = false;
  std::uint32_t number = 0;
  std::string text;
  static Attribute integer(int type, std::uint32_t v) { return {type, false, v, {}}; }
  static Attribute string(int type, std::string v) { return {type, true, 0, std::move(v)}; }
  bool operator==(const Attribute&) const = default;
};
namespace attr {
inline constexpr int kUserName = 1, kFramedIpAddress = 8, kClass = 25, kCallingStationId = 31,
                     kNasIdentifier = 32, kAcctStatusType = 40, kAcctDelayTime = 41,
                     kAcctInputOctets = 42, kAcctOutputOctets = 43, kAcctSessionId = 44,
                     kAcctSessionTime = 46, kAcctInputPackets = 47, kAcctOutputPackets = 48,
                     kAcctTerminateCause = 49, kAcctInputGigawords = 52, kAcctOutputGigawords = 53,
                     kEventTimestamp = 55;
}
// The attributes of `r` sent at `now_unix`: Acct-Delay-Time is how long it waited in the queue.
// Octet counts are 64-bit: the low 32 bits in Acct-*-Octets, the high ones in *-Gigawords.
std::vector<Attribute> attributes(const proto::AccountingRecord& r, long long now_unix);

// Interim-Updates (docs/radius-accounting.md): one `interval` after the Start (or after a
// session is taken over), then every `interval`. 0 = off.
inline constexpr Duration kMinInterimInterval = std::chrono::seconds(1);
std::optional<TimePoint> next_interim(TimePoint from, Duration interval);

// Resending the queue's head after a failed try: 1 s, 2 s, 4 s … at most 60 s.
Duration retry_delay(unsigned failures);

const char* to_string(proto::AccountingRecord::Status s);

}  // namespace tandem::radius
