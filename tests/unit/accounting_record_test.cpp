// RADIUS accounting records, attributes and schedules: pure, on a fake clock.
#include "node/radius/accounting_record.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace tandem::radius {
namespace {

using namespace std::chrono_literals;
using proto::AccountingRecord;

session::Session a_session() {
  session::Session s;
  s.index = 7;
  s.user = "alice";
  s.ip = 0x0a0a0005;  // 10.10.0.5
  s.login_time_unix = 1'000'000;
  s.public_ip = "192.0.2.9";
  s.acct_session_id = "0123456789ABCDEF";
  return s;
}

const Attribute* find(const std::vector<Attribute>& a, int type) {
  auto it = std::find_if(a.begin(), a.end(), [type](const Attribute& x) { return x.type == type; });
  return it == a.end() ? nullptr : &*it;
}
std::string text(const std::vector<Attribute>& a, int type) {
  const Attribute* x = find(a, type);
  EXPECT_TRUE(x && x->is_text) << "attribute " << type;
  return x ? x->text : "";
}
std::uint32_t number(const std::vector<Attribute>& a, int type) {
  const Attribute* x = find(a, type);
  EXPECT_NE(x, nullptr) << "attribute " << type;
  EXPECT_TRUE(!x || !x->is_text) << "attribute " << type;
  return x ? x->number : 0;
}

TEST(AccountingRecord, StartCarriesIdentityButNoCounters) {
  auto s = a_session();
  s.counters.bytes_rx = 100;
  auto r = make_record(s, {}, {AccountingRecord::START, 1'000'000, "nas-a", {}, "gold"});
  auto a = attributes(r, 1'000'000);
  EXPECT_EQ(number(a, attr::kAcctStatusType), 1u);
  EXPECT_EQ(text(a, attr::kAcctSessionId), "0123456789ABCDEF");
  EXPECT_EQ(text(a, attr::kUserName), "alice");
  EXPECT_EQ(number(a, attr::kFramedIpAddress), 0x0a0a0005u);
  EXPECT_EQ(text(a, attr::kClass), "gold");
  EXPECT_EQ(text(a, attr::kNasIdentifier), "nas-a");
  EXPECT_EQ(number(a, attr::kEventTimestamp), 1'000'000u);
  EXPECT_EQ(number(a, attr::kAcctDelayTime), 0u);
  EXPECT_EQ(find(a, attr::kAcctInputOctets), nullptr);
  EXPECT_EQ(find(a, attr::kAcctTerminateCause), nullptr);
}

TEST(AccountingRecord, NoClassAttributeWithoutClass) {
  auto r = make_record(a_session(), {}, {AccountingRecord::START, 1'000'000, "nas-a", {}, ""});
  EXPECT_EQ(find(attributes(r, 1'000'000), attr::kClass), nullptr);
}

TEST(AccountingRecord, InterimSplitsOctetsIntoGigawords) {
  auto s = a_session();
  s.counters.bytes_rx = (5ull << 32) + 17;  // from the client: input
  s.counters.bytes_tx = 4'000'000'000ull;   // below 2^32: no gigaword
  s.counters.packets_rx = 11;
  s.counters.packets_tx = 12;
  auto r = make_record(s, {}, {AccountingRecord::INTERIM_UPDATE, 1'000'090, "n", {}, ""});
  auto a = attributes(r, 1'000'090);
  EXPECT_EQ(number(a, attr::kAcctStatusType), 3u);
  EXPECT_EQ(number(a, attr::kAcctInputOctets), 17u);
  EXPECT_EQ(number(a, attr::kAcctInputGigawords), 5u);
  EXPECT_EQ(number(a, attr::kAcctOutputOctets), 4'000'000'000u);
  EXPECT_EQ(number(a, attr::kAcctOutputGigawords), 0u);
  EXPECT_EQ(number(a, attr::kAcctInputPackets), 11u);
  EXPECT_EQ(number(a, attr::kAcctOutputPackets), 12u);
  EXPECT_EQ(number(a, attr::kAcctSessionTime), 90u);
}

TEST(AccountingRecord, PacketCountsSaturateAt32Bits) {
  auto s = a_session();
  s.counters.packets_rx = (1ull << 33);
  auto r = make_record(s, {}, {AccountingRecord::INTERIM_UPDATE, 1'000'001, "n", {}, ""});
  EXPECT_EQ(number(attributes(r, 1'000'001), attr::kAcctInputPackets), 0xffffffffu);
}

TEST(AccountingRecord, CountersNeverBelowWhatWasReported) {
  // A new active whose copy of the counters lags the last Interim the old active sent.
  auto s = a_session();
  s.counters.bytes_rx = 900;
  s.counters.bytes_tx = 5000;
  s.counters.packets_rx = 9;
  s.counters.packets_tx = 50;
  AcctCounters reported{1000, 4000, 10, 40};
  auto r = make_record(s, reported, {AccountingRecord::INTERIM_UPDATE, 1'000'010, "n", {}, ""});
  EXPECT_EQ(r.input_octets(), 1000u);
  EXPECT_EQ(r.output_octets(), 5000u);
  EXPECT_EQ(r.input_packets(), 10u);
  EXPECT_EQ(r.output_packets(), 50u);
}

TEST(AccountingRecord, StopCarriesTheTerminateCause) {
  auto s = a_session();
  auto r = make_record(
      s, {}, {AccountingRecord::STOP, 1'000'100, "n", session::EndReason::client_logout, ""});
  auto a = attributes(r, 1'000'100);
  EXPECT_EQ(number(a, attr::kAcctStatusType), 2u);
  EXPECT_EQ(number(a, attr::kAcctTerminateCause), 1u);  // User-Request
}

TEST(AccountingRecord, DelayTimeIsTimeSpentQueued) {
  auto r = make_record(a_session(), {}, {AccountingRecord::START, 1'000'000, "n", {}, ""});
  auto a = attributes(r, 1'000'042);
  EXPECT_EQ(number(a, attr::kEventTimestamp), 1'000'000u);  // when it happened
  EXPECT_EQ(number(a, attr::kAcctDelayTime), 42u);
}

TEST(AccountingRecord, TerminateCauses) {
  using R = session::EndReason;
  EXPECT_EQ(terminate_cause(R::client_logout), TerminateCause::user_request);
  EXPECT_EQ(terminate_cause(R::idle_timeout), TerminateCause::idle_timeout);
  EXPECT_EQ(terminate_cause(R::session_timeout), TerminateCause::session_timeout);
  EXPECT_EQ(terminate_cause(R::admin_logoff), TerminateCause::admin_reset);
  EXPECT_EQ(terminate_cause(R::disconnected_timeout), TerminateCause::lost_carrier);
  EXPECT_EQ(terminate_cause(R::dpd), TerminateCause::lost_carrier);
  EXPECT_EQ(terminate_cause(R::simultaneous_login), TerminateCause::port_preempted);
  EXPECT_EQ(terminate_cause(R::user_disabled), TerminateCause::admin_reset);
  // Every reason maps to a defined RFC 2866 value.
  for (auto r : session::kAllEndReasons) {
    auto v = static_cast<std::uint32_t>(terminate_cause(r));
    EXPECT_GE(v, 1u);
    EXPECT_LE(v, 18u);
  }
}

TEST(AccountingSchedule, InterimEveryIntervalOffAtZero) {
  FakeClock clock;
  const TimePoint t0 = clock.now();
  EXPECT_EQ(next_interim(t0, 0s), std::nullopt);
  EXPECT_EQ(next_interim(t0, 300s), t0 + 300s);
  EXPECT_EQ(next_interim(t0, 2s), t0 + 2s);
  // Below the minimum, the minimum.
  EXPECT_EQ(next_interim(t0, 100ms), t0 + kMinInterimInterval);
}

TEST(AccountingSchedule, RetryBacksOffToAMinute) {
  EXPECT_EQ(retry_delay(0), 0ms);
  EXPECT_EQ(retry_delay(1), 1s);
  EXPECT_EQ(retry_delay(2), 2s);
  EXPECT_EQ(retry_delay(3), 4s);
  EXPECT_EQ(retry_delay(7), 60s);
  EXPECT_EQ(retry_delay(1000), 60s);
}

}  // namespace
}  // namespace tandem::radius
