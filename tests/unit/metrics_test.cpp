#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "node/metrics/registry.hpp"

namespace tandem::metrics {
namespace {

using ::testing::HasSubstr;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Sample lines as "name{labels}" -> value text.
std::map<std::string, std::string> samples_of(const std::string& text) {
  std::map<std::string, std::string> out;
  for (const auto& line : lines_of(text)) {
    if (line.empty() || line[0] == '#') continue;
    auto space = line.rfind(' ');
    out[line.substr(0, space)] = line.substr(space + 1);
  }
  return out;
}

TEST(MetricsRender, EveryFamilyHasHelpThenTypeAndWellFormedSamples) {
  Snapshot snapshot;
  snapshot.certificate_expiry = {{"tls", 86400}, {"peer", -5}};
  const std::string text = render(snapshot);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ('\n', text.back());
  // Names as Prometheus allows them, lower case (digits too: tandem_pool6_addresses_used).
  const std::regex help(R"(# HELP (tandem_[a-z0-9_]+) \S.*)");
  const std::regex type(R"(# TYPE (tandem_[a-z0-9_]+) (counter|gauge))");
  // name, optional {k="v",...}, one space, a number.
  const std::regex sample(
      R"((tandem_[a-z0-9_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9]+(\.[0-9]+)?)");
  std::string family;
  std::smatch m;
  auto lines = lines_of(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (std::regex_match(line, m, help)) {
      family = m[1];
      ASSERT_LT(i + 1, lines.size());
      ASSERT_TRUE(std::regex_match(lines[i + 1], m, type)) << lines[i + 1];
      EXPECT_EQ(family, m[1]);
      if (m[2] == "counter") {
        EXPECT_TRUE(family.ends_with("_total")) << family;
      }
      ++i;
      continue;
    }
    ASSERT_TRUE(std::regex_match(line, m, sample)) << "line " << i << ": " << line;
    EXPECT_EQ(family, m[1]) << "sample outside its family: " << line;
  }
}

TEST(MetricsRender, EveryMetricIsPresentEvenWhenZero) {
  Snapshot s;
  s.version = "0.1.0";
  s.node = "hub-a";
  auto got = samples_of(render(s));
  const std::vector<std::string> zero = {
      R"(tandem_sessions{state="active"})",
      R"(tandem_sessions{state="waiting_to_resume"})",
      R"(tandem_tunnels{kind="ssl"})",
      R"(tandem_tunnels{kind="dtls"})",
      R"(tandem_downstream_sessions{carrier="dtls"})",
      R"(tandem_downstream_sessions{carrier="ssl"})",
      R"(tandem_downstream_carrier_switches_total{cause="dtls_detached"})",
      R"(tandem_downstream_carrier_switches_total{cause="data_over_ssl"})",
      R"(tandem_downstream_carrier_switches_total{cause="data_over_dtls"})",
      R"(tandem_downstream_carrier_switches_total{cause="dtls_send_failed"})",
      R"(tandem_bytes_total{direction="tx"})",
      R"(tandem_bytes_total{direction="rx"})",
      R"(tandem_packets_total{direction="tx"})",
      R"(tandem_packets_total{direction="rx"})",
      R"(tandem_drops_total{direction="tx"})",
      R"(tandem_drops_total{direction="rx"})",
      R"(tandem_logins_total{result="ok"})",
      R"(tandem_logins_total{result="failed"})",
      R"(tandem_logins_total{result="refused"})",
      R"(tandem_logins_total{result="throttled"})",
      "tandem_resumes_total",
      "tandem_front_connections",
      "tandem_tls_handshakes",
      R"(tandem_connections_refused_total{reason="connections"})",
      R"(tandem_connections_refused_total{reason="connections_per_address"})",
      R"(tandem_connections_refused_total{reason="tls_handshakes"})",
      R"(tandem_connections_refused_total{reason="tls_handshakes_per_address"})",
      R"(tandem_connections_refused_total{reason="descriptors"})",
      "tandem_login_deadline_expired_total",
      "tandem_logins_in_flight",
      R"(tandem_logins_throttled_total{scope="user_address"})",
      R"(tandem_logins_throttled_total{scope="address"})",
      R"(tandem_logins_throttled_total{scope="user"})",
      R"(tandem_login_throttle_entries{table="failures"})",
      R"(tandem_login_throttle_entries{table="trusted"})",
      "tandem_login_throttle_evictions_total",
      "tandem_dtls_handshakes",
      R"(tandem_dtls_handshakes_refused_total{reason="dtls_handshakes"})",
      R"(tandem_dtls_handshakes_refused_total{reason="dtls_handshakes_per_session"})",
      "tandem_control_frames_dropped_total",
      R"(tandem_dpd_teardowns_total{kind="ssl"})",
      R"(tandem_dpd_teardowns_total{kind="dtls"})",
      R"(tandem_timer_expiries_total{kind="idle"})",
      R"(tandem_timer_expiries_total{kind="dtls_idle"})",
      R"(tandem_timer_expiries_total{kind="disconnected"})",
      R"(tandem_timer_expiries_total{kind="session"})",
      "tandem_input_refused_total",
      R"(tandem_profile_downloads_total{result="served"})",
      R"(tandem_profile_downloads_total{result="refused"})",
      "tandem_replication_lag_sequence",
      "tandem_replication_lag_seconds",
      R"(tandem_role{role="active"})",
      R"(tandem_role{role="standby"})",
      "tandem_epoch",
      "tandem_failovers_total",
      "tandem_degraded",
      "tandem_draining",
      "tandem_arbiter_holding_key",
      "tandem_arbiter_reachable",
      "tandem_arbiter_serving_left_seconds",
      "tandem_session_limit",
      R"(tandem_pool_addresses{state="used"})",
      R"(tandem_pool_addresses{state="free"})",
      "tandem_pool6_addresses_used",
      "tandem_process_start_time_seconds",
  };
  for (const auto& name : zero) {
    ASSERT_TRUE(got.count(name)) << name << " missing";
    EXPECT_EQ("0", got[name]) << name;
  }
  for (auto reason : session::kAllEndReasons) {
    std::string name =
        std::string(R"(tandem_session_ends_total{reason=")") + session::to_string(reason) + "\"}";
    ASSERT_TRUE(got.count(name)) << name << " missing";
    EXPECT_EQ("0", got[name]) << name;
  }
  for (auto reason : session::kAllFilterDrops) {
    std::string name = std::string(R"(tandem_traffic_policy_drops_total{reason=")") +
                       session::to_string(reason) + "\"}";
    ASSERT_TRUE(got.count(name)) << name << " missing";
    EXPECT_EQ("0", got[name]) << name;
  }
  EXPECT_EQ("1", got[R"(tandem_role{role="standalone"})"]);  // the default role
  EXPECT_EQ("1", got[R"(tandem_info{version="0.1.0",node="hub-a"})"]);
}

TEST(MetricsRender, ValuesLandOnTheirSeries) {
  Snapshot s;
  s.process_start_unix = 1700000000;
  s.sessions_active = 2;
  s.sessions_waiting = 1;
  s.tunnels_ssl = 2;
  s.tunnels_dtls = 1;
  s.traffic.bytes_tx = 1234567890123;
  s.traffic.packets_rx = 42;
  s.traffic.drops_tx = 3;
  s.events.logins_failed = 5;
  s.events.resumes = 7;
  s.events.input_refused = 9;
  s.events.profiles_served = 4;
  s.events.profiles_refused = 5;
  s.timers.dpd_dtls = 4;
  s.timers.session_timeout = 6;
  s.session_ends[static_cast<std::size_t>(session::EndReason::client_logout)] = 11;
  s.role = "standby";
  s.epoch = 3;
  s.failovers = 2;
  s.degraded = true;
  s.lag_sequence = 17;
  s.lag_ms = 1500;
  s.draining = true;
  s.arbiter_holding_key = true;
  s.arbiter_reachable = true;
  s.arbiter_serving_left_ms = 4250;
  s.pool_used = 3;
  s.pool_free = 250;
  s.events.logins_throttled = 13;
  s.events.login_deadline_expired = 14;
  s.events.control_frames_dropped = 15;
  s.limits.front_connections = 21;
  s.limits.tls_handshakes = 22;
  s.limits.refused_connections_per_address = 23;
  s.limits.refused_tls_handshakes_per_address = 24;
  s.limits.throttled_user_address = 25;
  s.limits.throttled_user = 26;
  s.limits.throttle_entries = 27;
  s.limits.trusted_entries = 28;
  s.limits.dtls_handshakes = 29;
  s.limits.refused_dtls_handshakes_per_session = 30;
  s.limits.refused_descriptors = 33;
  s.events.traffic_dropped[session::drop_index(session::FilterVerdict::client_to_client)] = 31;
  s.events.traffic_dropped[session::drop_index(session::FilterVerdict::not_included)] = 32;
  auto got = samples_of(render(s));
  EXPECT_EQ("31", got[R"(tandem_traffic_policy_drops_total{reason="client_to_client"})"]);
  EXPECT_EQ("32", got[R"(tandem_traffic_policy_drops_total{reason="not_included"})"]);
  EXPECT_EQ("0", got[R"(tandem_traffic_policy_drops_total{reason="excluded"})"]);
  EXPECT_EQ("13", got[R"(tandem_logins_total{result="throttled"})"]);
  EXPECT_EQ("14", got["tandem_login_deadline_expired_total"]);
  EXPECT_EQ("15", got["tandem_control_frames_dropped_total"]);
  EXPECT_EQ("21", got["tandem_front_connections"]);
  EXPECT_EQ("22", got["tandem_tls_handshakes"]);
  EXPECT_EQ("23", got[R"(tandem_connections_refused_total{reason="connections_per_address"})"]);
  EXPECT_EQ("24", got[R"(tandem_connections_refused_total{reason="tls_handshakes_per_address"})"]);
  EXPECT_EQ("33", got[R"(tandem_connections_refused_total{reason="descriptors"})"]);
  EXPECT_EQ("25", got[R"(tandem_logins_throttled_total{scope="user_address"})"]);
  EXPECT_EQ("26", got[R"(tandem_logins_throttled_total{scope="user"})"]);
  EXPECT_EQ("27", got[R"(tandem_login_throttle_entries{table="failures"})"]);
  EXPECT_EQ("28", got[R"(tandem_login_throttle_entries{table="trusted"})"]);
  EXPECT_EQ("29", got["tandem_dtls_handshakes"]);
  EXPECT_EQ("30",
            got[R"(tandem_dtls_handshakes_refused_total{reason="dtls_handshakes_per_session"})"]);
  EXPECT_EQ("1700000000", got["tandem_process_start_time_seconds"]);
  EXPECT_EQ("2", got[R"(tandem_sessions{state="active"})"]);
  EXPECT_EQ("1", got[R"(tandem_sessions{state="waiting_to_resume"})"]);
  EXPECT_EQ("1", got[R"(tandem_tunnels{kind="dtls"})"]);
  EXPECT_EQ("1234567890123", got[R"(tandem_bytes_total{direction="tx"})"]);
  EXPECT_EQ("0", got[R"(tandem_bytes_total{direction="rx"})"]);
  EXPECT_EQ("42", got[R"(tandem_packets_total{direction="rx"})"]);
  EXPECT_EQ("3", got[R"(tandem_drops_total{direction="tx"})"]);
  EXPECT_EQ("5", got[R"(tandem_logins_total{result="failed"})"]);
  EXPECT_EQ("7", got["tandem_resumes_total"]);
  EXPECT_EQ("9", got["tandem_input_refused_total"]);
  EXPECT_EQ("4", got[R"(tandem_profile_downloads_total{result="served"})"]);
  EXPECT_EQ("5", got[R"(tandem_profile_downloads_total{result="refused"})"]);
  EXPECT_EQ("4", got[R"(tandem_dpd_teardowns_total{kind="dtls"})"]);
  EXPECT_EQ("6", got[R"(tandem_timer_expiries_total{kind="session"})"]);
  EXPECT_EQ("11", got[R"(tandem_session_ends_total{reason="logout"})"]);
  EXPECT_EQ("0", got[R"(tandem_role{role="active"})"]);
  EXPECT_EQ("1", got[R"(tandem_role{role="standby"})"]);
  EXPECT_EQ("0", got[R"(tandem_role{role="standalone"})"]);
  EXPECT_EQ("3", got["tandem_epoch"]);
  EXPECT_EQ("2", got["tandem_failovers_total"]);
  EXPECT_EQ("1", got["tandem_degraded"]);
  EXPECT_EQ("17", got["tandem_replication_lag_sequence"]);
  EXPECT_EQ("1.5", got["tandem_replication_lag_seconds"]);
  EXPECT_EQ("1", got["tandem_draining"]);
  EXPECT_EQ("1", got["tandem_arbiter_holding_key"]);
  EXPECT_EQ("1", got["tandem_arbiter_reachable"]);
  EXPECT_EQ("4.25", got["tandem_arbiter_serving_left_seconds"]);
  EXPECT_EQ("250", got[R"(tandem_pool_addresses{state="free"})"]);
}

TEST(MetricsRender, CertificateExpiryIsAGaugeOfSignedSeconds) {
  Snapshot s;
  s.certificate_expiry = {{"tls", 864000}, {"peer", -3600}, {"peer_ca", 0}};
  const std::string text = render(s);
  EXPECT_THAT(text, HasSubstr("# TYPE tandem_certificate_expiry_seconds gauge\n"));
  auto got = samples_of(text);
  EXPECT_EQ("864000", got[R"(tandem_certificate_expiry_seconds{certificate="tls"})"]);
  EXPECT_EQ("-3600", got[R"(tandem_certificate_expiry_seconds{certificate="peer"})"]);
  EXPECT_EQ("0", got[R"(tandem_certificate_expiry_seconds{certificate="peer_ca"})"]);
}

TEST(MetricsRender, LabelValuesAreEscaped) {
  EXPECT_EQ("plain", escape_label_value("plain"));
  EXPECT_EQ(R"(a\"b)", escape_label_value("a\"b"));
  EXPECT_EQ(R"(a\\b)", escape_label_value("a\\b"));
  EXPECT_EQ(R"(a\nb)", escape_label_value("a\nb"));
  EXPECT_EQ(R"(\\\"\n)", escape_label_value("\\\"\n"));
  Snapshot s;
  s.version = "1.0 \"beta\"";
  s.node = "hub\\a\nb";
  EXPECT_THAT(render(s), HasSubstr(R"(tandem_info{version="1.0 \"beta\"",node="hub\\a\nb"} 1)"
                                   "\n"));
}

// The session table keeps what ended sessions leave behind, so traffic totals never fall.
TEST(MetricsEndStats, EndedSessionsKeepTheirCountersAndReason) {
  FakeClock clock;
  session::SessionTable table(session::AddressPool(*net::parse_cidr("10.77.0.0/29")), clock);
  auto a = table.create({"alice", "default", "default", "10.200.0.2", 4000, "oc", 0});
  auto b = table.create({"bob", "default", "default", "10.200.0.3", 4000, "oc", 0});
  ASSERT_TRUE(a && b);
  table.frame_from_client(a->session, session::Carrier::ssl);
  table.data_from_client(a->session, session::Carrier::ssl, 100);
  table.data_to_client(a->session, session::Carrier::ssl, 10);
  table.data_to_client(a->session, session::Carrier::ssl, 10);
  table.data_from_client(b->session, session::Carrier::ssl, 50);
  table.end(a->session->index, session::EndReason::client_logout, false);
  table.end(b->session->index, session::EndReason::admin_logoff, false);
  table.end(12345, session::EndReason::admin_logoff, false);  // no such session: not counted

  const auto& ended = table.end_stats();
  EXPECT_EQ(150u, ended.traffic.bytes_rx);
  EXPECT_EQ(2u, ended.traffic.packets_tx);
  EXPECT_EQ(1u, ended.by_reason[static_cast<std::size_t>(session::EndReason::client_logout)]);
  EXPECT_EQ(1u, ended.by_reason[static_cast<std::size_t>(session::EndReason::admin_logoff)]);
  EXPECT_EQ(0u, ended.by_reason[static_cast<std::size_t>(session::EndReason::dpd)]);
}

}  // namespace
}  // namespace tandem::metrics
