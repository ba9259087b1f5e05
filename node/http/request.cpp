#include "node/http/request.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <utility>

namespace tandem::http {
namespace {

constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return to_lower(x) == to_lower(y);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 tchar: what methods and header names may be made of.
bool is_tchar(char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_tchar);
}

bool is_value_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

bool is_target_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u != 0x7f;
}

// Client bytes end up in log lines: keep them printable and short.
std::string printable(std::string_view s, std::size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (s.size() > max) out += "...";
  return out;
}

// Calls f(token) for each comma- or semicolon-separated, trimmed piece of a header value.
template <class F>
void for_each_item(std::string_view list, char separator, F&& f) {
  while (true) {
    auto cut = list.find(separator);
    f(trim(list.substr(0, cut)));
    if (cut == std::string_view::npos) return;
    list.remove_prefix(cut + 1);
  }
}

struct Failure {
  int status;
  std::string why;
};

std::optional<Failure> parse_request_line(std::string_view line, Request& req) {
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return Failure{400, "malformed request line \"" + printable(line) + "\""};
  }
  auto method = line.substr(0, sp1);
  auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  auto version = line.substr(sp2 + 1);
  if (!is_token(method) || target.empty() ||
      !std::all_of(target.begin(), target.end(), is_target_char)) {
    return Failure{400, "malformed request line \"" + printable(line) + "\""};
  }
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  if (version.size() != 8 || !version.starts_with("HTTP/") || !is_digit(version[5]) ||
      version[6] != '.' || !is_digit(version[7])) {
    return Failure{400, "malformed HTTP version \"" + printable(version) + "\""};
  }
  if (version[5] != '1') return Failure{505, "unsupported version " + std::string(version)};
  req.method = method;
  req.target = target;
  req.version_minor = version[7] - '0';
  return std::nullopt;
}

// Parses the head (request line up to and including the blank line) into `req`.
std::optional<Failure> parse_head(std::string_view head, const Limits& limits, Request& req,
                                  std::size_t& body_length) {
  bool first = true;
  std::optional<std::uint64_t> content_length;
  while (!head.empty()) {
    auto nl = head.find('\n');  // always found: the head ends with a blank line
    auto line = head.substr(0, nl);
    head.remove_prefix(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    // A CR that does not end a line is how request smuggling starts; nobody legitimate sends one.
    if (line.find('\r') != std::string_view::npos) return Failure{400, "bare CR in request head"};
    if (first) {
      first = false;
      if (auto f = parse_request_line(line, req)) return f;
      continue;
    }
    if (line.empty()) break;
    if (line.front() == ' ' || line.front() == '\t') {
      return Failure{400, "obsolete header line folding is not supported"};
    }
    auto colon = line.find(':');
    if (colon == std::string_view::npos) {
      return Failure{400, "header line without a colon \"" + printable(line) + "\""};
    }
    auto name = line.substr(0, colon);
    if (!is_token(name)) return Failure{400, "invalid header name \"" + printable(name) + "\""};
    auto value = trim(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_value_char)) {
      return Failure{400, "control character in header " + std::string(name)};
    }
    if (req.headers.size() >= limits.max_header_count) {
      return Failure{431,
                     "more than " + std::to_string(limits.max_header_count) + " header fields"};
    }
    if (iequals(name, "Transfer-Encoding")) {
      return Failure{501, "Transfer-Encoding \"" + printable(value) + "\" is not supported"};
    }
    if (iequals(name, "Content-Length")) {
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (end != value.data() + value.size() ||
          (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        return Failure{400, "invalid Content-Length \"" + printable(value) + "\""};
      }
      if (ec == std::errc::result_out_of_range) n = UINT64_MAX;
      if (content_length && *content_length != n) {
        return Failure{400, "conflicting Content-Length headers"};
      }
      content_length = n;
    }
    req.headers.push_back(Header{std::string(name), std::string(value)});
  }
  body_length = 0;
  if (content_length) {
    if (*content_length > limits.max_body_bytes) {
      return Failure{413, "body of " + std::to_string(*content_length) + " bytes over the " +
                              std::to_string(limits.max_body_bytes) + "-byte limit"};
    }
    body_length = static_cast<std::size_t>(*content_length);
  }
  return std::nullopt;
}

const char* default_reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

// A CR or LF inside a configured value (a banner, a reason) would split the response head.
void append_sanitized(std::string& out, std::string_view s) {
  for (char c : s) out += (c == '\r' || c == '\n') ? ' ' : c;
}

}  // namespace

std::optional<std::string_view> Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::optional<std::string> Request::cookie(std::string_view name) const {
  std::optional<std::string> found;
  for (const auto& h : headers) {
    if (found || !iequals(h.name, "Cookie")) continue;
    for_each_item(h.value, ';', [&](std::string_view pair) {
      auto eq = pair.find('=');
      if (found || eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) return;
      found = std::string(trim(pair.substr(eq + 1)));  // '=' in the value (base64) is kept
    });
  }
  return found;
}

bool Request::keep_alive() const {
  bool close = false;
  bool keep = false;
  for (const auto& h : headers) {
    if (!iequals(h.name, "Connection")) continue;
    for_each_item(h.value, ',', [&](std::string_view option) {
      close = close || iequals(option, "close");
      keep = keep || iequals(option, "keep-alive");
    });
  }
  if (close) return false;
  return version_minor >= 1 || keep;
}

RequestParser::RequestParser(Limits limits) : limits_(limits) {}

RequestParser::State RequestParser::feed(std::string_view bytes) {
  // After an error the connection is answered and closed; keeping input would only cost memory.
  if (state_ == State::error) return state_;
  buffer_.append(bytes);
  if (state_ == State::complete) return state_;  // parsed once the pending request is taken
  return parse();
}

RequestParser::State RequestParser::parse() {
  if (head_end_ == 0) {
    // RFC 9112 §2.2: empty lines before a request line are ignored (some clients send a CRLF
    // after a POST body). They are skipped, not erased, so take_leftover() stays byte-exact;
    // at most two, so that a stream of them is a bad request rather than work per byte.
    std::size_t start = 0;
    for (int skipped = 0; skipped < 2; ++skipped) {
      if (buffer_.compare(start, 1, "\n") == 0) {
        start += 1;
      } else if (buffer_.compare(start, 2, "\r\n") == 0) {
        start += 2;
      }
    }
    std::size_t end = 0;
    std::size_t i = std::max(scan_from_, start);
    for (; i < buffer_.size(); ++i) {
      if (buffer_[i] != '\n') continue;
      if (i + 1 >= buffer_.size()) break;
      if (buffer_[i + 1] == '\n') {
        end = i + 2;
        break;
      }
      if (buffer_[i + 1] != '\r') continue;
      if (i + 2 >= buffer_.size()) break;
      if (buffer_[i + 2] == '\n') {
        end = i + 3;
        break;
      }
    }
    scan_from_ = i;
    // Counted from the start of the buffer (leading empty lines included) so that a peer that
    // never sends a blank line cannot make us hold more than the limit. Without a blank line yet,
    // reaching the limit is enough: the head can only get longer.
    if (end == 0 ? buffer_.size() >= limits_.max_header_bytes : end > limits_.max_header_bytes) {
      return set_error(
          431, "header section over " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    if (end == 0) return state_ = State::need_more;
    head_end_ = end;
    request_ = Request{};
    std::string_view head(buffer_);
    if (auto f = parse_head(head.substr(start, end - start), limits_, request_, body_length_)) {
      return set_error(f->status, std::move(f->why));
    }
  }
  if (buffer_.size() - head_end_ < body_length_) return state_ = State::need_more;
  request_.body = buffer_.substr(head_end_, body_length_);
  return state_ = State::complete;
}

RequestParser::State RequestParser::set_error(int status, std::string why) {
  error_status_ = status;
  error_ = std::move(why);
  return state_ = State::error;
}

Request RequestParser::take() {
  if (state_ != State::complete) return Request{};
  Request out = std::move(request_);
  buffer_.erase(0, head_end_ + body_length_);
  request_ = Request{};
  head_end_ = 0;
  scan_from_ = 0;
  body_length_ = 0;
  state_ = State::need_more;
  if (!buffer_.empty()) parse();
  return out;
}

std::string RequestParser::take_leftover() {
  if (state_ == State::complete) {
    std::size_t end = head_end_ + body_length_;
    std::string rest = buffer_.substr(end);
    buffer_.resize(end);
    return rest;
  }
  std::string rest = std::move(buffer_);
  buffer_.clear();
  request_ = Request{};
  head_end_ = 0;
  scan_from_ = 0;
  body_length_ = 0;
  error_.clear();
  error_status_ = 400;
  state_ = State::need_more;
  return rest;
}

std::string Response::serialize() const {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " ";
  append_sanitized(out, reason.empty() ? std::string_view(default_reason(status)) : reason);
  out += "\r\n";
  bool has_length = false;
  for (const auto& h : headers) {
    has_length = has_length || iequals(h.name, "Content-Length");
    append_sanitized(out, h.name);
    out += ": ";
    append_sanitized(out, h.value);
    out += "\r\n";
  }
  if (!omit_content_length && !has_length) {
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  out += "\r\n";
  out += body;
  return out;
}

}  // namespace tandem::http
