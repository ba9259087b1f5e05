#pragma once
// The client half of HTTP/1.1 that tandem-load needs: serialize a request, parse a response
// incrementally. Pure, no I/O. (node/http parses requests and builds responses: the server half.)
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "node/http/request.hpp"

namespace tandem::load {

struct HttpResponse {
  std::string status_line;  // "HTTP/1.1 200 CONNECTED", as received
  int version_minor = 1;
  int status = 0;
  std::string reason;
  std::vector<http::Header> headers;
  std::string body;

  // First header with this name, case-insensitive.
  std::optional<std::string_view> header(std::string_view name) const;
  // First header with exactly this name: openconnect matches X-CSTP-* case-sensitively, and so
  // do we, so that a mis-cased header fails here as it would in the real client.
  std::optional<std::string_view> header_exact(std::string_view name) const;
  bool keep_alive() const;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 never
};

struct ResponseLimits {
  std::size_t max_head_bytes = 16 * 1024;
  std::size_t max_header_count = 128;
  std::size_t max_body_bytes = 1024 * 1024;
};

// Feed bytes as they arrive. `head_only` is for CONNECT: the response has no body and whatever
// follows the blank line is the CSTP stream (take_leftover()).
class ResponseParser {
 public:
  enum class State { need_more, complete, error };

  explicit ResponseParser(bool head_only, ResponseLimits limits = {});

  State feed(std::string_view bytes);
  // The peer closed the connection: completes a body delimited by the close, else an error.
  State feed_eof();
  State state() const { return state_; }
  const std::string& error() const { return error_; }
  const HttpResponse& response() const { return response_; }  // valid when complete
  std::string take_leftover();                                // bytes after the complete response

 private:
  State parse();
  State parse_head();
  State parse_chunked();
  State set_error(std::string why);

  bool head_only_;
  ResponseLimits limits_;
  State state_ = State::need_more;
  std::string buffer_;
  std::size_t head_end_ = 0;  // offset past the blank line; 0 until found
  enum class Framing { none, length, chunked, until_close } framing_ = Framing::none;
  std::size_t content_length_ = 0;
  std::size_t consumed_ = 0;  // bytes of buffer_ that belong to the complete response
  HttpResponse response_;
  std::string error_;
};

// A request head plus body (Content-Length added when the body is not empty).
std::string build_request(std::string_view method, std::string_view target,
                          const std::vector<http::Header>& headers, std::string_view body);

// The client's cookie jar, as openconnect keeps it: name -> value, an empty value deletes.
using CookieJar = std::map<std::string, std::string>;
void store_cookies(const HttpResponse& response, CookieJar& jar);
std::string cookie_header(const CookieJar& jar);  // "a=1; b=2", empty if the jar is

}  // namespace tandem::load
