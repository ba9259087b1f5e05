#include "node/session/session_record.hpp"

#include <gtest/gtest.h>

#include "node/session/token.hpp"

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
