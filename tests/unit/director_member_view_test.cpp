#include "director/member_view.hpp"

#include <gtest/gtest.h>

namespace tandem::director {
namespace {

using namespace std::chrono_literals;

std::string record(const std::string& id, const std::string& url, int sessions, int capacity,
                   bool draining = false) {
  return "{\"id\":\"" + id + "\",\"url\":\"" + url + "\",\"sessions\":\"" +
         std::to_string(sessions) + "\",\"capacity\":" + std::to_string(capacity) +
         ",\"draining\":" + (draining ? "true" : "false") + "}";
}

etcd::KeyValue kv(const std::string& id, const std::string& value, etcd::Revision rev) {
  etcd::KeyValue k;
  k.key = "/tandem/member/" + id + "/record";
  k.value = value;
  k.mod_revision = rev;
  return k;
}

etcd::WatchEvent put(const etcd::KeyValue& k) { return {etcd::WatchEvent::Kind::put, k}; }
etcd::WatchEvent del(const std::string& id, etcd::Revision rev) {
  etcd::KeyValue k;
  k.key = "/tandem/member/" + id + "/record";
  k.mod_revision = rev;
  return {etcd::WatchEvent::Kind::remove, k};
}

TEST(MemberKey, OnlyRecordKeysNameAMember) {
  EXPECT_EQ(record_key_id("/tandem/member/m1/record"), "m1");
  EXPECT_FALSE(record_key_id("/tandem/member/m1/active"));
  EXPECT_FALSE(record_key_id("/tandem/member//record"));
  EXPECT_FALSE(record_key_id("/tandem/member/a/b/record"));
  EXPECT_FALSE(record_key_id("/other/m1/record"));
}

TEST(MemberUrl, SplitsAuthorityAndPath) {
  Member m;
  ASSERT_TRUE(parse_member_url("https://VPN-a.example.net:8443/", m).ok());
  EXPECT_EQ(m.authority, "vpn-a.example.net:8443");
  EXPECT_EQ(m.base_path, "");
  ASSERT_TRUE(parse_member_url("https://10.0.0.1", m).ok());
  EXPECT_EQ(m.authority, "10.0.0.1");
  ASSERT_TRUE(parse_member_url("https://[fd00::1]:443/base/", m).ok());
  EXPECT_EQ(m.authority, "[fd00::1]:443");
  EXPECT_EQ(m.base_path, "/base");
}

TEST(MemberUrl, RefusesWhatAClientMustNotBeSentTo) {
  Member m;
  for (const char* bad : {"http://a/", "a.example/", "https:///", "https://a:0/", "https://a:65536/",
                          "https://a:/", "https://a b/", "https://a/?x=1", "https://a/#f",
                          "https://a/\r\nSet-Cookie: x", "https://[zz]/", "https://a:12x/"}) {
    EXPECT_FALSE(parse_member_url(bad, m).ok()) << bad;
  }
}

TEST(MemberRecord, ParsesProto3Json) {
  auto m = parse_member_record("/tandem/member/m1/record",
                               record("m1", "https://m1.test:4443/", 3, 100, true));
  ASSERT_TRUE(m.ok()) << m.error();
  EXPECT_EQ(m->id, "m1");
  EXPECT_EQ(m->sessions, 3u);
  EXPECT_EQ(m->capacity, 100u);
  EXPECT_TRUE(m->draining);
  EXPECT_FALSE(m->degraded);
  // Fields a newer member adds do not make its record unreadable.
  EXPECT_TRUE(parse_member_record("/tandem/member/m1/record",
                                  "{\"id\":\"m1\",\"url\":\"https://m1/\",\"capacity\":1,"
                                  "\"future_field\":7}")
                  .ok());
}

TEST(MemberRecord, RefusesBadRecords) {
  const std::string key = "/tandem/member/m1/record";
  EXPECT_FALSE(parse_member_record(key, "not json").ok());
  EXPECT_FALSE(parse_member_record(key, "{\"id\":\"m1\",\"capacity\":\"x\"}").ok());
  auto other = parse_member_record(key, record("m2", "https://m2/", 0, 10));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().find("differs"), std::string::npos) << other.error();
  EXPECT_FALSE(parse_member_record(key, record("m1", "http://m1/", 0, 10)).ok());
  EXPECT_FALSE(parse_member_record(key, record("m1", "https://m1/", 0, 0)).ok());
}

TEST(MemberView, LoadReplacesAndReportsChanges) {
  MemberView v;
  TimePoint t{Duration{1000}};
  etcd::Range r1{{kv("m1", record("m1", "https://m1/", 0, 10), 5),
                  kv("m2", record("m2", "https://m2/", 0, 10), 6),
                  kv("m3", "garbage", 7)},
                 7};
  auto c = v.load(r1, t);
  EXPECT_EQ(v.members().size(), 2u);
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[2].kind, ViewChange::Kind::refused);
  EXPECT_EQ(v.revision(), 7);

  etcd::Range r2{{kv("m2", record("m2", "https://m2/", 4, 10), 9)}, 9};
  c = v.load(r2, t);
  EXPECT_EQ(v.members().size(), 1u);
  EXPECT_EQ(v.members().at("m2").sessions, 4u);
  // An older read (overtaken by a watch event) changes nothing.
  c = v.load(r1, t);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(v.members().size(), 1u);
}

TEST(MemberView, AppliesEventsSkippingWhatALaterReadShowed) {
  MemberView v;
  TimePoint t{Duration{1000}};
  v.load({{kv("m1", record("m1", "https://m1/", 0, 10), 5)}, 10}, t);
  // Revision 8 is already in the read at 10: its deletion of m1 must not be replayed.
  auto c = v.apply({del("m1", 8)}, t);
  EXPECT_TRUE(c.empty());
  EXPECT_EQ(v.members().count("m1"), 1u);
  // Two events of one transaction share a revision: both apply.
  c = v.apply({put(kv("m2", record("m2", "https://m2/", 0, 10), 11)),
               put(kv("m3", record("m3", "https://m3/", 0, 10), 11))},
              t);
  EXPECT_EQ(c.size(), 2u);
  EXPECT_EQ(v.members().size(), 3u);
  c = v.apply({del("m1", 12)}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, ViewChange::Kind::removed);
  // A record that stops parsing takes its member out of the view (its state is unknown).
  c = v.apply({put(kv("m2", "{broken", 13))}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, ViewChange::Kind::refused);
  EXPECT_EQ(v.members().count("m2"), 0u);
  // Other keys under a member (its arbiter key) are ignored.
  etcd::KeyValue other;
  other.key = "/tandem/member/m3/active";
  other.value = "node-a";
  other.mod_revision = 14;
  EXPECT_TRUE(v.apply({put(other)}, t).empty());
  EXPECT_EQ(v.revision(), 14);
}

TEST(MemberView, UpdatesSayWhetherEligibilityChanged) {
  MemberView v;
  TimePoint t{Duration{1000}};
  v.load({{kv("m1", record("m1", "https://m1/", 0, 10), 5)}, 5}, t);
  // A new session count: an update, but the member's state is the same.
  auto c = v.apply({put(kv("m1", record("m1", "https://m1/", 3, 10), 6))}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, ViewChange::Kind::updated);
  EXPECT_FALSE(c[0].state_changed);
  // Draining: a change of state.
  c = v.apply({put(kv("m1", record("m1", "https://m1/", 3, 10, true), 7))}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].state_changed);
  // The same through a full read (after a watch ended): undrained.
  c = v.load({{kv("m1", record("m1", "https://m1/", 3, 10), 8)}, 8}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].kind, ViewChange::Kind::updated);
  EXPECT_TRUE(c[0].state_changed);
  // The same record republished (a new revision): no change of state.
  c = v.apply({put(kv("m1", record("m1", "https://m1/", 3, 10), 9))}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_FALSE(c[0].state_changed);
  // A new capacity (the node's session limit fell below it, docs/limits.md): a change of state.
  c = v.apply({put(kv("m1", record("m1", "https://m1/", 3, 4), 10))}, t);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_TRUE(c[0].state_changed);
}

TEST(MemberView, SilentAfterTheBoundWithoutContact) {
  MemberView v;
  TimePoint t{Duration{1000}};
  EXPECT_TRUE(v.silent(t, 15s));  // never heard from etcd
  v.load({{}, 1}, t);
  EXPECT_FALSE(v.silent(t + 15s, 15s));
  EXPECT_TRUE(v.silent(t + 15s + 1ms, 15s));
  v.contact(t + 20s);
  EXPECT_FALSE(v.silent(t + 21s, 15s));
}

}  // namespace
}  // namespace tandem::director
