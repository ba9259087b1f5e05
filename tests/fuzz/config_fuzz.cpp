// The TOML configuration (node/config): read at start-up and on every reload, where a refused
// file must leave the running node alone and say what is wrong.
//
// The input is the file's text. It is parsed with parse_config, and written to a file and read
// with load_config; each piece of it is also tried as a duration. Invariants:
//  - no exception escapes (a parse error is a Result, never a throw);
//  - load_config of the file and parse_config of its text agree exactly;
//  - an accepted configuration holds only what the loader promises: the "default" policy and
//    tunnel group, every tunnel group naming an existing policy, timeouts and limits in range,
//    valid names, addresses given in pairs, a hold time above the poll interval;
//  - a refusal names the file on every line, and is valid UTF-8 whenever the file was
//    (it is shown by tandemctl and written into the log);
//  - parse_duration returns a non-negative duration or an error.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <exception>
#include <string>
#include <string_view>

#include "base/text.hpp"
#include "node/config/config.hpp"
#include "node/config/defaults.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using tandem::Duration;
using tandem::config::Config;

bool valid_name(const std::string& s) {
  static constexpr std::string_view kChars =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
  return !s.empty() && s.size() <= 64 && s.find_first_not_of(kChars) == std::string::npos;
}

void check_config(const Config& c) {
  FUZZ_CHECK(c.policies.count(tandem::defaults::kPolicyName) == 1, "no default policy");
  FUZZ_CHECK(c.tunnel_groups.count(tandem::defaults::kTunnelGroupName) == 1, "no default group");
  for (const auto& [name, p] : c.policies) {
    FUZZ_CHECK(p.name == name && valid_name(name), "policy " + name);
    FUZZ_CHECK(p.idle_timeout > Duration::zero() && p.disconnected_timeout > Duration::zero(),
               "policy " + name + ": a zero idle or disconnected timeout");
    FUZZ_CHECK(p.session_timeout >= Duration::zero() && p.dpd_interval >= Duration::zero() &&
                   p.keepalive >= Duration::zero(),
               "policy " + name + ": a negative duration");
    FUZZ_CHECK(p.mtu >= 576 && p.mtu <= 9000, "policy " + name + ": mtu " + std::to_string(p.mtu));
    FUZZ_CHECK(p.simultaneous_logins >= 0 && p.simultaneous_logins <= 1000);
  }
  for (const auto& [name, g] : c.tunnel_groups) {
    FUZZ_CHECK(g.name == name && valid_name(name), "tunnel group " + name);
    FUZZ_CHECK(c.policies.count(g.policy) == 1, "tunnel group " + name + " names no policy");
  }
  FUZZ_CHECK(valid_name(c.node_id), "node id " + c.node_id);
  FUZZ_CHECK(c.service_address.empty() == c.service_interface.empty());
  FUZZ_CHECK(c.inside_interface.empty() == (c.inside_address.empty() && c.inside_address6.empty()));
  FUZZ_CHECK(c.tls_certificate.empty() == c.tls_private_key.empty());
  FUZZ_CHECK(!c.listen.empty() && !c.state_dir.empty() && !c.admin_socket.empty());
  FUZZ_CHECK(c.log_level == "debug" || c.log_level == "info" || c.log_level == "warn" ||
             c.log_level == "error");
  FUZZ_CHECK(!c.tun_name.empty() && c.tun_name.size() <= 15, "tun name " + c.tun_name);
  for (const std::string* s : {&c.node_id, &c.listen, &c.admin_socket, &c.state_dir, &c.tun_name,
                               &c.users_file, &c.tls_certificate, &c.peer.ca, &c.peer.node_id})
    FUZZ_CHECK(s->find('\0') == std::string::npos, "a NUL in a path or name");
  if (c.peer.enabled) {
    FUZZ_CHECK(valid_name(c.peer.node_id) && c.peer.node_id != c.node_id, "peer id");
    FUZZ_CHECK(c.peer.poll_interval > Duration::zero() && c.peer.hold_time > c.peer.poll_interval,
               "hold_time not above poll_interval");
    FUZZ_CHECK(!c.peer.listen.empty() && !c.peer.address.empty() && !c.peer.ca.empty() &&
               !c.peer.certificate.empty() && !c.peer.private_key.empty());
    FUZZ_CHECK(c.peer.priority >= 0 && c.peer.priority <= 65535);
  }
}

void check_refusal(const std::string& error, const std::string& source, bool input_utf8) {
  FUZZ_CHECK(!error.empty(), "a refusal without a reason");
  std::size_t at = 0;
  while (at <= error.size()) {
    const auto nl = error.find('\n', at);
    const std::string line = error.substr(at, nl == std::string::npos ? nl : nl - at);
    FUZZ_CHECK(line.rfind(source + ": ", 0) == 0, "an error line that names no file in:\n" + error);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  if (input_utf8)
    FUZZ_CHECK(tandem::text::is_valid_utf8(error), "a refusal that is not UTF-8: " + error);
}

struct File {
  tandem::fuzz::ScratchDir dir;
  std::string path = dir.path() + "/tandemd.toml";
};
File& file() {
  static File f;  // removed at exit
  return f;
}

void write_file(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  FUZZ_CHECK(fd >= 0, path);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    FUZZ_CHECK(n > 0, path);
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  (void)file();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(tandem::fuzz::as_chars(data, size));
  const std::string& path = file().path;
  const bool utf8 = tandem::text::is_valid_utf8(text);
  try {
    auto parsed = tandem::config::parse_config(text, path);
    write_file(path, text);
    auto loaded = tandem::config::load_config(path);
    FUZZ_CHECK(parsed.ok() == loaded.ok(), "load_config and parse_config disagree");
    if (parsed.ok()) {
      check_config(*parsed);
      FUZZ_CHECK(parsed->source == path);
    } else {
      FUZZ_CHECK(parsed.error() == loaded.error(), parsed.error() + "\nvs\n" + loaded.error());
      check_refusal(parsed.error(), path, utf8);
    }
    // Each line's value part as a duration, as the loader would see a string value.
    std::size_t at = 0;
    for (int n = 0; n < 16 && at <= text.size(); ++n) {
      const auto nl = text.find('\n', at);
      std::string line = text.substr(at, nl == std::string::npos ? nl : nl - at);
      if (auto eq = line.find('='); eq != std::string::npos) line = line.substr(eq + 1);
      auto d = tandem::config::parse_duration(line);
      if (d.ok()) FUZZ_CHECK(d->count() >= 0, "negative duration from \"" + line + "\"");
      if (nl == std::string::npos) break;
      at = nl + 1;
    }
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("an exception escaped: ") + e.what());
  } catch (...) {
    FUZZ_CHECK(false, "an exception escaped");
  }
  return 0;
}
