#include <gtest/gtest.h>

#include <cerrno>
#include <sstream>
#include <vector>

#include "node/admin/admin_client.hpp"
#include "node/admin/format.hpp"

namespace tandem::admin {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool has_line(const std::string& text, const std::string& line) {
  for (const auto& l : lines_of(text))
    if (l == line) return true;
  return false;
}

proto::TunnelView* add_tunnel(proto::SessionView& s, const std::string& suffix,
                              const std::string& type) {
  auto* t = s.add_tunnels();
  t->set_id(std::to_string(s.index()) + suffix);
  t->set_type(type);
  t->set_public_ip("198.51.100.7");
  t->set_auth_mode("userPassword");
  t->set_idle_timeout_s(1800);
  t->set_idle_left_s(1745);
  t->set_client_type("Open AnyConnect VPN Agent");
  t->set_client_version("9.01-3");
  return t;
}

// alice, index 7, connected with SSL and DTLS; data went over DTLS.
proto::SessionView connected_session() {
  proto::SessionView s;
  s.set_index(7);
  s.set_username("alice");
  s.set_assigned_ip("10.77.0.2");
  s.set_public_ip("198.51.100.7");
  for (const char* p : {"AnyConnect-Parent", "SSL-Tunnel", "DTLS-Tunnel"}) s.add_protocols(p);
  s.set_encryption("AES-GCM-256");
  s.set_hashing("SHA384");
  s.set_bytes_tx(41120);
  s.set_bytes_rx(40000);
  s.set_packets_tx(40);
  s.set_packets_rx(39);
  s.set_drops_rx(1);
  s.set_group_policy("engineering");
  s.set_tunnel_group("eng");
  s.set_login_time_unix(1795788131);  // 14:02:11 UTC Fri Nov 27 2026
  s.set_duration_s(312);
  s.set_state("active");
  auto* parent = add_tunnel(s, ".1", "AnyConnect-Parent");
  parent->set_encryption("none");
  parent->set_hashing("none");
  parent->set_public_port(50001);
  parent->set_client_os("linux-64");
  auto* ssl = add_tunnel(s, ".2", "SSL-Tunnel");
  ssl->set_encryption("AES-GCM-256");
  ssl->set_hashing("SHA384");
  ssl->set_encapsulation("TLSv1.3");
  ssl->set_public_port(50002);
  ssl->set_local_port(443);
  auto* dtls = add_tunnel(s, ".3", "DTLS-Tunnel");
  dtls->set_encryption("AES-GCM-256");
  dtls->set_hashing("SHA384");
  dtls->set_encapsulation("DTLSv1.2");
  dtls->set_public_port(50003);
  dtls->set_local_port(443);
  dtls->set_bytes_tx(41120);
  dtls->set_bytes_rx(40000);
  return s;
}

// bob, index 9: a token and no tunnel (S5).
proto::SessionView waiting_session() {
  proto::SessionView s;
  s.set_index(9);
  s.set_username("bob");
  s.set_assigned_ip("10.77.0.3");
  s.set_public_ip("203.0.113.4");
  s.add_protocols("AnyConnect-Parent");
  s.set_login_time_unix(1614675907);  // 09:05:07 UTC Tue Mar 2 2021
  s.set_duration_s(90061);
  s.set_inactivity_s(65);
  s.set_state("waiting_to_resume");
  add_tunnel(s, ".1", "AnyConnect-Parent");
  return s;
}

TEST(AdminFormat, DurationLikeTheReference) {
  EXPECT_EQ(format_duration(0), "0h:00m:00s");
  EXPECT_EQ(format_duration(312), "0h:05m:12s");
  EXPECT_EQ(format_duration(3600), "1h:00m:00s");
  EXPECT_EQ(format_duration(90061), "25h:01m:01s");  // hours are not folded into days
  EXPECT_EQ(format_duration(-5), "0h:00m:00s");      // a clock step must not print garbage
}

TEST(AdminFormat, LoginTimeIsUtcWithNames) {
  EXPECT_EQ(format_login_time(1795788131), "14:02:11 UTC Fri Nov 27 2026");
  EXPECT_EQ(format_login_time(1614675907), "09:05:07 UTC Tue Mar 2 2021");
  EXPECT_EQ(format_login_time(0), "-");
}

TEST(AdminFormat, BriefTableHasHeadingAndAlignedRows) {
  proto::ShowSessionsReply reply;
  *reply.add_sessions() = connected_session();
  *reply.add_sessions() = waiting_session();
  const auto lines = lines_of(format_sessions_brief(reply));
  ASSERT_EQ(lines.size(), 3u);
  const std::vector<std::string> headings = {
      "Index",       "Username",   "Assigned IP", "Public IP",  "Protocol",
      "Bytes Tx/Rx", "Login Time", "Duration",    "Inactivity", "State"};
  std::size_t at = 0;
  for (const auto& h : headings) {
    auto p = lines[0].find(h, at);
    ASSERT_NE(p, std::string::npos) << h << " in " << lines[0];
    at = p + h.size();
  }
  // Every column starts where its heading does.
  auto column = [&](const std::string& h) { return lines[0].find(h); };
  EXPECT_EQ(lines[1].substr(0, 2), "7 ");
  EXPECT_EQ(lines[1].substr(column("Username"), 5), "alice");
  EXPECT_EQ(lines[1].substr(column("Protocol"), 9), "SSL+DTLS ");
  EXPECT_EQ(lines[1].substr(column("Bytes Tx/Rx"), 11), "41120/40000");
  EXPECT_EQ(lines[1].substr(column("Login Time"), 28), "14:02:11 UTC Fri Nov 27 2026");
  EXPECT_EQ(lines[1].substr(column("Duration"), 10), "0h:05m:12s");
  EXPECT_EQ(lines[1].substr(column("State")), "active");
  EXPECT_EQ(lines[2].substr(column("Protocol"), 7), "Parent ");
  EXPECT_EQ(lines[2].substr(column("Inactivity"), 10), "0h:01m:05s");
  EXPECT_EQ(lines[2].substr(column("State")), "waiting_to_resume");
  for (const auto& l : lines) EXPECT_NE(l.back(), ' ') << "trailing blanks: '" << l << "'";
}

TEST(AdminFormat, NoSessions) {
  EXPECT_EQ(format_sessions_brief(proto::ShowSessionsReply()), "no sessions\n");
  EXPECT_EQ(format_sessions_detail(proto::ShowSessionsReply()), "no sessions\n");
}

TEST(AdminFormat, DetailLaidOutLikeTheReference) {
  proto::ShowSessionsReply reply;
  *reply.add_sessions() = connected_session();
  const std::string text = format_sessions_detail(reply);
  for (const char* want : {
           "Session Type: AnyConnect Detailed",
           "Username     : alice                  Index        : 7",
           "Assigned IP  : 10.77.0.2              Public IP    : 198.51.100.7",
           "Protocol     : AnyConnect-Parent SSL-Tunnel DTLS-Tunnel",
           "Encryption   : AnyConnect-Parent: (1)none  SSL-Tunnel: (1)AES-GCM-256  "
           "DTLS-Tunnel: (1)AES-GCM-256",
           "Hashing      : AnyConnect-Parent: (1)none  SSL-Tunnel: (1)SHA384  DTLS-Tunnel: "
           "(1)SHA384",
           "Bytes Tx     : 41120                  Bytes Rx     : 40000",
           "Pkts Tx      : 40                     Pkts Rx      : 39",
           "Pkts Tx Drop : 0                      Pkts Rx Drop : 1",
           "Group Policy : engineering            Tunnel Group : eng",
           "Login Time   : 14:02:11 UTC Fri Nov 27 2026",
           "Duration     : 0h:05m:12s",
           "Inactivity   : 0h:00m:00s",
           "AnyConnect-Parent Tunnels: 1",
           "SSL-Tunnel Tunnels: 1",
           "DTLS-Tunnel Tunnels: 1",
           "AnyConnect-Parent:",
           "  Tunnel ID    : 7.1",
           "  TCP Src Port : 50001                  TCP Dst Port : -",
           "  Client OS    : linux-64",
           "SSL-Tunnel:",
           "  Encapsulation: TLSv1.3                TCP Src Port : 50002",
           "  TCP Dst Port : 443                    Auth Mode    : userPassword",
           "DTLS-Tunnel:",
           "  Tunnel ID    : 7.3",
           "  Assigned IP  : 10.77.0.2              Public IP    : 198.51.100.7",
           "  Encapsulation: DTLSv1.2               UDP Src Port : 50003",
           "  UDP Dst Port : 443                    Auth Mode    : userPassword",
           "  Idle Time Out: 30 Minutes             Idle TO Left : 29 Minutes",
           "  Client Type  : Open AnyConnect VPN Agent",
           "  Client Ver   : 9.01-3",
           "  Bytes Tx     : 41120                  Bytes Rx     : 40000",
       }) {
    EXPECT_TRUE(has_line(text, want)) << "missing line '" << want << "' in\n" << text;
  }
  // Tunnel blocks come in the order of the tunnels, after the summary of tunnel counts.
  EXPECT_LT(text.find("DTLS-Tunnel Tunnels: 1"), text.find("AnyConnect-Parent:\n"));
  EXPECT_LT(text.find("\nSSL-Tunnel:\n"), text.find("\nDTLS-Tunnel:\n"));
  // The client's platform is the parent's alone (ASA's "Client OS").
  EXPECT_EQ(text.find("Client OS"), text.rfind("Client OS"));
}

TEST(AdminFormat, DetailShowsTheIpv6AddressOnlyWhenThereIsOne) {
  proto::ShowSessionsReply reply;
  *reply.add_sessions() = connected_session();
  EXPECT_EQ(format_sessions_detail(reply).find("IPv6"), std::string::npos);
  reply.mutable_sessions(0)->set_assigned_ipv6("fd00:77::2");
  const std::string text = format_sessions_detail(reply);
  EXPECT_TRUE(has_line(text, "Assigned IPv6: fd00:77::2")) << text;
  // Right under the IPv4 line.
  EXPECT_LT(text.find("Assigned IP  : 10.77.0.2"), text.find("Assigned IPv6"));
  EXPECT_LT(text.find("Assigned IPv6"), text.find("Protocol     :"));
}

TEST(AdminFormat, DetailOfAWaitingSessionHasOnlyTheParent) {
  proto::ShowSessionsReply reply;
  *reply.add_sessions() = waiting_session();
  const std::string text = format_sessions_detail(reply);
  EXPECT_TRUE(has_line(text, "Protocol     : AnyConnect-Parent")) << text;
  EXPECT_TRUE(has_line(text, "Inactivity   : 0h:01m:05s")) << text;
  EXPECT_TRUE(has_line(text, "State        : waiting_to_resume      Resumes      : 0")) << text;
  EXPECT_TRUE(has_line(text, "Acct Session : -")) << text;  // none given
  EXPECT_TRUE(has_line(text, "AnyConnect-Parent Tunnels: 1")) << text;
  EXPECT_EQ(text.find("SSL-Tunnel"), std::string::npos) << text;
}

TEST(AdminFormat, LongValueStillLeavesAGapBeforeTheSecondField) {
  proto::ShowSessionsReply reply;
  auto s = waiting_session();
  s.set_group_policy("a-very-long-group-policy-name");
  *reply.add_sessions() = s;
  EXPECT_TRUE(has_line(format_sessions_detail(reply),
                       "Group Policy : a-very-long-group-policy-name  Tunnel Group : -"));
}

TEST(AdminFormat, Status) {
  proto::StatusReply r;
  r.set_node_id("hub-a");
  r.set_version("0.1.0");
  r.set_role("standalone");
  r.set_peer_state("none");
  r.set_sessions(3);
  r.set_sessions_active(2);
  r.set_sessions_inactive(1);
  r.set_tunnels_ssl(2);
  r.set_tunnels_dtls(1);
  r.set_pool("10.77.0.0/24");
  r.set_pool_in_use(3);
  r.set_pool_capacity(253);
  r.set_uptime_s(3725);
  r.set_listen("0.0.0.0:443");
  r.set_accepting_logins(true);
  const std::string text = format_status(r);
  EXPECT_TRUE(has_line(text, "Node         : hub-a (tandem 0.1.0)")) << text;
  EXPECT_TRUE(has_line(text, "Sessions     : 3 (2 active, 1 waiting to resume)")) << text;
  EXPECT_TRUE(has_line(text, "Tunnels      : 2 SSL, 1 DTLS")) << text;
  EXPECT_TRUE(has_line(text, "Address pool : 10.77.0.0/24, 3 of 253 in use")) << text;
  EXPECT_TRUE(has_line(text, "Max sessions : none")) << text;
  EXPECT_TRUE(has_line(text, "Uptime       : 1h:02m:05s")) << text;
  {
    proto::StatusReply limited = r;
    limited.set_session_limit(192842);
    limited.set_session_limit_from("memory");
    EXPECT_TRUE(has_line(format_status(limited), "Max sessions : 192842 (from memory)"));
    limited.set_session_limit(500);
    limited.set_session_limit_from("config");
    EXPECT_TRUE(has_line(format_status(limited), "Max sessions : 500 (configured)"));
  }
  EXPECT_EQ(text.find("IPv6 pool"), std::string::npos) << "no IPv6 pool, no line";
  EXPECT_EQ(text.find("Repl. lag"), std::string::npos) << "no peer, no lag line";
  {
    proto::StatusReply v6 = r;
    v6.set_pool6("fd00:77::/64");
    v6.set_pool6_in_use(2);
    EXPECT_TRUE(has_line(format_status(v6), "IPv6 pool    : fd00:77::/64, 2 in use"));
  }
  r.set_peer_state("connected");
  r.set_replication_lag_seq(4);
  r.set_replication_lag_ms(12);
  EXPECT_TRUE(has_line(format_status(r), "Repl. lag    : 4 records, 12 ms"));
}

proto::StatusReply pair_node(const std::string& role) {
  proto::StatusReply r;
  r.set_node_id("hub-a");
  r.set_role(role);
  r.set_peer_state(role == "active" ? "standby connected" : "following");
  return r;
}

TEST(AdminFormat, StatusOfASingleNodeHasNoArbiterToWarnAbout) {
  proto::StatusReply r;
  r.set_role("standalone");
  r.set_peer_state("none");
  const std::string text = format_status(r);
  EXPECT_TRUE(has_line(text, "Arbiter      : none (a single node: nothing to arbitrate)")) << text;
  EXPECT_TRUE(has_line(text, "Draining     : no")) << text;
  EXPECT_EQ(text.find("Member"), std::string::npos) << text;
  EXPECT_EQ(text.find("Active key"), std::string::npos) << text;
}

TEST(AdminFormat, StatusOfAPairWithoutArbiterWarnsOfTwoActives) {
  const std::string text = format_status(pair_node("active"));
  EXPECT_TRUE(has_line(text,
                       "Arbiter      : none: the pair runs on heartbeats alone; a cut link "
                       "between the nodes gives two actives"))
      << text;
  EXPECT_EQ(text.find("Active key"), std::string::npos) << text;
}

TEST(AdminFormat, StatusWithArbiter) {
  proto::StatusReply r = pair_node("active");
  r.set_member_id("m1");
  r.set_arbiter(true);
  r.add_arbiter_endpoints("http://10.9.0.1:2379");
  r.add_arbiter_endpoints("http://10.9.0.2:2379");
  r.set_arbiter_reachable(true);
  r.set_holding_key(true);
  r.set_serving_left_ms(4200);
  std::string text = format_status(r);
  EXPECT_TRUE(has_line(text, "Member       : m1")) << text;
  EXPECT_TRUE(
      has_line(text, "Arbiter      : etcd http://10.9.0.1:2379, http://10.9.0.2:2379 (reachable)"))
      << text;
  EXPECT_TRUE(
      has_line(text, "Active key   : held by this node, 4200 ms of serving left without etcd"))
      << text;
  EXPECT_EQ(text.find("heartbeats alone"), std::string::npos) << text;

  r.set_draining(true);
  r.set_arbiter_reachable(false);
  r.set_holding_key(false);
  text = format_status(r);
  EXPECT_TRUE(has_line(text,
                       "Arbiter      : etcd http://10.9.0.1:2379, http://10.9.0.2:2379 "
                       "(unreachable)"))
      << text;
  EXPECT_TRUE(has_line(text, "Active key   : not held by this node")) << text;
  EXPECT_TRUE(has_line(
      text, "Draining     : yes: new logins refused, directors send no new clients; sessions stay"))
      << text;
}

TEST(AdminFormat, StatusOfADrainedStandaloneNodeSaysNoDirectorSeesIt) {
  proto::StatusReply r;
  r.set_role("standalone");
  r.set_peer_state("none");
  r.set_draining(true);
  EXPECT_TRUE(has_line(format_status(r),
                       "Draining     : yes: new logins refused; sessions stay (no [member]: no "
                       "director sees it)"));
}

TEST(AdminFormat, Drain) {
  proto::DrainReply r;
  r.set_draining(true);
  r.set_changed(true);
  r.set_member_id("m1");
  r.set_arbiter(true);
  r.set_role("active");
  r.set_sessions(3);
  EXPECT_EQ(format_drain(r),
            "member m1 draining: directors send no new clients and new logins are refused; "
            "3 sessions stay; until undrain or a restart of tandemd\n");
  r.set_changed(false);
  r.set_role("standby");
  r.set_sessions(1);
  EXPECT_EQ(format_drain(r),
            "member m1 was already draining: directors send no new clients and new logins are "
            "refused; 1 session stays; this node is the standby: it applies once it is active; "
            "until undrain or a restart of tandemd\n");

  proto::DrainReply single;
  single.set_draining(true);
  single.set_changed(true);
  single.set_role("standalone");
  EXPECT_EQ(format_drain(single),
            "node draining: new logins are refused (no [member]: no director sees it); "
            "0 sessions stay; until undrain or a restart of tandemd\n");
  single.set_draining(false);
  EXPECT_EQ(format_drain(single), "node undrained: new logins are taken again\n");
  single.set_changed(false);
  EXPECT_EQ(format_drain(single), "node was not draining: nothing changed\n");
  r.set_draining(false);
  r.set_changed(true);
  EXPECT_EQ(format_drain(r),
            "member m1 undrained: new logins are taken again, directors may send new clients\n");
}

TEST(AdminFormat, StatusJsonHasTheClusterFieldsEvenWhenZero) {
  auto j = to_json(proto::StatusReply());
  ASSERT_TRUE(j.ok()) << j.error();
  for (const char* want : {"\"member_id\":\"\"", "\"arbiter\":false", "\"holding_key\":false",
                           "\"serving_left_ms\":\"0\"", "\"arbiter_reachable\":false",
                           "\"arbiter_endpoints\":[]", "\"draining\":false"}) {
    EXPECT_NE(j->find(want), std::string::npos) << want << " in " << *j;
  }
}

TEST(AdminFormat, Logoff) {
  proto::LogoffReply r;
  r.add_logged_off(3);
  r.add_logged_off(7);
  EXPECT_EQ(format_logoff(r), "logged off 2 session(s): 3, 7\n");
  EXPECT_EQ(format_logoff(proto::LogoffReply()), "logged off 0 session(s)\n");
  r.set_unconfirmed(1);
  EXPECT_EQ(format_logoff(r),
            "logged off 2 session(s): 3, 7\nwarning: the standby did not confirm 1 of these "
            "removals: a failover now could bring those sessions back\n");
}

TEST(AdminFormat, JsonKeepsProtoNamesAndPrintsZeros) {
  proto::ShowSessionsReply empty;
  auto j = to_json(empty);
  ASSERT_TRUE(j.ok()) << j.error();
  EXPECT_EQ(*j, "{\"sessions\":[]}\n");

  proto::ShowSessionsReply reply;
  *reply.add_sessions() = waiting_session();
  j = to_json(reply);
  ASSERT_TRUE(j.ok()) << j.error();
  for (const char* want :
       {"\"assigned_ip\":\"10.77.0.3\"", "\"bytes_tx\":\"0\"", "\"index\":\"9\"", "\"resumes\":0",
        "\"state\":\"waiting_to_resume\"", "\"login_time_unix\":\"1614675907\"",
        "\"idle_timeout_s\":\"1800\"", "\"encryption\":\"\""}) {
    EXPECT_NE(j->find(want), std::string::npos) << want << " in " << *j;
  }
  EXPECT_EQ(j->find("assignedIp"), std::string::npos) << "lowerCamel names leaked: " << *j;
  EXPECT_EQ(j->back(), '\n');
  EXPECT_EQ(j->find('\n'), j->size() - 1) << "one line per reply";
}

TEST(AdminClient, SocketErrorsSayWhatToDo) {
  EXPECT_EQ(socket_error_message("/run/tandem/admin.sock", ENOENT),
            "no tandemd on /run/tandem/admin.sock (is it running?)");
  EXPECT_EQ(socket_error_message("/run/tandem/admin.sock", EACCES),
            "not permitted: /run/tandem/admin.sock is root-only");
  EXPECT_EQ(socket_error_message("/run/tandem/admin.sock", ECONNREFUSED),
            "no tandemd answering on /run/tandem/admin.sock");
}

TEST(AdminClient, MissingSocketIsReportedBeforeDialling) {
  auto c = AdminClient::connect("/nonexistent-tandem-test-dir/admin.sock");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error(), "no tandemd on /nonexistent-tandem-test-dir/admin.sock (is it running?)");
}

}  // namespace
}  // namespace tandem::admin
