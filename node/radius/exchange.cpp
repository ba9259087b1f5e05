#include "node/radius/exchange.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.hpp"

namespace tandem::radius {
namespace {

// A UDP socket connected to one server: the kernel then delivers only that server's datagrams.
class ServerSocket {
 public:
  explicit ServerSocket(const config::RadiusServer& server) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(server.port);
    to.sin_addr.s_addr = htonl(server.ip);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ServerSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  ServerSocket(const ServerSocket&) = delete;
  ServerSocket& operator=(const ServerSocket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// What one server did with the request when it did not answer: said nothing, or cannot be
// reached (ICMP port or host unreachable, no route); `local`: the request could not leave this
// host (no buffers, a local firewall), which says nothing about the server.
enum class TryOutcome { silent, refused, local };

TimePoint steady_now() {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

// Tells `health` what `server` did with the whole request (asked from `started` on), and logs
// a change of its state.
void report(ServerHealth* health, const config::RadiusServer& server, bool answered,
            const char* why, TimePoint started) {
  if (health == nullptr) return;
  if (answered) {
    if (health->answered(server, steady_now()))
      log::info("radius_server_alive", {{"server", server.text()}});
    return;
  }
  if (health->silent(server, started, steady_now()))
    log::warn("radius_server_dead",
              {{"server", server.text()},
               {"reason", why},
               {"dead_time", std::to_string(health->dead_time().count() / 1000) + "s"}});
}

}  // namespace

ExchangeResult exchange(const Request& request, const std::vector<config::RadiusServer>& servers,
                        std::string_view secret, const ExchangeOptions& options,
                        ServerHealth* health) {
  ExchangeResult result;
  const bool require_mac =
      options.require_message_authenticator && request.code == Code::access_request;
  std::vector<std::uint8_t> buffer(kMaxPacketSize);
  auto ordered = health ? health->order(servers, steady_now()) : servers;
  if (options.first) {
    // The server that issued a challenge is asked its answer first, marked or not.
    auto it = std::find(ordered.begin(), ordered.end(), *options.first);
    if (it != ordered.end()) std::rotate(ordered.begin(), it, it + 1);
  }
  for (const auto& server : ordered) {
    const TimePoint started = steady_now();
    ServerSocket socket(server);
    if (socket.fd() < 0) {
      log::warn("radius_socket_failed", {{"server", server.text()}, {"reason", strerror(errno)}});
      continue;
    }
    TryOutcome outcome = TryOutcome::silent;
    bool refused_answers = false;  // it answered, but nothing it sent passed the checks
    std::string net_error;         // why it could not be reached, or why the send failed here
    for (int attempt = 0; attempt <= options.retries && outcome == TryOutcome::silent; ++attempt) {
      if (::send(socket.fd(), request.bytes.data(), request.bytes.size(), 0) < 0) {
        // An earlier try's ICMP error is reported here; anything else is this host's.
        const int e = errno;
        outcome = e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ? TryOutcome::refused
                                                                             : TryOutcome::local;
        net_error = strerror(e);
        break;
      }
      const auto deadline = std::chrono::steady_clock::now() + options.timeout;
      for (;;) {  // bounded by the deadline
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd p{socket.fd(), POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) break;
        const ssize_t n = ::recv(socket.fd(), buffer.data(), buffer.size(), 0);
        if (n < 0) {
          // ICMP port unreachable comes back as ECONNREFUSED: nobody serves RADIUS there.
          if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) {
            outcome = TryOutcome::refused;
            net_error = strerror(errno);
          }
          if (errno == EINTR || errno == EAGAIN) continue;
          break;
        }
        auto checked = check_response(
            std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(n)), request,
            secret, require_mac);
        if (!checked) {
          refused_answers = true;
          result.kind = ExchangeResult::Kind::bad_answers;
          result.detail = server.text() + " sent an answer that was refused: " + checked.error();
          log::warn("radius_answer_refused",
                    {{"server", server.text()}, {"reason", checked.error()}});
          continue;
        }
        result.kind = ExchangeResult::Kind::answered;
        result.response = std::move(*checked);
        result.answered_by = server;
        report(health, server, true, "", started);
        return result;
      }
    }
    if (outcome == TryOutcome::local) {
      log::warn("radius_send_failed", {{"server", server.text()}, {"reason", net_error}});
      continue;  // nothing learnt about the server
    }
    if (outcome == TryOutcome::refused)
      log::info("radius_server_unreachable",
                {{"server", server.text()},
                 {"reason", net_error.empty() ? "port unreachable" : net_error}});
    // A server whose answers were refused is there (likely with another secret): not dead.
    if (!refused_answers)
      report(health, server, false, outcome == TryOutcome::refused ? "unreachable" : "no answer",
             started);
  }
  return result;
}

}  // namespace tandem::radius
