// The challenge's second form and the answer that comes back (docs/radius.md).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "node/auth/config_auth.hpp"

namespace tandem::auth {
namespace {

using ::testing::HasSubstr;

TEST(ChallengeForm, CarriesTheMessageAndTheIdNotTheState) {
  const std::string xml =
      build_challenge_form({"Enter the code <from> your token", "corp", "00ff"});
  EXPECT_THAT(xml, HasSubstr("<auth id=\"challenge\">"));
  EXPECT_THAT(xml, HasSubstr("<message>Enter the code &lt;from&gt; your token</message>"));
  EXPECT_THAT(xml, HasSubstr("<input type=\"password\" name=\"answer\""));
  EXPECT_THAT(xml,
              HasSubstr("<tunnel-group>corp</tunnel-group><challenge>00ff</challenge></opaque>"));
  EXPECT_THAT(build_challenge_form({"", "corp", "1"}), HasSubstr("<message>Please enter"));
}

TEST(ChallengeForm, TheAnswerNamesTheChallenge) {
  auto msg = parse_client_message(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<config-auth client=\"vpn\" type=\"auth-reply\" aggregate-auth-version=\"2\">"
      "<opaque is-for=\"sg\"><tunnel-group>corp</tunnel-group><challenge>00ff</challenge>"
      "</opaque><auth><password>123456</password></auth></config-auth>");
  ASSERT_TRUE(msg.ok()) << msg.error();
  EXPECT_EQ(msg->opaque_challenge, "00ff");
  EXPECT_EQ(msg->opaque_tunnel_group, "corp");
  EXPECT_EQ(msg->password, "123456");
  EXPECT_EQ(msg->username, "");
}

TEST(ChallengeForm, AnAnswerFieldCountsAsThePassword) {
  auto msg = parse_client_message(
      "<config-auth client=\"vpn\" type=\"auth-reply\"><opaque><challenge>x</challenge></opaque>"
      "<auth><answer>654321</answer></auth></config-auth>");
  ASSERT_TRUE(msg.ok()) << msg.error();
  EXPECT_EQ(msg->password, "654321");
}

}  // namespace
}  // namespace tandem::auth
