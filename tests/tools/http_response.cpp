#include "tests/tools/http_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace tandem::load {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Does `list` (a comma-separated header value) contain `token`, case-insensitively?
bool has_token(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    auto comma = list.find(',');
    if (iequals(trim(list.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (iequals(h.name, name)) return std::string_view(h.value);
  }
  return std::nullopt;
}

std::optional<std::string_view> HttpResponse::header_exact(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return std::string_view(h.value);
  }
  return std::nullopt;
}

bool HttpResponse::keep_alive() const {
  auto connection = header("Connection");
  if (version_minor == 0) return connection && has_token(*connection, "keep-alive");
  return !connection || !has_token(*connection, "close");
}

ResponseParser::ResponseParser(bool head_only, ResponseLimits limits)
    : head_only_(head_only), limits_(limits) {}

ResponseParser::State ResponseParser::set_error(std::string why) {
  error_ = std::move(why);
  state_ = State::error;
  return state_;
}

ResponseParser::State ResponseParser::feed(std::string_view bytes) {
  if (state_ != State::need_more) return state_;
  buffer_.append(bytes);
  return parse();
}

ResponseParser::State ResponseParser::feed_eof() {
  if (state_ != State::need_more) return state_;
  if (head_end_ != 0 && framing_ == Framing::until_close) {
    response_.body = buffer_.substr(head_end_);
    consumed_ = buffer_.size();
    state_ = State::complete;
    return state_;
  }
  return set_error(head_end_ == 0 ? "connection closed before a complete response head"
                                  : "connection closed in the middle of the response body");
}

ResponseParser::State ResponseParser::parse() {
  if (head_end_ == 0) {
    if (auto s = parse_head(); s != State::complete) return s;
    if (state_ == State::error) return state_;
  }
  switch (framing_) {
    case Framing::none:
      consumed_ = head_end_;
      state_ = State::complete;
      return state_;
    case Framing::length:
      if (buffer_.size() - head_end_ < content_length_) return State::need_more;
      response_.body = buffer_.substr(head_end_, content_length_);
      consumed_ = head_end_ + content_length_;
      state_ = State::complete;
      return state_;
    case Framing::chunked:
      return parse_chunked();
    case Framing::until_close:
      if (buffer_.size() - head_end_ > limits_.max_body_bytes) {
        return set_error("response body over " + std::to_string(limits_.max_body_bytes) + " bytes");
      }
      return State::need_more;
  }
  return set_error("unreachable framing");
}

// Returns complete once the head is parsed (the body may still be missing).
ResponseParser::State ResponseParser::parse_head() {
  for (;;) {
    auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (buffer_.size() > limits_.max_head_bytes) {
        return set_error("response head over " + std::to_string(limits_.max_head_bytes) + " bytes");
      }
      return State::need_more;
    }
    std::string_view head(buffer_.data(), end);
    auto line_end = head.find("\r\n");
    std::string_view status_line = head.substr(0, line_end);
    // "HTTP/1.x NNN reason"
    if (status_line.size() < 12 || !status_line.starts_with("HTTP/1.") ||
        (status_line[7] != '0' && status_line[7] != '1') || status_line[8] != ' ' ||
        (status_line.size() > 12 && status_line[12] != ' ')) {
      return set_error("not an HTTP/1.x status line: '" + std::string(status_line.substr(0, 60)) +
                       "'");
    }
    int status = 0;
    auto [p, ec] = std::from_chars(status_line.data() + 9, status_line.data() + 12, status);
    if (ec != std::errc() || p != status_line.data() + 12 || status < 100) {
      return set_error("bad status code in '" + std::string(status_line.substr(0, 60)) + "'");
    }
    if (status == 100) {
      // "100 Continue" is skipped, as openconnect does.
      buffer_.erase(0, end + 4);
      continue;
    }
    response_ = HttpResponse{};
    response_.status_line = std::string(status_line);
    response_.version_minor = status_line[7] - '0';
    response_.status = status;
    response_.reason = status_line.size() > 13 ? std::string(status_line.substr(13)) : "";
    std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
    while (!rest.empty()) {
      auto eol = rest.find("\r\n");
      std::string_view line = rest.substr(0, eol);
      rest = eol == std::string_view::npos ? "" : rest.substr(eol + 2);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return set_error("malformed header line '" + std::string(line.substr(0, 60)) + "'");
      }
      if (response_.headers.size() >= limits_.max_header_count) {
        return set_error("more than " + std::to_string(limits_.max_header_count) + " headers");
      }
      response_.headers.push_back(
          {std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1)))});
    }
    head_end_ = end + 4;
    break;
  }
  if (head_only_) {
    framing_ = Framing::none;
  } else if (auto te = response_.header("Transfer-Encoding"); te && has_token(*te, "chunked")) {
    framing_ = Framing::chunked;
  } else if (auto cl = response_.header("Content-Length")) {
    std::size_t n = 0;
    auto [p, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec != std::errc() || p != cl->data() + cl->size()) {
      return set_error("bad Content-Length '" + std::string(*cl) + "'");
    }
    if (n > limits_.max_body_bytes) {
      return set_error("Content-Length " + std::to_string(n) + " over the limit");
    }
    framing_ = Framing::length;
    content_length_ = n;
  } else if (response_.status == 204 || response_.status == 304 || response_.status < 200) {
    framing_ = Framing::none;
  } else {
    framing_ = Framing::until_close;
  }
  return State::complete;
}

// Decodes the whole chunked body from the start each time more bytes arrive: bodies are small
// here, and restarting keeps the state machine trivial.
ResponseParser::State ResponseParser::parse_chunked() {
  std::string body;
  std::size_t pos = head_end_;
  for (;;) {
    auto eol = buffer_.find("\r\n", pos);
    if (eol == std::string::npos) return State::need_more;
    std::string_view size_line(buffer_.data() + pos, eol - pos);
    size_line = size_line.substr(0, size_line.find(';'));  // chunk extensions are ignored
    std::size_t size = 0;
    auto [p, ec] = std::from_chars(size_line.data(), size_line.data() + size_line.size(), size, 16);
    if (ec != std::errc() || size_line.empty()) {
      return set_error("bad chunk size line '" + std::string(size_line.substr(0, 20)) + "'");
    }
    pos = eol + 2;
    if (size == 0) {
      // Trailers (ignored) end with an empty line.
      for (;;) {
        auto t = buffer_.find("\r\n", pos);
        if (t == std::string::npos) return State::need_more;
        bool empty = t == pos;
        pos = t + 2;
        if (empty) break;
      }
      response_.body = std::move(body);
      consumed_ = pos;
      state_ = State::complete;
      return state_;
    }
    if (body.size() + size > limits_.max_body_bytes)
      return set_error("chunked body over the limit");
    if (buffer_.size() < pos + size + 2) return State::need_more;
    body.append(buffer_, pos, size);
    pos += size;
    if (buffer_.compare(pos, 2, "\r\n") != 0) return set_error("chunk not followed by CRLF");
    pos += 2;
  }
}

std::string ResponseParser::take_leftover() {
  if (state_ != State::complete) return {};
  std::string rest = buffer_.substr(consumed_);
  buffer_.resize(consumed_);
  return rest;
}

std::string build_request(std::string_view method, std::string_view target,
                          const std::vector<http::Header>& headers, std::string_view body) {
  std::string out;
  out.reserve(512 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  for (const auto& h : headers) out.append(h.name).append(": ").append(h.value).append("\r\n");
  if (!body.empty())
    out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  out.append("\r\n").append(body);
  return out;
}

void store_cookies(const HttpResponse& response, CookieJar& jar) {
  for (const auto& h : response.headers) {
    if (!iequals(h.name, "Set-Cookie")) continue;
    // name=value is everything before the first ';'; '=' inside the value is kept.
    std::string_view pair = std::string_view(h.value).substr(0, h.value.find(';'));
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0) continue;
    std::string name(trim(pair.substr(0, eq)));
    std::string value(trim(pair.substr(eq + 1)));
    if (value.empty()) {
      jar.erase(name);
    } else {
      jar[name] = std::move(value);
    }
  }
}

std::string cookie_header(const CookieJar& jar) {
  std::string out;
  for (const auto& [name, value] : jar) {
    if (!out.empty()) out += "; ";
    out += name + "=" + value;
  }
  return out;
}

}  // namespace tandem::load
