#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "node/radius/attributes.hpp"
#include "node/radius/packet.hpp"

namespace tandem::radius {
namespace {

using ::testing::HasSubstr;
using Bytes = std::vector<std::uint8_t>;

Bytes hex(const std::string& text) {
  Bytes out;
  for (std::size_t i = 0; i + 1 < text.size();) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    out.push_back(static_cast<std::uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  return out;
}

// The example exchange of RFC 2865 §7.1: user "nemo", password "arctangent", secret "xyzzy5461".
const Bytes kRfcRequest = hex(
    "01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 "
    "8d 93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03");
const Bytes kRfcAccept = hex(
    "02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 "
    "00 0e 06 c0 a8 01 03");
constexpr std::string_view kRfcSecret = "xyzzy5461";

Request rfc_request() {
  Request r;
  r.id = 0;
  std::copy_n(kRfcRequest.begin() + 4, 16, r.authenticator.begin());
  r.bytes = kRfcRequest;
  return r;
}

TEST(RadiusPacket, HidesThePasswordAsTheRfcExampleDoes) {
  const std::string hidden = hide_password("arctangent", rfc_request().authenticator, kRfcSecret);
  EXPECT_EQ(Bytes(hidden.begin(), hidden.end()),
            Bytes(kRfcRequest.begin() + 28, kRfcRequest.begin() + 44));
}

TEST(RadiusPacket, HidesLongPasswordsBlockByBlock) {
  const Authenticator ra{1, 2, 3};
  const std::string a = hide_password(std::string(17, 'x'), ra, "s");
  const std::string b = hide_password(std::string(16, 'x') + "y", ra, "s");
  ASSERT_EQ(a.size(), 32u);
  EXPECT_EQ(a.substr(0, 16), b.substr(0, 16));  // the first block does not see the second
  EXPECT_NE(a.substr(16), b.substr(16));
  EXPECT_EQ(hide_password("", ra, "s").size(), 16u);
}

TEST(RadiusPacket, AcceptsTheRfcExampleAnswer) {
  auto r = check_response(kRfcAccept, rfc_request(), kRfcSecret, false);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->code, Code::access_accept);
  ASSERT_EQ(r->attributes.size(), 3u);
  EXPECT_EQ(r->attributes[0].type, 6);  // Service-Type
  EXPECT_FALSE(r->had_message_authenticator);
}

TEST(RadiusPacket, RefusesTheAnswerUnderAnotherSecretOrRequest) {
  EXPECT_THAT(check_response(kRfcAccept, rfc_request(), "wrong", false).error(),
              HasSubstr("Response Authenticator"));
  Request other = rfc_request();
  other.authenticator[0] ^= 1;
  EXPECT_FALSE(check_response(kRfcAccept, other, kRfcSecret, false).ok());
  other = rfc_request();
  other.id = 7;
  EXPECT_THAT(check_response(kRfcAccept, other, kRfcSecret, false).error(),
              HasSubstr("identifier"));
}

TEST(RadiusPacket, RefusesAnUnsignedAnswerWhenSignaturesAreRequired) {
  EXPECT_THAT(check_response(kRfcAccept, rfc_request(), kRfcSecret, true).error(),
              HasSubstr("no Message-Authenticator"));
}

TEST(RadiusPacket, RefusesMalformedDatagrams) {
  const Request req = rfc_request();
  EXPECT_FALSE(check_response(Bytes(10, 0), req, kRfcSecret, false).ok());
  Bytes longer = kRfcAccept;
  longer[3] = 0x30;  // Length past the datagram's end
  EXPECT_THAT(check_response(longer, req, kRfcSecret, false).error(), HasSubstr("Length"));
  Bytes padded = kRfcAccept;
  padded.push_back(0);  // octets past Length are padding
  EXPECT_TRUE(check_response(padded, req, kRfcSecret, false).ok());
  Bytes accounting = kRfcAccept;
  accounting[0] = 5;  // an Accounting-Response cannot answer an Access-Request
  EXPECT_THAT(check_response(accounting, req, kRfcSecret, false).error(), HasSubstr("code"));
}

// --- Our requests, checked the way a server checks them ---

std::array<std::uint8_t, 16> md5(const Bytes& data) {
  std::array<std::uint8_t, 16> out{};
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_md5(), nullptr);
  return out;
}

std::array<std::uint8_t, 16> hmac_md5(std::string_view key, const Bytes& data) {
  std::array<std::uint8_t, 16> out{};
  std::size_t len = 0;
  EVP_Q_mac(nullptr, "HMAC", nullptr, "MD5", nullptr, key.data(), key.size(), data.data(),
            data.size(), out.data(), out.size(), &len);
  return out;
}

TEST(RadiusPacket, SignsAccessRequestsWithAMessageAuthenticatorFirst) {
  const Authenticator ra{9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6};
  auto r = encode_access_request(42, ra, {{kUserName, "alice"}, {kUserPassword, "pw"}}, "s3cret");
  ASSERT_TRUE(r.ok()) << r.error();
  const Bytes& p = r->bytes;
  ASSERT_EQ(p.size(), 20u + 18 + 7 + 18);
  EXPECT_EQ(p[0], 1);
  EXPECT_EQ(p[1], 42);
  EXPECT_EQ((p[2] << 8) | p[3], static_cast<int>(p.size()));
  EXPECT_TRUE(std::equal(ra.begin(), ra.end(), p.begin() + 4));
  ASSERT_EQ(p[20], kMessageAuthenticator);
  ASSERT_EQ(p[21], 18);
  Bytes zeroed = p;
  std::fill_n(zeroed.begin() + 22, 16, 0);
  const auto mac = hmac_md5("s3cret", zeroed);
  EXPECT_TRUE(std::equal(mac.begin(), mac.end(), p.begin() + 22));
  // The password is hidden, not in clear.
  EXPECT_EQ(p[45], kUserPassword);
  const std::string hidden = hide_password("pw", ra, "s3cret");
  EXPECT_EQ(Bytes(hidden.begin(), hidden.end()), Bytes(p.begin() + 47, p.end()));
}

TEST(RadiusPacket, RefusesRequestsThatDoNotFit) {
  const Authenticator ra{};
  EXPECT_THAT(encode_access_request(1, ra, {{kUserPassword, std::string(129, 'p')}}, "s").error(),
              HasSubstr("128"));
  EXPECT_THAT(encode_access_request(1, ra, {{kFilterId, std::string(254, 'f')}}, "s").error(),
              HasSubstr("253"));
  std::vector<RawAttribute> many(20, RawAttribute{kFilterId, std::string(250, 'f')});
  EXPECT_THAT(encode_accounting_request(1, many, "s").error(), HasSubstr("4096"));
}

TEST(RadiusPacket, AuthenticatesAccountingRequestsWithTheSecret) {
  auto r = encode_accounting_request(3, {integer_attribute(40, 1), {44, "acct-1"}}, "s3cret");
  ASSERT_TRUE(r.ok()) << r.error();
  Bytes zeroed = r->bytes;
  std::fill_n(zeroed.begin() + 4, 16, 0);
  zeroed.insert(zeroed.end(), {'s', '3', 'c', 'r', 'e', 't'});
  const auto expected = md5(zeroed);
  EXPECT_TRUE(std::equal(expected.begin(), expected.end(), r->bytes.begin() + 4));
  EXPECT_EQ(r->authenticator, expected);
  EXPECT_EQ(Bytes(r->bytes.begin() + 20, r->bytes.begin() + 26), hex("28 06 00 00 00 01"));
}

// A server's answer to `req`, signed as RFC 2865 §3 and RFC 3579 §3.2 say.
Bytes answer(Code code, const Request& req, std::string_view secret, const Bytes& attributes,
             bool with_mac) {
  Bytes p{static_cast<std::uint8_t>(code), req.id, 0, 0};
  p.insert(p.end(), req.authenticator.begin(), req.authenticator.end());
  std::size_t mac_at = 0;
  if (with_mac) {
    p.insert(p.end(), {kMessageAuthenticator, 18});
    mac_at = p.size();
    p.insert(p.end(), 16, 0);
  }
  p.insert(p.end(), attributes.begin(), attributes.end());
  p[2] = static_cast<std::uint8_t>(p.size() >> 8);
  p[3] = static_cast<std::uint8_t>(p.size());
  if (with_mac) {
    const auto mac = hmac_md5(secret, p);
    std::copy(mac.begin(), mac.end(), p.begin() + static_cast<long>(mac_at));
  }
  Bytes signed_part = p;
  signed_part.insert(signed_part.end(), secret.begin(), secret.end());
  const auto auth = md5(signed_part);
  std::copy(auth.begin(), auth.end(), p.begin() + 4);
  return p;
}

TEST(RadiusPacket, ChecksTheMessageAuthenticatorOfAnAnswer) {
  auto req = encode_access_request(5, Authenticator{1}, {{kUserName, "u"}}, "s3cret");
  ASSERT_TRUE(req.ok());
  const Bytes klass = hex("19 07 73 74 61 66 66");  // Class "staff"
  auto ok = check_response(answer(Code::access_accept, *req, "s3cret", klass, true), *req, "s3cret",
                           true);
  ASSERT_TRUE(ok.ok()) << ok.error();
  EXPECT_TRUE(ok->had_message_authenticator);
  ASSERT_EQ(ok->attributes.size(), 1u);  // the Message-Authenticator is not handed on
  EXPECT_EQ(ok->attributes[0], (RawAttribute{kClass, "staff"}));

  // A Message-Authenticator made with another key, under a correct Response Authenticator.
  Bytes forged = answer(Code::access_accept, *req, "other", klass, true);
  Bytes resigned = forged;
  std::copy(req->authenticator.begin(), req->authenticator.end(), resigned.begin() + 4);
  resigned.insert(resigned.end(), {'s', '3', 'c', 'r', 'e', 't'});
  const auto auth = md5(resigned);
  std::copy(auth.begin(), auth.end(), forged.begin() + 4);
  EXPECT_THAT(check_response(forged, *req, "s3cret", false).error(),
              HasSubstr("Message-Authenticator is wrong"));
}

TEST(RadiusPacket, RefusesAMalformedAttributeInAnAnswer) {
  auto req = encode_access_request(5, Authenticator{1}, {{kUserName, "u"}}, "s3cret");
  ASSERT_TRUE(req.ok());
  EXPECT_THAT(check_response(answer(Code::access_reject, *req, "s3cret", hex("12 09 61"), false),
                             *req, "s3cret", false)
                  .error(),
              HasSubstr("malformed attribute"));
  EXPECT_THAT(check_response(answer(Code::access_reject, *req, "s3cret", hex("12 01"), false), *req,
                             "s3cret", false)
                  .error(),
              HasSubstr("malformed attribute"));
}

TEST(RadiusPacket, EncodesIntegersInNetworkOrder) {
  EXPECT_EQ(integer_attribute(27, 0x01020304).value, std::string("\x01\x02\x03\x04", 4));
}

}  // namespace
}  // namespace tandem::radius
