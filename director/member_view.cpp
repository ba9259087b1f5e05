#include "director/member_view.hpp"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <string>
#include <utility>

#include "proto/member.pb.h"

namespace tandem::director {
namespace {

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool is_ipv6_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

// Printable ASCII that may stand in a URL path as it is copied into a Location header.
bool is_path_char(char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// Record text ends up in log lines: printable and short.
std::string excerpt(std::string_view s, std::size_t max = 80) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

const char* to_string(ViewChange::Kind kind) {
  switch (kind) {
    case ViewChange::Kind::added:
      return "added";
    case ViewChange::Kind::updated:
      return "updated";
    case ViewChange::Kind::removed:
      return "removed";
    case ViewChange::Kind::refused:
      return "refused";
  }
  return "?";
}

std::optional<std::string> record_key_id(std::string_view key) {
  if (!key.starts_with(kMemberPrefix)) return std::nullopt;
  key.remove_prefix(kMemberPrefix.size());
  if (!key.ends_with(kRecordSuffix)) return std::nullopt;
  key.remove_suffix(kRecordSuffix.size());
  if (key.empty() || key.find('/') != std::string_view::npos) return std::nullopt;
  return std::string(key);
}

Result<void> parse_member_url(std::string_view url, Member& out) {
  constexpr std::string_view kScheme = "https://";
  if (url.size() < kScheme.size() || lower(url.substr(0, kScheme.size())) != kScheme)
    return fail(Errc::invalid, "url " + excerpt(url) + " is not https://");
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
  if (authority.empty()) return fail(Errc::invalid, "url " + excerpt(url) + " has no host");

  std::string_view host = authority, port;
  if (authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos || close == 1 ||
        !std::all_of(authority.begin() + 1, authority.begin() + close, is_ipv6_char))
      return fail(Errc::invalid, "url " + excerpt(url) + " has a malformed IPv6 address");
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail(Errc::invalid, "url " + excerpt(url) + ": bad port");
      port = after.substr(1);
    } else {
      port = {};
    }
    if (!after.empty() && port.empty())
      return fail(Errc::invalid, "url " + excerpt(url) + ": empty port");
  } else {
    const std::size_t colon = authority.find(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return fail(Errc::invalid, "url " + excerpt(url) + ": empty port");
    }
    if (host.empty() || host.size() > 253 || !std::all_of(host.begin(), host.end(), is_host_char))
      return fail(Errc::invalid, "url " + excerpt(url) + " has a malformed host");
  }
  if (!port.empty()) {
    if (port.size() > 5 || port.front() == '0' ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(std::string(port)) > 65535)
      return fail(Errc::invalid, "url " + excerpt(url) + ": port is not 1-65535");
  }
  if (!std::all_of(path.begin(), path.end(), is_path_char))
    return fail(Errc::invalid,
                "url " + excerpt(url) + ": path has a query, a fragment or a non-printable byte");

  out.url = std::string(url);
  out.authority = lower(host) + (port.empty() ? "" : ":" + std::string(port));
  std::string_view base = path;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  out.base_path = std::string(base);
  return {};
}

Result<Member> parse_member_record(std::string_view key, std::string_view json) {
  const auto key_id = record_key_id(key);
  if (!key_id) return fail(Errc::invalid, "not a member record key");
  proto::MemberRecord record;
  google::protobuf::util::JsonParseOptions options;
  // A newer member may publish fields this director does not know: they do not change placement.
  options.ignore_unknown_fields = true;
  const auto status = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &record, options);
  if (!status.ok())
    return fail(Errc::corrupt, "record is not a MemberRecord in JSON: " +
                                   excerpt(std::string(status.message())));
  if (record.id() != *key_id)
    return fail(Errc::invalid,
                "record id \"" + excerpt(record.id()) + "\" differs from the key's \"" + *key_id + "\"");
  if (record.capacity() == 0) return fail(Errc::invalid, "capacity is 0");
  Member m;
  m.id = record.id();
  if (auto r = parse_member_url(record.url(), m); !r) return r.failure();
  m.sessions = record.sessions();
  m.capacity = record.capacity();
  m.draining = record.draining();
  m.degraded = record.degraded();
  m.version = record.version();
  m.node_id = record.node_id();
  return m;
}

bool state_differs(const Member& before, const Member& after) {
  return before.draining != after.draining || before.degraded != after.degraded ||
         before.url != after.url || before.capacity != after.capacity;
}

std::optional<ViewChange> MemberView::put(const etcd::KeyValue& kv) {
  const auto id = record_key_id(kv.key);
  if (!id) return std::nullopt;  // another key of a member: not ours to read
  auto parsed = parse_member_record(kv.key, kv.value);
  if (!parsed) {
    // The member's last good record no longer says what it is doing (it may be draining now):
    // it leaves the view until it publishes a record that parses.
    members_.erase(*id);
    return ViewChange{ViewChange::Kind::refused, kv.key, *id, parsed.error()};
  }
  parsed->mod_revision = kv.mod_revision;
  auto [it, inserted] = members_.try_emplace(*id, *parsed);
  if (inserted) return ViewChange{ViewChange::Kind::added, kv.key, *id, parsed->url};
  const bool same = it->second == *parsed;
  const bool state_changed = state_differs(it->second, *parsed);
  it->second = std::move(*parsed);
  if (same) return std::nullopt;
  return ViewChange{ViewChange::Kind::updated, kv.key, *id, it->second.url, state_changed};
}

std::optional<ViewChange> MemberView::remove(const std::string& key) {
  const auto id = record_key_id(key);
  if (!id || members_.erase(*id) == 0) return std::nullopt;
  return ViewChange{ViewChange::Kind::removed, key, *id, {}};
}

std::vector<ViewChange> MemberView::load(const etcd::Range& range, TimePoint now) {
  contact(now);
  std::vector<ViewChange> changes;
  if (range.revision < revision_) return changes;
  std::map<std::string, Member> before;
  before.swap(members_);
  for (const auto& kv : range.kvs) {
    const auto id = record_key_id(kv.key);
    if (!id) continue;
    auto parsed = parse_member_record(kv.key, kv.value);
    if (!parsed) {
      changes.push_back({ViewChange::Kind::refused, kv.key, *id, parsed.error()});
      continue;
    }
    parsed->mod_revision = kv.mod_revision;
    auto old = before.find(*id);
    if (old == before.end()) {
      changes.push_back({ViewChange::Kind::added, kv.key, *id, parsed->url});
    } else if (!(old->second == *parsed)) {
      changes.push_back({ViewChange::Kind::updated, kv.key, *id, parsed->url,
                         state_differs(old->second, *parsed)});
    }
    members_[*id] = std::move(*parsed);
  }
  for (const auto& [id, m] : before) {
    if (members_.count(id) == 0)
      changes.push_back({ViewChange::Kind::removed,
                         std::string(kMemberPrefix) + id + std::string(kRecordSuffix), id,
                         "absent from a full read"});
  }
  revision_ = range.revision;
  return changes;
}

std::vector<ViewChange> MemberView::apply(const std::vector<etcd::WatchEvent>& events,
                                          TimePoint now) {
  contact(now);
  std::vector<ViewChange> changes;
  // Events of one revision (one transaction) arrive together: compare with the revision the
  // view reflected before this batch, so that the second event of a transaction is not skipped.
  const etcd::Revision seen = revision_;
  for (const auto& e : events) {
    if (e.kv.mod_revision <= seen) continue;
    auto change = e.kind == etcd::WatchEvent::Kind::put ? put(e.kv) : remove(e.kv.key);
    if (change) changes.push_back(std::move(*change));
    revision_ = std::max(revision_, e.kv.mod_revision);
  }
  return changes;
}

}  // namespace tandem::director
