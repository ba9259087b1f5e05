#pragma once
// tandem-load's command line: a plain value, parsed without I/O except reading the password file.
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tandem::load {

using Seconds = std::chrono::duration<double>;

struct Options {
  std::string server_ip;  // literal address only: the tool never resolves names
  unsigned short server_port = 0;
  std::string user;
  std::string password_file;
  std::string password;  // first line of password_file
  std::size_t sessions = 0;
  std::size_t concurrency = 50;
  bool connect = false;
  // Each tunnel also sets up and holds a DTLS association (PSK-NEGOTIATE), as openconnect does.
  bool dtls = false;
  // nullopt = hold until SIGINT/SIGTERM ("--hold forever"); 0 = release each tunnel at once.
  std::optional<Seconds> hold = Seconds{0};
  std::optional<Seconds> keepalive;  // unset: the server's X-CSTP-Keepalive, else 20 s
  Seconds step_timeout{10};          // each TCP connect, handshake, request and response
  std::optional<Seconds> retry_for;  // unset: 30 s with --resume-from, else no retries
  std::string tokens_out;
  std::string resume_from;
  std::string pin;  // "pin-sha256:<base64>", empty = certificate not checked
  // Local addresses the connections are bound to, in turn (empty: the kernel's choice). One
  // source address reaches one server address:port from at most ~64k ports; more tunnels than
  // that need several.
  std::vector<std::string> sources;
  std::string report_json;
  // Written once, when every planned tunnel is up: "FIRST_MS LAST_MS TUNNELS", the wall-clock
  // times (Unix ms) the first and the last came up (a harness waits on this file instead of
  // polling the server).
  std::string ready_out;
  bool quiet = false;  // no per-session error lines, only the summary
  // A director's redirect (302 to an https://IP:port Location) answering the first request is
  // followed; the login, and the CONNECT, go to the member it names.
  bool follow_redirect = false;
  // Only the first request of each session, to a director: count its redirects (no login).
  bool redirect_only = false;
  std::string landed_out;  // one "INDEX AUTHORITY" line per session: where it logged in

  bool resume() const { return !resume_from.empty(); }
  bool holds_tunnels() const { return connect || resume(); }
  Seconds effective_retry_for() const {
    return retry_for.value_or(resume() ? Seconds{30} : Seconds{0});
  }
};

// The usage text, for --help and usage errors.
std::string usage_text();

// Parses argv[1..]. `--help` yields an error whose message is empty.
Result<Options> parse_options(const std::vector<std::string_view>& args);

// Reads FILE for --resume-from: one token per line; blank lines and '#' comments are skipped.
Result<std::vector<std::string>> read_tokens(const std::string& path);

}  // namespace tandem::load
