#include "tests/tools/load_options.hpp"

#include <boost/asio/ip/address.hpp>
#include <charconv>
#include <cmath>
#include <fstream>

namespace tandem::load {
namespace {

Result<std::size_t> parse_count(std::string_view flag, std::string_view text, std::size_t max) {
  std::size_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0 || v > max) {
    return fail(std::string(flag) + ": expected a whole number 1.." + std::to_string(max) +
                ", got '" + std::string(text) + "'");
  }
  return v;
}

// Seconds may be fractional ("0.5"), so tests can run timers in milliseconds.
Result<Seconds> parse_seconds(std::string_view flag, std::string_view text, bool allow_zero) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < 0 ||
      (v == 0 && !allow_zero) || v > 7 * 24 * 3600) {
    return fail(std::string(flag) + ": expected seconds (" + (allow_zero ? "0" : "over 0") +
                " up to 604800), got '" + std::string(text) + "'");
  }
  return Seconds{v};
}

// "IP:PORT" or "[IPv6]:PORT". A name is refused: tests must say exactly where to connect.
Result<bool> parse_server(std::string_view text, Options& o) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos)
    return fail("--server: expected IP:PORT, got '" + std::string(text) + "'");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return fail("--server: '" + std::string(host) + "' is not an IP address");
  auto port = parse_count("--server port", text.substr(colon + 1), 65535);
  if (!port) return fail(port.error());
  o.server_ip = address.to_string();
  o.server_port = static_cast<unsigned short>(*port);
  return true;
}

// "--source A,B,...": literal addresses of the same family as --server (checked later).
Result<bool> parse_sources(std::string_view text, Options& o) {
  o.sources.clear();
  while (true) {
    auto comma = text.find(',');
    std::string item(text.substr(0, comma));
    boost::system::error_code ec;
    auto address = boost::asio::ip::make_address(item, ec);
    if (ec) return fail("--source: '" + item + "' is not an IP address");
    if (address.is_unspecified()) return fail("--source: '" + item + "' is not a local address");
    o.sources.push_back(address.to_string());
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  if (o.sources.size() > 256) return fail("--source: at most 256 addresses");
  return true;
}

Result<std::string> read_password(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail("--password-file: cannot read " + path);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  if (line.empty()) return fail("--password-file: " + path + " has an empty first line");
  return line;
}

// One flag with its value.
Result<bool> apply(std::string_view flag, std::string_view v, Options& o) {
  auto count = [&](std::size_t& out, std::size_t max) -> Result<bool> {
    auto n = parse_count(flag, v, max);
    if (!n) return fail(n.error());
    out = *n;
    return true;
  };
  auto seconds = [&](auto& out, bool allow_zero) -> Result<bool> {
    auto s = parse_seconds(flag, v, allow_zero);
    if (!s) return fail(s.error());
    out = *s;
    return true;
  };
  if (flag == "--server") return parse_server(v, o);
  if (flag == "--source") return parse_sources(v, o);
  if (flag == "--sessions") return count(o.sessions, 1'000'000);
  if (flag == "--concurrency") return count(o.concurrency, 10'000);
  if (flag == "--keepalive") return seconds(o.keepalive, false);
  if (flag == "--retry-for") return seconds(o.retry_for, true);
  if (flag == "--step-timeout") return seconds(o.step_timeout, false);
  if (flag == "--hold") {
    if (v == "forever") {
      o.hold.reset();
      return true;
    }
    return seconds(o.hold, true);
  }
  std::string* text = flag == "--user"            ? &o.user
                      : flag == "--password-file" ? &o.password_file
                      : flag == "--tokens-out"    ? &o.tokens_out
                      : flag == "--resume-from"   ? &o.resume_from
                      : flag == "--pin"           ? &o.pin
                      : flag == "--report-json"   ? &o.report_json
                      : flag == "--landed-out"    ? &o.landed_out
                      : flag == "--ready-out"     ? &o.ready_out
                                                  : nullptr;
  if (!text) return fail("unknown option '" + std::string(flag) + "'");
  if (v.empty()) return fail(std::string(flag) + ": empty value");
  *text = v;
  return true;
}

}  // namespace

std::string usage_text() {
  return R"(usage: tandem-load --server IP:PORT --user U --password-file F --sessions N [options]
       tandem-load --server IP:PORT --resume-from FILE [options]

Creates and holds many AnyConnect sessions against one headend address (no DNS), or through a
director's redirect to the member it names.

  --server IP:PORT      headend address ([v6]:port for IPv6)
  --user U              login name for every session
  --password-file F     the password is the first line of F
  --sessions N          sessions to log in
  --concurrency C       logins/CONNECTs in progress at once (default 50)
  --connect             after each login, CONNECT /CSCOSSLC/tunnel on a fresh TLS connection
  --dtls                each tunnel also offers DTLS (PSK-NEGOTIATE) and holds the DTLS
                        association the server accepts (one UDP socket per tunnel)
  --hold SECONDS|forever  keep the tunnels up this long after the last one is set up, then
                        close them without a BYE (sessions stay resumable); default 0
  --keepalive SECONDS   CSTP keepalive interval (default: the server's X-CSTP-Keepalive, or 20)
  --tokens-out FILE     append each session token on its own line as soon as it is received
  --resume-from FILE    no logins: CONNECT with each token in FILE (one per line) and count
                        200 / 401 / 503 / other / connection failures
  --retry-for SECONDS   retry a CONNECT failing with a connection error or 503 until this long
                        after its first attempt (default 30 with --resume-from, else 0)
  --step-timeout SECONDS  deadline of each TCP connect, TLS handshake, request, response (10)
  --source A[,B,...]    bind each TCP connection to the next of these local addresses in turn
                        (one address reaches one server port from at most ~64k ports)
  --pin pin-sha256:B64  require the server's public key to have this SHA-256 pin
  --report-json FILE    write the summary as JSON too
  --ready-out FILE      once every planned tunnel is up, write "FIRST_MS LAST_MS TUNNELS" to
                        FILE: the wall-clock times (Unix ms) the first and the last came up
  --quiet               no per-session error lines on stderr, only the summary
  --follow-redirect     a redirect answering the first POST (a director's 302 with an absolute
                        Location https://IP:PORT/path) is followed once: the login and the
                        CONNECT go to that member; a Location that does not parse fails the session
  --redirect-only       each session is only the first POST, to a director: it succeeds on a
                        redirect with a valid Location (no login; --user/--password-file unused)
  --landed-out FILE     one line "INDEX IP:PORT" per session: the server it logged in at (with
                        --redirect-only: the member it was sent to)

Exit status: 0 every session (or token) succeeded, 1 some failed, 2 usage or set-up error.
Tunnels that the server closes during --hold are reported but do not change the exit status.
)";
}

Result<Options> parse_options(const std::vector<std::string_view>& args) {
  Options o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view flag = args[i];
    if (flag == "--help" || flag == "-h") return fail("");
    if (flag == "--connect" || flag == "--quiet" || flag == "--follow-redirect" ||
        flag == "--redirect-only" || flag == "--dtls") {
      (flag == "--connect"           ? o.connect
       : flag == "--quiet"           ? o.quiet
       : flag == "--follow-redirect" ? o.follow_redirect
       : flag == "--dtls"            ? o.dtls
                                     : o.redirect_only) = true;
      continue;
    }
    if (!flag.starts_with("--")) return fail("unexpected argument '" + std::string(flag) + "'");
    std::string_view value;
    if (auto eq = flag.find('='); eq != std::string_view::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return fail(std::string(flag) + " needs a value");
    }
    if (auto r = apply(flag, value, o); !r) return fail(r.error());
  }

  if (o.server_ip.empty()) return fail("--server IP:PORT is required");
  if (o.dtls && !o.holds_tunnels()) return fail("--dtls needs --connect or --resume-from");
  const bool server_v6 = boost::asio::ip::make_address(o.server_ip).is_v6();
  for (const auto& source : o.sources) {
    if (boost::asio::ip::make_address(source).is_v6() != server_v6) {
      return fail("--source " + source + ": not the address family of --server");
    }
  }
  if (!o.pin.empty()) {
    constexpr std::string_view kPrefix = "pin-sha256:";
    if (!o.pin.starts_with(kPrefix) || o.pin.size() != kPrefix.size() + 44) {
      return fail("--pin: expected pin-sha256:<44 base64 characters>, got '" + o.pin + "'");
    }
  }
  if (o.resume()) {
    if (o.follow_redirect || o.redirect_only || !o.landed_out.empty()) {
      return fail(
          "--resume-from CONNECTs to --server itself: no --follow-redirect/"
          "--redirect-only/--landed-out");
    }
    if (o.sessions != 0 || !o.user.empty() || !o.password_file.empty() || !o.tokens_out.empty()) {
      return fail(
          "--resume-from replaces logging in: drop --sessions/--user/--password-file/"
          "--tokens-out");
    }
    return o;
  }
  if (o.redirect_only) {
    if (o.sessions == 0) return fail("--sessions N is required");
    if (o.connect || o.follow_redirect || !o.tokens_out.empty() || o.hold != Seconds{0}) {
      return fail(
          "--redirect-only sends only the first request: no --connect/--follow-redirect/"
          "--tokens-out/--hold");
    }
    return o;
  }
  if (o.user.empty()) return fail("--user is required (or --resume-from)");
  if (o.password_file.empty()) return fail("--password-file is required");
  if (o.sessions == 0) return fail("--sessions N is required");
  if (!o.connect && o.hold != Seconds{0}) return fail("--hold needs --connect or --resume-from");
  auto password = read_password(o.password_file);
  if (!password) return fail(password.error());
  o.password = std::move(*password);
  return o;
}

Result<std::vector<std::string>> read_tokens(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail("--resume-from: cannot read " + path);
  std::vector<std::string> tokens;
  std::string line;
  std::size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#') continue;
    auto last = line.find_last_not_of(" \t\r");
    std::string token = line.substr(first, last - first + 1);
    // The token goes into a Cookie header: refuse what would break or forge the header.
    for (char c : token) {
      auto u = static_cast<unsigned char>(c);
      if (u <= 0x20 || u >= 0x7f || c == ';' || c == ',') {
        return fail("--resume-from: " + path + " line " + std::to_string(number) +
                    ": not a token (spaces, ';', ',' or control characters)");
      }
    }
    tokens.push_back(std::move(token));
  }
  if (tokens.empty()) return fail("--resume-from: no tokens in " + path);
  return tokens;
}

}  // namespace tandem::load
