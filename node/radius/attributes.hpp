#pragma once
// What an Access-Accept says about the session it allows, and how that becomes the session's
// settings (docs/radius.md). Pure: the RADIUS client fills Attributes from the reply, the login
// exchange applies the Grant.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/address.hpp"
#include "base/clock.hpp"
#include "base/result.hpp"
#include "node/config/radius_config.hpp"

namespace tandem::radius {

// RFC 2865 attribute numbers the node reads or sends.
enum AttributeType : std::uint8_t {
  kUserName = 1,
  kUserPassword = 2,
  kFramedIpAddress = 8,
  kFilterId = 11,
  kReplyMessage = 18,
  kState = 24,
  kClass = 25,
  kSessionTimeout = 27,
  kIdleTimeout = 28,
  kCallingStationId = 31,
  kNasIdentifier = 32,
};

// The reply's attributes the node uses; the rest are ignored. Strings are the raw bytes.
struct Attributes {
  std::optional<std::uint32_t> framed_ip;        // host byte order
  std::optional<std::string> radius_class;       // the first Class
  std::optional<std::uint32_t> session_timeout;  // seconds
  std::optional<std::uint32_t> idle_timeout;     // seconds
  std::vector<std::string> filter_ids;
  std::string reply_message;  // every Reply-Message, joined with newlines
  std::string state;          // an Access-Challenge's State, sent back with the answer
};

// The session an Access-Accept allows.
struct Grant {
  std::optional<std::uint32_t> ip;  // nullopt: the pool picks one
  std::string radius_class;         // kept for accounting; empty = none
  Duration session_timeout{0};      // 0 = the policy's
  Duration idle_timeout{0};         // 0 = the policy's
  std::string policy;               // the group's policy unless class_policy maps one
  std::string policy_from;          // "group", "Class" or "Filter-Id": for the log
};

// Framed-IP-Address 255.255.255.254 ("the NAS picks") and 255.255.255.255 ("the user may
// pick") both leave the choice to the pool. Any other address must be one the pool can lease
// (not its network, first host or broadcast address); whether it is free is the session
// table's to say. A Class or Filter-Id named in class_policy picks the policy (Class first,
// then each Filter-Id in order). Refused with the reason when the address cannot be used.
Result<Grant> grant_from_accept(const Attributes& a, const config::RadiusSettings& settings,
                                const net::Ipv4Net& pool, const std::string& group_policy);

// Text for a log line: printable ASCII kept, every other byte as \xHH, at most `max` bytes in.
std::string printable(const std::string& bytes, std::size_t max = 64);

}  // namespace tandem::radius
