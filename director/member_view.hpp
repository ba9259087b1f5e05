#pragma once
// The director's picture of the cluster: the member records read from etcd (`/tandem/member/<id>/
// record`, proto3 JSON, each under its publisher's lease) and when etcd last answered. Pure: it
// is fed reads and watch events, and time comes in as a value (docs/director.md, "Member view").
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/result.hpp"
#include "etcd/client.hpp"

namespace tandem::director {

inline constexpr std::string_view kMemberPrefix = "/tandem/member/";
inline constexpr std::string_view kRecordSuffix = "/record";

// A member as the director uses it: validated, its URL split for building redirects.
struct Member {
  std::string id;
  std::string url;        // as published, "https://host[:port]/[path]"
  std::string authority;  // "host" or "host:port", lower-case host, as in the URL
  std::string base_path;  // the URL's path without its trailing '/' ("" for "/")
  std::uint64_t sessions = 0;
  std::uint64_t capacity = 0;
  bool draining = false;
  bool degraded = false;
  std::string version;
  std::string node_id;
  std::int64_t mod_revision = 0;

  bool operator==(const Member&) const = default;
};

// "/tandem/member/m1/record" -> "m1"; nullopt for any other key under the prefix (the member's
// other keys, such as its arbiter key, are not the director's business).
std::optional<std::string> record_key_id(std::string_view key);

// A https URL a client may be sent to: scheme https, a host name or IPv4/[IPv6] address, an
// optional port 1-65535, an optional path of printable characters without '?' or '#'. Fills
// authority and base_path.
Result<void> parse_member_url(std::string_view url, Member& out);

// One record: the key names the member, the value is the MemberRecord as proto3 JSON. Refused
// (with the reason) when the JSON does not parse, an id is missing or differs from the key's,
// the URL is not one a client may be sent to, or capacity is 0.
Result<Member> parse_member_record(std::string_view key, std::string_view json);

// What changed in the view, for the log.
struct ViewChange {
  enum class Kind { added, updated, removed, refused };
  Kind kind = Kind::added;
  std::string key;
  std::string id;      // empty when the key names none
  std::string detail;  // refused: why; removed by a load: "absent from a full read"
  // updated: whether the member's eligibility changed (draining, degraded, its URL or its
  // capacity), which the operator wants in the log; a new session count alone does not.
  bool state_changed = false;
};

// Whether `after` differs from `before` in what decides where clients may go.
bool state_differs(const Member& before, const Member& after);

class MemberView {
 public:
  // A full read (get_prefix): the view becomes exactly its records. A read older than what the
  // view already reflects (a watch event overtook it) is ignored, but still counts as contact.
  std::vector<ViewChange> load(const etcd::Range& range, TimePoint now);
  // A batch of watch events, in order. Events at or below the revision the view reflects
  // (already seen through a later full read) are skipped.
  std::vector<ViewChange> apply(const std::vector<etcd::WatchEvent>& events, TimePoint now);
  // etcd answered (a probe or a watch event) at `now`.
  void contact(TimePoint now) { last_contact_ = now; }

  const std::map<std::string, Member>& members() const { return members_; }  // by id
  etcd::Revision revision() const { return revision_; }
  // Never in contact (start-up) or the last contact.
  std::optional<TimePoint> last_contact() const { return last_contact_; }
  // The view is trusted while etcd was heard from within `silent_after`.
  bool silent(TimePoint now, Duration silent_after) const {
    return !last_contact_ || now - *last_contact_ > silent_after;
  }

 private:
  std::optional<ViewChange> put(const etcd::KeyValue& kv);
  std::optional<ViewChange> remove(const std::string& key);

  std::map<std::string, Member> members_;  // by member id (= the id in the key)
  etcd::Revision revision_ = 0;
  std::optional<TimePoint> last_contact_;
};

const char* to_string(ViewChange::Kind kind);

}  // namespace tandem::director
