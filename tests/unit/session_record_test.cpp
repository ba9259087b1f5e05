#include "node/session/session_record.hpp"

#include <gtest/gtest.h>

#include "node/session/token.hpp"
#include "proto/replication.pb.h"

namespace tandem::session {
namespace {

Session sample() {
  Session s;
  s.index = 42;
  s.user = "alice";
  s.tunnel_group = "default";
  s.policy = "default";
  s.ip = 0x0a4d0005;
  s.login_time_unix = 1700000000;
  s.public_ip = "10.200.0.2";
  s.public_port = 40000;
  s.client_type = "Open AnyConnect VPN Agent v9.01-3";
  s.client_os = "linux-64";
  s.counters = {100, 200, 3, 4, 5, 6};
  return s;
}

TEST(SessionCodec, RoundTripsTheParentRecord) {
  auto s = sample();
  auto token = issue_token(s.index);
  s.token_hash = token.hash;
  auto back = from_record(to_record(s));
  EXPECT_EQ(back.index, 42u);
  EXPECT_EQ(back.user, "alice");
  EXPECT_EQ(back.ip, s.ip);
  EXPECT_EQ(back.token_hash, s.token_hash);
  EXPECT_EQ(back.counters.bytes_rx, 200u);
  EXPECT_EQ(back.counters.drops_rx, 6u);
  EXPECT_EQ(back.public_port, 40000);
  EXPECT_EQ(back.client_os, "linux-64");
}

// RADIUS accounting continues across a failover: the Acct-Session-Id and the reported floor
// travel with the record (docs/radius-accounting.md).
TEST(SessionCodec, RoundTripsTheAccountingState) {
  auto s = sample();
  s.acct_session_id = new_acct_session_id();
  s.acct_reported = {1000, 2000, 30, 40, 0, 0};
  auto back = from_record(to_record(s));
  EXPECT_EQ(back.acct_session_id, s.acct_session_id);
  EXPECT_EQ(back.acct_reported.bytes_tx, 1000u);
  EXPECT_EQ(back.acct_reported.bytes_rx, 2000u);
  EXPECT_EQ(back.acct_reported.packets_tx, 30u);
  EXPECT_EQ(back.acct_reported.packets_rx, 40u);
  EXPECT_FALSE(back.acct_next_interim);  // the new active schedules it
  EXPECT_FALSE(back.acct_start_pending);
  // A Start still owed travels too; whether this node queued one does not.
  s.acct_start_pending = true;
  s.acct_start_asked = true;
  back = from_record(to_record(s));
  EXPECT_TRUE(back.acct_start_pending);
  EXPECT_FALSE(back.acct_start_asked);
}

TEST(SessionCodec, AcctSessionIdsAreSixteenHexDigitsAndDiffer) {
  const std::string a = new_acct_session_id(), b = new_acct_session_id();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789ABCDEF"), std::string::npos);
  EXPECT_NE(a, b);
}

// S9/S16: the replicated record carries the token's hash, never the token or its secret.
TEST(SessionCodec, SerializedRecordNeverContainsTheTokenSecret) {
  auto s = sample();
  auto token = issue_token(s.index);
  s.token_hash = token.hash;
  std::string wire = to_record(s).SerializeAsString();
  std::string secret = token.text.substr(token.text.find('-') + 1);
  EXPECT_EQ(wire.find(token.text), std::string::npos);
  EXPECT_EQ(wire.find(secret), std::string::npos);
  EXPECT_NE(wire.find(std::string(s.token_hash.begin(), s.token_hash.end())), std::string::npos);
}

}  // namespace
}  // namespace tandem::session

namespace tandem::session {
namespace {

// S16: what crosses to the standby is the session record; no TLS or DTLS key material, and no
// token secret, can be found in a whole replication message built from a live-looking session.
TEST(SessionRecord, ReplicationMessagesCarryNoKeyMaterial) {
  Session s;
  s.index = 7;
  s.user = "carol";
  s.ip = 0x0a4d0007;
  auto token = issue_token(s.index);
  s.token_hash = token.hash;
  s.ssl_info.public_ip = "10.200.0.2";
  s.ssl_info.public_port = 40001;
  s.ssl_info.encapsulation = "TLSv1.3";
  s.ssl_info.cipher = "TLS_AES_256_GCM_SHA384";
  s.ssl_info.connected_at_unix = 1700000000;
  // What a DTLS tunnel of this session was keyed with (the exporter output) and its App-ID:
  // the node keeps them with the TLS connection only; nothing in Session can hold them.
  const std::string psk(32, '\x5a');

  proto::LeaderMessage msg;
  auto* change = msg.mutable_change();
  change->set_seq(1);
  change->set_epoch(1);
  *change->mutable_upsert() = to_record(s);
  const std::string wire = msg.SerializeAsString();

  const std::string secret = token.text.substr(token.text.find('-') + 1);
  EXPECT_EQ(wire.find(secret), std::string::npos);
  EXPECT_EQ(wire.find(token.text), std::string::npos);
  EXPECT_EQ(wire.find(psk), std::string::npos);
  // The record's fields are exactly the parent, counters and tunnel endpoints: list them, so a
  // new field that could carry secrets fails this test until someone looks at it.
  const auto* d = proto::SessionRecord::descriptor();
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  EXPECT_EQ(names,
            (std::vector<std::string>{
                "index", "username", "tunnel_group", "group_policy", "assigned_ipv4", "token_hash",
                "login_time_unix", "public_ip", "public_port", "client_type", "client_version",
                "bytes_tx", "bytes_rx", "packets_tx", "packets_rx", "drops_tx", "drops_rx",
                "inactive_since_unix_ms", "tunnels", "resumes", "auth_method",
                // What RADIUS decided (docs/radius.md): the Class is the
                // server's opaque label, not a credential.
                "radius_class", "policy_override", "session_timeout_s", "idle_timeout_s",
                // RADIUS accounting: an identifier and counters, no secret.
                "acct_session_id", "acct_reported_input_octets", "acct_reported_output_octets",
                "acct_reported_input_packets", "acct_reported_output_packets",
                // IPv6 inside the tunnel (docs/ipv6.md).
                "assigned_ipv6",
                // The client's platform name (X-AnyConnect-Platform), as checked at login.
                "client_os",
                // Whether the session's accounting Start is still owed.
                "acct_start_pending"}));
  const auto* t = proto::TunnelRecord::descriptor();
  for (int i = 0; i < t->field_count(); ++i) {
    const std::string n = t->field(i)->name();
    EXPECT_EQ(n.find("key"), std::string::npos) << n;
    EXPECT_EQ(n.find("secret"), std::string::npos) << n;
    EXPECT_EQ(n.find("psk"), std::string::npos) << n;
  }
}

}  // namespace
}  // namespace tandem::session
