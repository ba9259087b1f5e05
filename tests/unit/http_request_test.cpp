#include <gtest/gtest.h>

#include <string>

#include "node/http/request.hpp"

namespace tandem::http {
namespace {

using State = RequestParser::State;

// The init POST as openconnect 9.01 sends it (protocol notes §2.2/§2.3), one-line body.
const std::string kInitBody =
    R"(<?xml version="1.0" encoding="UTF-8"?>)"
    R"(<config-auth client="vpn" type="init" aggregate-auth-version="2">)"
    R"(<version who="vpn">v9.01-3</version><device-id>linux-64</device-id>)"
    R"(<group-access>https://10.200.0.1:4443/</group-access></config-auth>)";

std::string init_request() {
  return "POST / HTTP/1.1\r\n"
         "Host: 10.200.0.1:4443\r\n"
         "User-Agent: Open AnyConnect VPN Agent v9.01-3\r\n"
         "Accept: */*\r\n"
         "Accept-Encoding: identity\r\n"
         "X-Transcend-Version: 1\r\n"
         "X-Aggregate-Auth: 1\r\n"
         "X-Support-HTTP-Auth: true\r\n"
         "X-Pad: 0000000000\r\n"
         "Content-Type: application/xml; charset=utf-8\r\n"
         "Content-Length: " +
         std::to_string(kInitBody.size()) + "\r\n\r\n" + kInitBody;
}

const std::string kConnect =
    "CONNECT /CSCOSSLC/tunnel HTTP/1.1\r\n"
    "Host: 10.200.0.1:4443\r\n"
    "User-Agent: Open AnyConnect VPN Agent v9.01-3\r\n"
    "Cookie: webvpn=ACcmVvLH9cnaOvXNY1kvst2C3MI9E/h3Souipgm6cWk=\r\n"
    "X-CSTP-Version: 1\r\n"
    "X-CSTP-Base-MTU: 1500\r\n"
    "X-CSTP-MTU: 1390\r\n"
    "X-CSTP-Address-Type: IPv6,IPv4\r\n"
    "X-DTLS-CipherSuite: PSK-NEGOTIATE:OC-DTLS1_2-AES256-GCM\r\n"
    "\r\n";

Request parse_one(std::string_view bytes, Limits limits = {}) {
  RequestParser p(limits);
  EXPECT_EQ(p.feed(bytes), State::complete) << p.error();
  return p.take();
}

// Feeds `bytes` and expects an error with this status; returns the reason for further checks.
std::string expect_error(std::string_view bytes, int status, Limits limits = {}) {
  RequestParser p(limits);
  EXPECT_EQ(p.feed(bytes), State::error) << "for: " << bytes;
  EXPECT_EQ(p.error_status(), status) << p.error();
  EXPECT_FALSE(p.error().empty());
  EXPECT_EQ(p.error().find('\n'), std::string::npos);
  return p.error();
}

TEST(RequestParser, ParsesOpenconnectInitPost) {
  Request r = parse_one(init_request());
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/");
  EXPECT_EQ(r.version_minor, 1);
  EXPECT_EQ(r.headers.size(), 10u);
  EXPECT_EQ(r.body, kInitBody);
  EXPECT_EQ(r.header("x-aggregate-auth"), "1");
  EXPECT_EQ(r.header("USER-AGENT"), "Open AnyConnect VPN Agent v9.01-3");
  EXPECT_EQ(r.header("Content-Type"), "application/xml; charset=utf-8");
  EXPECT_FALSE(r.header("Cookie").has_value());
  EXPECT_TRUE(r.keep_alive());
}

TEST(RequestParser, ParsesConnectWithTokenCookie) {
  Request r = parse_one(kConnect);
  EXPECT_EQ(r.method, "CONNECT");
  EXPECT_EQ(r.target, "/CSCOSSLC/tunnel");
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(r.cookie("webvpn"), "ACcmVvLH9cnaOvXNY1kvst2C3MI9E/h3Souipgm6cWk=");
  EXPECT_EQ(r.header("X-CSTP-MTU"), "1390");
}

TEST(RequestParser, ByteByByteGivesTheSameRequest) {
  std::string bytes = init_request();
  RequestParser p;
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    ASSERT_EQ(p.feed(bytes.substr(i, 1)), State::need_more) << "at byte " << i;
  }
  ASSERT_EQ(p.feed(bytes.substr(bytes.size() - 1)), State::complete);
  Request r = p.take();
  EXPECT_EQ(r.body, kInitBody);
  EXPECT_EQ(r.header("Host"), "10.200.0.1:4443");
  EXPECT_EQ(p.state(), State::need_more);
}

TEST(RequestParser, AcceptsBareLfAndMixedLineEndings) {
  Request r = parse_one("POST /auth HTTP/1.0\nHost: a\r\nContent-Length: 3\n\nabc");
  EXPECT_EQ(r.target, "/auth");
  EXPECT_EQ(r.version_minor, 0);
  EXPECT_EQ(r.header("host"), "a");
  EXPECT_EQ(r.body, "abc");
  EXPECT_EQ(parse_one("GET / HTTP/1.1\n\r\n").method, "GET");
}

TEST(RequestParser, HeadSplitInsideTheBlankLine) {
  RequestParser p;
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nA: 1\r"), State::need_more);
  EXPECT_EQ(p.feed("\n"), State::need_more);
  EXPECT_EQ(p.feed("\r"), State::need_more);
  EXPECT_EQ(p.feed("\n"), State::complete);
  EXPECT_EQ(p.take().header("a"), "1");
}

TEST(RequestParser, TrimsHeaderValuesAndKeepsNames) {
  Request r = parse_one("GET / HTTP/1.1\r\nX-Mixed-Case:  \t spaced value \t\r\nEmpty:\r\n\r\n");
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0].name, "X-Mixed-Case");
  EXPECT_EQ(r.headers[0].value, "spaced value");
  EXPECT_EQ(r.header("empty"), "");
}

TEST(RequestParser, BodySplitAcrossFeeds) {
  RequestParser p;
  EXPECT_EQ(p.feed("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01234"), State::need_more);
  EXPECT_EQ(p.feed("5678"), State::need_more);
  EXPECT_EQ(p.feed("9"), State::complete);
  EXPECT_EQ(p.take().body, "0123456789");
}

TEST(RequestParser, PipelinedRequestsAreParsedOnTake) {
  RequestParser p;
  std::string two = init_request() + "GET /second HTTP/1.1\r\nHost: x\r\n\r\nGET /thi";
  ASSERT_EQ(p.feed(two), State::complete);
  EXPECT_EQ(p.take().method, "POST");
  ASSERT_EQ(p.state(), State::complete);
  EXPECT_EQ(p.take().target, "/second");
  EXPECT_EQ(p.state(), State::need_more);
  EXPECT_EQ(p.feed("rd HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(p.take().target, "/third");
}

TEST(RequestParser, FeedWhileCompleteIsKeptForLater) {
  RequestParser p;
  ASSERT_EQ(p.feed("GET /a HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(p.feed("GET /b HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(p.take().target, "/a");
  EXPECT_EQ(p.take().target, "/b");
}

TEST(RequestParser, IgnoresEmptyLinesBeforeARequest) {
  RequestParser p;
  ASSERT_EQ(p.feed("POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi\r\n"), State::complete);
  EXPECT_EQ(p.take().body, "hi");
  EXPECT_EQ(p.state(), State::need_more);
  EXPECT_EQ(p.feed("\nGET /next HTTP/1.1\r\n\r\n"), State::complete);
  EXPECT_EQ(p.take().target, "/next");
}

TEST(RequestParser, EndlessEmptyLinesAreABadRequest) {
  RequestParser p;
  State s = State::need_more;
  for (int i = 0; i < 100 && s == State::need_more; ++i) s = p.feed("\r\n");
  EXPECT_EQ(s, State::error);
  EXPECT_EQ(p.error_status(), 400);
}

TEST(RequestParser, LeftoverAfterConnectIsTheRawCstpStream) {
  const std::string cstp("STF\x01\x00\x04\x00\x00\r\n\n\x45\x00", 14);
  RequestParser p;
  ASSERT_EQ(p.feed(kConnect + cstp), State::complete);
  Request r = p.take();
  EXPECT_EQ(r.method, "CONNECT");
  // Whatever the parser made of the CSTP bytes, take_leftover() hands them back untouched.
  EXPECT_EQ(p.take_leftover(), cstp);
  EXPECT_EQ(p.state(), State::need_more);
  EXPECT_EQ(p.take_leftover(), "");
}

TEST(RequestParser, LeftoverSurvivesAFailedReparse) {
  // The tail looks like a broken HTTP head ("\n\n" inside) and puts the parser in error.
  const std::string tail("\x01\x02\n\n\x03", 5);
  RequestParser p;
  ASSERT_EQ(p.feed(kConnect + tail), State::complete);
  p.take();
  EXPECT_EQ(p.state(), State::error);
  EXPECT_EQ(p.take_leftover(), tail);
  EXPECT_EQ(p.state(), State::need_more);
  EXPECT_TRUE(p.error().empty());
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\n\r\n"), State::complete);
}

TEST(RequestParser, LeftoverBeforeTakeKeepsThePendingRequest) {
  RequestParser p;
  ASSERT_EQ(p.feed(kConnect + "STF\x01"), State::complete);
  EXPECT_EQ(p.take_leftover(), "STF\x01");
  EXPECT_EQ(p.state(), State::complete);
  EXPECT_EQ(p.take().method, "CONNECT");
  EXPECT_EQ(p.take_leftover(), "");
}

TEST(RequestParser, TakeWhenNotCompleteYieldsNothing) {
  RequestParser p;
  EXPECT_EQ(p.feed("GET / HT"), State::need_more);
  EXPECT_TRUE(p.take().method.empty());
  EXPECT_EQ(p.feed("TP/1.1\r\n\r\n"), State::complete);
}

TEST(RequestParser, RejectsMalformedRequestLines) {
  expect_error("GET /\r\n\r\n", 400);
  expect_error("GET  / HTTP/1.1\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1 \r\n\r\n", 400);
  expect_error(" GET / HTTP/1.1\r\n\r\n", 400);
  expect_error("G(T / HTTP/1.1\r\n\r\n", 400);
  expect_error("GET / http/1.1\r\n\r\n", 400);
  expect_error("GET / HTTP/1\r\n\r\n", 400);
  expect_error("GET / HTTP/1.10\r\n\r\n", 400);
  expect_error("GET /a\x01z HTTP/1.1\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\rX: y\r\n\r\n", 400);
  std::string why = expect_error("BLAH\r\n\r\n", 400);
  EXPECT_NE(why.find("BLAH"), std::string::npos) << why;
}

TEST(RequestParser, RejectsOtherMajorVersionsWith505) {
  expect_error("GET / HTTP/2.0\r\n\r\n", 505);
  expect_error("GET / HTTP/0.9\r\n\r\n", 505);
  EXPECT_EQ(parse_one("GET / HTTP/1.2\r\n\r\n").version_minor, 2);
}

TEST(RequestParser, RejectsMalformedHeaderLines) {
  expect_error("GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nName : v\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\n: v\r\n\r\n", 400);
  expect_error("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 400);
  std::string why = expect_error("GET / HTTP/1.1\r\nA: b\r\n  folded\r\n\r\n", 400);
  EXPECT_NE(why.find("fold"), std::string::npos) << why;
}

TEST(RequestParser, HeaderSectionLimitIsEnforcedBeforeTheBlankLine) {
  Limits limits;
  limits.max_header_bytes = 64;
  RequestParser p(limits);
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\nX-Long: "), State::need_more);
  EXPECT_EQ(p.feed(std::string(64 - 25, 'a')), State::need_more);  // 63 bytes buffered
  EXPECT_EQ(p.feed("a"), State::error);                            // 64, still no blank line
  EXPECT_EQ(p.error_status(), 431);
  EXPECT_NE(p.error().find("64"), std::string::npos) << p.error();
  EXPECT_EQ(p.feed("\r\n\r\n"), State::error);  // stays failed
}

TEST(RequestParser, HeaderSectionExactlyAtTheLimitIsAccepted) {
  std::string head = "GET / HTTP/1.1\r\nX: " + std::string(10, 'a') + "\r\n\r\n";
  Limits limits;
  limits.max_header_bytes = head.size();
  EXPECT_EQ(parse_one(head, limits).header("x"), std::string(10, 'a'));
  limits.max_header_bytes = head.size() - 1;
  expect_error(head, 431, limits);
}

TEST(RequestParser, EndlessLineIsRefusedWithoutUnboundedBuffering) {
  RequestParser p;  // 16 KiB default
  State s = State::need_more;
  std::size_t fed = 0;
  while (s == State::need_more && fed < 1024 * 1024) {
    s = p.feed(std::string(1000, 'x'));
    fed += 1000;
  }
  EXPECT_EQ(s, State::error);
  EXPECT_EQ(p.error_status(), 431);
  EXPECT_LE(fed, 17u * 1024);
}

TEST(RequestParser, TooManyHeaders) {
  Limits limits;
  limits.max_header_count = 3;
  EXPECT_EQ(parse_one("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).headers.size(), 3u);
  expect_error("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431, limits);
}

TEST(RequestParser, TransferEncodingIsNotImplemented) {
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 5\r\ntransfer-encoding: gzip\r\n\r\n", 501);
}

TEST(RequestParser, ContentLengthValidation) {
  expect_error("POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400);
  expect_error("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", 400);
  Request same = parse_one("POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 02\r\n\r\nab");
  EXPECT_EQ(same.body, "ab");
}

TEST(RequestParser, OversizeBodyIsRefusedFromTheHeader) {
  Limits limits;
  limits.max_body_bytes = 10;
  EXPECT_EQ(parse_one("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", limits).body,
            "0123456789");
  // Refused as soon as the head is in: no body bytes needed.
  std::string why = expect_error("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", 413, limits);
  EXPECT_NE(why.find("11"), std::string::npos) << why;
  expect_error("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413);
}

TEST(RequestHeaders, CookieParsing) {
  Request r;
  r.headers = {{"Cookie", "webvpncontext=abc; webvpn=XYZ==; empty=; flag"},
               {"cookie", "second=2; webvpn=ignored"}};
  EXPECT_EQ(r.cookie("webvpn"), "XYZ==");
  EXPECT_EQ(r.cookie("webvpncontext"), "abc");
  EXPECT_EQ(r.cookie("empty"), "");
  EXPECT_EQ(r.cookie("second"), "2");
  EXPECT_FALSE(r.cookie("flag").has_value());
  EXPECT_FALSE(r.cookie("WEBVPN").has_value());  // cookie names are case-sensitive
  EXPECT_FALSE(r.cookie("web").has_value());
  r.headers = {{"Cookie", "a=b=c;webvpn = t1 "}};
  EXPECT_EQ(r.cookie("a"), "b=c");
  EXPECT_EQ(r.cookie("webvpn"), "t1");
  r.headers.clear();
  EXPECT_FALSE(r.cookie("webvpn").has_value());
}

TEST(RequestHeaders, KeepAlive) {
  Request r;
  EXPECT_TRUE(r.keep_alive());
  r.headers = {{"Connection", "close"}};
  EXPECT_FALSE(r.keep_alive());
  r.headers = {{"connection", "Upgrade, CLOSE"}};
  EXPECT_FALSE(r.keep_alive());
  r.version_minor = 0;
  r.headers.clear();
  EXPECT_FALSE(r.keep_alive());
  r.headers = {{"Connection", "Keep-Alive"}};
  EXPECT_TRUE(r.keep_alive());
}

TEST(Response, SerializesWithContentLength) {
  Response resp;
  resp.headers = {{"Content-Type", "text/xml"}, {"X-Transcend-Version", "1"}};
  resp.body = "<x/>";
  EXPECT_EQ(resp.serialize(),
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nX-Transcend-Version: 1\r\n"
            "Content-Length: 4\r\n\r\n<x/>");
}

TEST(Response, EmptyBodyStillDelimitedForKeepAlive) {
  Response resp;
  resp.status = 401;
  resp.reason = "Cookie is not acceptable";
  EXPECT_EQ(resp.serialize(), "HTTP/1.1 401 Cookie is not acceptable\r\nContent-Length: 0\r\n\r\n");
}

TEST(Response, ConnectSuccessHasNoContentLength) {
  Response resp;
  resp.reason = "CONNECTED";
  resp.omit_content_length = true;
  resp.headers = {{"X-CSTP-Address", "10.78.0.10"}, {"X-CSTP-MTU", "1400"}};
  EXPECT_EQ(resp.serialize(),
            "HTTP/1.1 200 CONNECTED\r\nX-CSTP-Address: 10.78.0.10\r\nX-CSTP-MTU: 1400\r\n\r\n");
}

TEST(Response, CallerContentLengthIsNotDuplicated) {
  Response resp;
  resp.headers = {{"content-length", "3"}};
  resp.body = "abc";
  EXPECT_EQ(resp.serialize(), "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc");
}

TEST(Response, EmptyReasonGetsAStandardPhrase) {
  Response resp;
  resp.status = 503;
  resp.reason.clear();
  EXPECT_TRUE(resp.serialize().starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
  resp.status = 299;
  EXPECT_TRUE(resp.serialize().starts_with("HTTP/1.1 299 "));
}

TEST(Response, LineBreaksInValuesCannotSplitTheHead) {
  Response resp;
  resp.reason = "OK\r\nX-Evil: 1";
  resp.headers = {{"X-CSTP-Banner", "line1\r\nline2\nSet-Cookie: x=y"}};
  std::string out = resp.serialize();
  EXPECT_EQ(out,
            "HTTP/1.1 200 OK  X-Evil: 1\r\nX-CSTP-Banner: line1  line2 Set-Cookie: x=y\r\n"
            "Content-Length: 0\r\n\r\n");
  // And what we send parses back as one head (a response is close enough to a request here).
  RequestParser p;
  EXPECT_EQ(p.feed("GET / HTTP/1.1\r\n" + out.substr(out.find("\r\n") + 2)), State::complete);
  EXPECT_EQ(p.take().headers.size(), 2u);
}

}  // namespace
}  // namespace tandem::http
