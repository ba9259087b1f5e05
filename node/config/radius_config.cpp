#include "node/config/radius_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/address.hpp"

namespace tandem::config {

bool parse_group_auth(std::string_view text, GroupAuth& out) {
  if (text == "users") {
    out = GroupAuth::users;
    return true;
  }
  if (text == "radius") {
    out = GroupAuth::radius;
    return true;
  }
  return false;
}

const char* to_string(GroupAuth auth) noexcept {
  return auth == GroupAuth::radius ? "radius" : "users";
}

std::string RadiusServer::text() const { return net::format_ipv4(ip) + ":" + std::to_string(port); }

Result<RadiusServer> parse_radius_server(std::string_view text, std::uint16_t default_port) {
  const auto colon = text.find(':');
  const std::string host(text.substr(0, colon));
  const auto ip = net::parse_ipv4(host);
  if (!ip) return fail("not an IPv4 address");
  RadiusServer s{*ip, default_port};
  if (colon == std::string_view::npos) return s;
  const std::string_view port = text.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.front() == '0') return fail("bad port");
  std::uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return fail("bad port");
    value = value * 10 + static_cast<std::uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return fail("port out of range 1..65535");
  s.port = static_cast<std::uint16_t>(value);
  return s;
}

std::string check_radius_secret(std::string_view secret) {
  if (secret.empty()) return "the secret is empty";
  if (secret.size() > 128) return "the secret is longer than 128 bytes";
  for (char c : secret)
    if (c <= 0x20 || c > 0x7e || c == ',')
      return "the secret may hold printable ASCII only, without spaces or commas";
  return {};
}

Result<std::string> read_radius_secret(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(path + " is not a regular file");
  }
  if ((st.st_mode & S_IROTH) != 0) {
    ::close(fd);
    return fail(path + " is readable by every user (chmod o-r)");
  }
  std::string text;
  char buf[512];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string message = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return fail(message);
    }
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > 4096) break;
  }
  ::close(fd);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  // The reason names no byte of the secret.
  if (std::string why = check_radius_secret(text); !why.empty()) return fail(path + ": " + why);
  return text;
}

Duration radius_worst_case(const RadiusSettings& s) {
  return s.timeout * static_cast<Duration::rep>(s.servers.size()) * (s.retries + 1);
}

}  // namespace tandem::config
