#pragma once
// What tandemctl prints: admin API replies turned into text for people (laid out like the
// reference headend's `show vpn-sessiondb`, so operators find fields where they expect them)
// and into JSON for scripts. Pure functions of the reply; unit-tested.
#include <string>

#include "base/result.hpp"
#include "proto/admin.pb.h"

namespace google::protobuf {
class Message;
}

namespace tandem::admin {

// "0h:05m:12s"; hours are not folded into days, as on the reference. Negative counts as 0.
std::string format_duration(long long seconds);

// "14:02:11 UTC Fri Nov 27 2026" (always UTC, independent of the locale); "-" for 0.
std::string format_login_time(long long unix_seconds);

// One row per session under a heading line; "no sessions" when there are none.
std::string format_sessions_brief(const proto::ShowSessionsReply& reply);

// Every field of every session and of each of its tunnels (S2), one block per session.
std::string format_sessions_detail(const proto::ShowSessionsReply& reply);

std::string format_status(const proto::StatusReply& reply);

// What tandemctl drain / undrain did, in one line: whether a director will see it, how many
// sessions stay, and that a restart ends it.
std::string format_drain(const proto::DrainReply& reply);

// "logged off 2 session(s): 3, 7"
std::string format_logoff(const proto::LogoffReply& reply);

// The reply as JSON with the .proto field names and every field present, zeros included: the
// stable schema of docs/admin-json.md. One line, ending in a newline.
Result<std::string> to_json(const google::protobuf::Message& message);

}  // namespace tandem::admin
