// The front door's HTTP parser (node/http), fed what a client may send: any bytes, cut anywhere.
//
// The input is the byte stream. It is parsed whole and again in chunks (sizes drawn from the
// input, down to single bytes), with the node's limits and with tight ones. Invariants:
//  - feeding never throws; an error carries a reason of printable ASCII and a status of
//    400/413/431/501/505;
//  - the requests, the final state and the leftover bytes do not depend on where the stream was
//    cut (the parser is incremental, so it must not matter);
//  - every request obeys the limits and the grammar the parser promises (token method and header
//    names, no control bytes in values or target, Content-Length equals the body);
//  - a request written back out parses to the same request;
//  - Response::serialize never lets a reason, header or body split its head.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/http/client_headers.hpp"
#include "node/http/request.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using tandem::http::Header;
using tandem::http::Limits;
using tandem::http::Request;
using tandem::http::RequestParser;
using tandem::http::Response;

struct Outcome {
  std::vector<Request> requests;
  RequestParser::State state = RequestParser::State::need_more;
  int error_status = 0;
  std::string error;
  std::string leftover;  // when not in error
};

bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}
bool printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}
// A Content-Length value the parser accepted: digits only; nullopt past 64 bits.
std::optional<std::uint64_t> digits_value(std::string_view s) {
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return s.empty() ? std::nullopt : std::optional<std::uint64_t>(v);
}

std::string describe(const Request& r) {
  std::string out = r.method + " " + r.target + " HTTP/1." + std::to_string(r.version_minor) +
                    " headers=" + std::to_string(r.headers.size()) +
                    " body=" + std::to_string(r.body.size());
  return out;
}

bool same(const Request& a, const Request& b) {
  if (a.method != b.method || a.target != b.target || a.version_minor != b.version_minor ||
      a.body != b.body || a.headers.size() != b.headers.size())
    return false;
  for (std::size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value)
      return false;
  }
  return true;
}

void check_request(const Request& r, const Limits& limits) {
  FUZZ_CHECK(is_token(r.method), describe(r));
  FUZZ_CHECK(!r.target.empty(), describe(r));
  FUZZ_CHECK(std::all_of(r.target.begin(), r.target.end(),
                         [](char c) { return static_cast<unsigned char>(c) > 0x20 && c != 0x7f; }),
             describe(r));
  FUZZ_CHECK(r.version_minor >= 0 && r.version_minor <= 9, describe(r));
  FUZZ_CHECK(r.headers.size() <= limits.max_header_count, describe(r));
  FUZZ_CHECK(r.body.size() <= limits.max_body_bytes, describe(r));
  for (const Header& h : r.headers) {
    FUZZ_CHECK(is_token(h.name), h.name);
    FUZZ_CHECK(!iequals(h.name, "Transfer-Encoding"), "a Transfer-Encoding request was accepted");
    for (char c : h.value) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7f), "control byte in the value of " + h.name);
    }
    if (!h.value.empty()) {
      FUZZ_CHECK(h.value.front() != ' ' && h.value.front() != '\t', "untrimmed " + h.name);
      FUZZ_CHECK(h.value.back() != ' ' && h.value.back() != '\t', "untrimmed " + h.name);
    }
  }
  if (auto cl = r.header("Content-Length")) {
    const auto n = digits_value(*cl);
    FUZZ_CHECK(n && *n == r.body.size(), "Content-Length " + std::string(*cl) + " but a body of " +
                                             std::to_string(r.body.size()));
  } else {
    FUZZ_CHECK(r.body.empty(), "a body without Content-Length");
  }
  // The accessors the login and CONNECT code call on every request.
  (void)r.keep_alive();
  (void)r.header("Host");
  if (auto c = r.cookie("webvpn")) {
    FUZZ_CHECK(c->find(';') == std::string::npos, "cookie value spans a ';'");
    FUZZ_CHECK(c->empty() || (c->front() != ' ' && c->back() != ' '), "untrimmed cookie");
  }
  // The session token and Cisco's headers: what they accept stays inside the documented shapes.
  if (auto t = session_token(r)) {
    FUZZ_CHECK(!t->empty() && t->size() <= tandem::http::kMaxSessionToken,
               "token of " + std::to_string(t->size()));
    for (char c : *t) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u > 0x20 && u < 0x7f && c != ';' && c != ',' && c != '"' && c != '\\',
                 "token byte " + std::to_string(u));
    }
  }
  if (auto h = read_client_headers(r)) {
    FUZZ_CHECK(h->platform.size() <= tandem::http::kMaxPlatform, "platform too long");
    FUZZ_CHECK(h->cstp_protocol.size() <= tandem::http::kMaxCstpProtocol,
               "X-CSTP-Protocol too long");
  }
}

Outcome run(std::string_view input, const std::vector<std::size_t>& chunks, const Limits& limits) {
  RequestParser parser(limits);
  Outcome out;
  std::size_t at = 0;
  for (std::size_t n : chunks) {
    RequestParser::State s = parser.feed(input.substr(at, n));
    at += n;
    while (s == RequestParser::State::complete) {
      out.requests.push_back(parser.take());
      s = parser.state();
    }
    if (s == RequestParser::State::error) break;
  }
  out.state = parser.state();
  if (out.state == RequestParser::State::error) {
    out.error_status = parser.error_status();
    out.error = parser.error();
    FUZZ_CHECK(!out.error.empty(), "an error without a reason");
    FUZZ_CHECK(printable_ascii(out.error), "unprintable error reason");
    const int st = out.error_status;
    FUZZ_CHECK(st == 400 || st == 413 || st == 431 || st == 501 || st == 505,
               "error status " + std::to_string(st));
    // After an error the parser keeps refusing, and take_leftover() resets it for good.
    FUZZ_CHECK(parser.feed("GET / HTTP/1.1\r\n\r\n") == RequestParser::State::error);
    (void)parser.take_leftover();
    FUZZ_CHECK(parser.state() == RequestParser::State::need_more && parser.error().empty());
  } else {
    FUZZ_CHECK(out.state == RequestParser::State::need_more);
    out.leftover = parser.take_leftover();
  }
  for (const Request& r : out.requests) check_request(r, limits);
  return out;
}

void compare(const Outcome& whole, const Outcome& cut) {
  FUZZ_CHECK(whole.requests.size() == cut.requests.size(),
             "whole: " + std::to_string(whole.requests.size()) +
                 " requests, in chunks: " + std::to_string(cut.requests.size()));
  for (std::size_t i = 0; i < whole.requests.size(); ++i) {
    FUZZ_CHECK(same(whole.requests[i], cut.requests[i]),
               describe(whole.requests[i]) + " vs " + describe(cut.requests[i]));
  }
  FUZZ_CHECK(whole.state == cut.state, "final state depends on the chunking");
  FUZZ_CHECK(whole.error_status == cut.error_status && whole.error == cut.error,
             whole.error + " vs " + cut.error);
  FUZZ_CHECK(whole.leftover == cut.leftover, "leftover depends on the chunking");
}

// The request as a client would have written it, with canonical spacing.
std::string write(const Request& r) {
  std::string out =
      r.method + " " + r.target + " HTTP/1." + std::to_string(r.version_minor) + "\r\n";
  for (const Header& h : r.headers) out += h.name + ": " + h.value + "\r\n";
  return out + "\r\n" + r.body;
}

void check_round_trip(const Request& r) {
  Limits unlimited{std::size_t(1) << 30, 1u << 20, std::size_t(1) << 30};
  RequestParser again(unlimited);
  const std::string bytes = write(r);
  FUZZ_CHECK(again.feed(bytes) == RequestParser::State::complete,
             "a request written back out does not parse: " + again.error());
  Request back = again.take();
  FUZZ_CHECK(same(back, r), describe(r) + " came back as " + describe(back));
  FUZZ_CHECK(again.take_leftover().empty(), "bytes left after a rewritten request");
}

void check_response(const Request& r) {
  Response resp;
  resp.status = 200 + static_cast<int>(r.body.size() % 400);
  resp.reason = r.body.substr(0, 64);  // may hold CR and LF
  resp.headers = r.headers;
  resp.body = r.body;
  resp.omit_content_length = r.target.size() % 2 == 0;
  const std::string s = resp.serialize();
  const auto head_end = s.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string::npos, "a response without a head");
  const std::string_view head = std::string_view(s).substr(0, head_end);
  std::size_t lines = 1;
  for (std::size_t at = head.find("\r\n"); at != std::string_view::npos;
       at = head.find("\r\n", at + 2))
    ++lines;
  bool has_length = false;
  for (const auto& h : r.headers) has_length = has_length || iequals(h.name, "Content-Length");
  const std::size_t expected = 1 + r.headers.size() + (!resp.omit_content_length && !has_length);
  FUZZ_CHECK(lines == expected, "response head has " + std::to_string(lines) + " lines, expected " +
                                    std::to_string(expected));
  FUZZ_CHECK(std::count(head.begin(), head.end(), '\n') == static_cast<long>(lines - 1) &&
                 std::count(head.begin(), head.end(), '\r') == static_cast<long>(lines - 1),
             "a bare CR or LF in a response head");
  FUZZ_CHECK(s.substr(head_end + 4) == r.body, "response body changed");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tandem::fuzz::as_chars(data, size);
  tandem::fuzz::Rng rng(input);
  const std::vector<std::size_t> whole =
      size ? std::vector<std::size_t>{size} : std::vector<std::size_t>{};
  const std::vector<std::size_t> cut = tandem::fuzz::chunk_sizes(size, rng);

  const Limits node_limits{};  // as the front door uses them (defaults.hpp has the same values)
  const Limits tight{64 + rng.below(512), 1 + rng.below(8), rng.below(256)};
  for (const Limits& limits : {node_limits, tight}) {
    const Outcome a = run(input, whole, limits);
    const Outcome b = run(input, cut, limits);
    compare(a, b);
    for (const Request& r : a.requests) {
      check_round_trip(r);
      check_response(r);
    }
  }
  return 0;
}
