#pragma once
// A CSTP tunnel the load client holds open: reads frames, answers DPD requests, sends
// keepalives, one frame per TLS write (anyconnect-protocol.md §4.1). The shape of the server's
// CstpTunnel: a read loop, a write queue with a limit, a timer.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "node/cstp/frame.hpp"
#include "tests/tools/tls_connection.hpp"

namespace tandem::load {

class HeldTunnel : public std::enable_shared_from_this<HeldTunnel> {
 public:
  struct Counters {
    std::size_t keepalives_sent = 0;
    std::size_t dpd_answered = 0;
    std::size_t frames_received = 0;
  };

  // `on_end` runs once, when the tunnel ends for any reason (also after release()).
  HeldTunnel(std::size_t index, std::shared_ptr<TlsConnection> connection, std::string leftover,
             SteadyDuration keepalive, SteadyDuration write_timeout,
             std::function<void(const HeldTunnel&)> on_end);

  void start();
  // We let go: close without a BYE, so the server keeps the session for a resume.
  void release();

  std::size_t index() const { return index_; }
  bool ended() const { return ended_; }
  bool released() const { return released_; }
  // Why the tunnel ended when we did not release it ("server sent DISCONNECT", an I/O error).
  const std::string& end_reason() const { return end_reason_; }
  const Counters& counters() const { return counters_; }

 private:
  asio::awaitable<void> read_loop();
  asio::awaitable<void> write_loop();
  asio::awaitable<void> keepalive_loop();
  bool handle_frame(const cstp::Frame& frame);
  void enqueue(std::vector<std::uint8_t> frame);
  void end(std::string reason);

  std::size_t index_;
  std::shared_ptr<TlsConnection> connection_;
  std::string leftover_;
  SteadyDuration keepalive_;
  SteadyDuration write_timeout_;
  std::function<void(const HeldTunnel&)> on_end_;
  cstp::Decoder decoder_;
  std::deque<std::vector<std::uint8_t>> queue_;
  asio::steady_timer wake_writer_;
  asio::steady_timer keepalive_timer_;
  bool ended_ = false;
  bool released_ = false;
  std::string end_reason_;
  Counters counters_;
};

}  // namespace tandem::load
