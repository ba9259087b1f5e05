#pragma once
// HTTP/1.1 requests as the AnyConnect client sends them: pure parsing, no I/O.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tandem::http {

struct Header {
  std::string name;   // as received
  std::string value;  // leading/trailing whitespace trimmed
};

struct Request {
  std::string method;     // "POST", "CONNECT", "GET", ...
  std::string target;     // "/", "/CSCOSSLC/tunnel", ...
  int version_minor = 1;  // HTTP/1.<minor>
  std::vector<Header> headers;
  std::string body;

  // First header with this name, case-insensitive.
  std::optional<std::string_view> header(std::string_view name) const;
  // Value of cookie `name` from the Cookie header(s), if present.
  std::optional<std::string> cookie(std::string_view name) const;
  bool keep_alive() const;  // HTTP/1.1 default yes unless "Connection: close"
};

struct Limits {
  std::size_t max_header_bytes = 16 * 1024;  // request line + headers + blank line
  std::size_t max_header_count = 64;
  std::size_t max_body_bytes = 64 * 1024;
};

// Incremental parser: feed bytes as they arrive. After `complete`, `take()` yields the request
// and any bytes after it stay buffered for the next request (pipelining / CONNECT tail).
class RequestParser {
 public:
  enum class State { need_more, complete, error };

  explicit RequestParser(Limits limits = {});

  State feed(std::string_view bytes);
  State state() const { return state_; }
  // Valid when state() == error: why, for the log ("header section over 16384 bytes").
  const std::string& error() const { return error_; }
  // HTTP status to answer an error with (400, 413, 431, 501, 505).
  int error_status() const { return error_status_; }

  // Valid when state() == complete; resets the parser for the next request, keeping
  // leftover bytes (and parsing them at once: check state() again afterwards).
  Request take();
  // Bytes received beyond the last request returned by take() (after CONNECT: the start of the
  // CSTP stream), exactly as received. If a completed request is still pending, only the bytes
  // after it are removed and it stays available to take(); otherwise the parser is reset to an
  // empty, error-free state.
  std::string take_leftover();

 private:
  State parse();
  State set_error(int status, std::string why);

  Limits limits_;
  State state_ = State::need_more;
  std::string buffer_;
  std::size_t head_end_ = 0;   // offset just past the blank line ending the head, 0 until found
  std::size_t scan_from_ = 0;  // where the blank-line search resumes, so feeding stays linear
  std::size_t body_length_ = 0;
  Request request_;
  std::string error_;
  int error_status_ = 400;
};

// A response head + body, serialized with Content-Length.
struct Response {
  int status = 200;
  std::string reason = "OK";  // empty: a standard phrase is used (the client needs one, §3.2)
  std::vector<Header> headers;
  std::string body;
  // A CONNECT success is followed by CSTP frames, not a body: it must carry no Content-Length.
  // When false, Content-Length: body.size() is added unless `headers` already has one.
  bool omit_content_length = false;

  std::string serialize() const;
};

}  // namespace tandem::http
