#include "tests/tools/held_tunnel.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/write.hpp>
#include <vector>

namespace tandem::load {
namespace {

// openconnect accepts up to 16 KiB payloads; the server should send nothing bigger.
constexpr std::size_t kMaxPayload = 16 * 1024;
// Only DPD responses and keepalives are ever queued; more than this means the server stopped
// reading while still sending DPDs, which is worth ending the tunnel over.
constexpr std::size_t kMaxQueue = 64;

}  // namespace

HeldTunnel::HeldTunnel(std::size_t index, std::shared_ptr<TlsConnection> connection,
                       std::string leftover, SteadyDuration keepalive, SteadyDuration write_timeout,
                       std::function<void(const HeldTunnel&)> on_end)
    : index_(index),
      connection_(std::move(connection)),
      leftover_(std::move(leftover)),
      keepalive_(keepalive),
      write_timeout_(write_timeout),
      on_end_(std::move(on_end)),
      decoder_(kMaxPayload),
      wake_writer_(connection_->stream().get_executor()),
      keepalive_timer_(connection_->stream().get_executor()) {}

void HeldTunnel::start() {
  auto self = shared_from_this();
  auto executor = connection_->stream().get_executor();
  asio::co_spawn(
      executor, [self] { return self->read_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self] { return self->write_loop(); }, asio::detached);
  asio::co_spawn(
      executor, [self] { return self->keepalive_loop(); }, asio::detached);
}

void HeldTunnel::release() {
  if (ended_) return;
  released_ = true;
  end("released");
}

void HeldTunnel::end(std::string reason) {
  if (ended_) return;
  ended_ = true;
  if (!released_) end_reason_ = std::move(reason);
  connection_->close();  // fails the pending read and write
  wake_writer_.cancel();
  keepalive_timer_.cancel();
  if (on_end_) {
    auto callback = std::move(on_end_);
    callback(*this);
  }
}

asio::awaitable<void> HeldTunnel::read_loop() {
  auto self = shared_from_this();  // alive across suspensions
  decoder_.append(leftover_);
  leftover_.clear();
  std::vector<std::uint8_t> buf(32 * 1024);
  while (!ended_) {
    cstp::Frame frame{};
    for (;;) {
      auto status = decoder_.next(frame);
      if (status == cstp::Decoder::Status::need_more) break;
      if (status == cstp::Decoder::Status::error) {
        end("bad CSTP from the server: " + decoder_.error());
        co_return;
      }
      if (!handle_frame(frame)) co_return;
    }
    // No deadline on this read: a held tunnel may be silent for as long as the hold lasts;
    // release() or the end of the run closes the socket.
    auto [ec, n] = co_await connection_->stream().async_read_some(asio::buffer(buf), use_nothrow);
    if (ended_) co_return;
    if (ec) {
      end(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated
              ? "server closed the connection"
              : "read: " + ec.message());
      co_return;
    }
    decoder_.append(std::span<const std::uint8_t>(buf.data(), n));
  }
}

bool HeldTunnel::handle_frame(const cstp::Frame& frame) {
  ++counters_.frames_received;
  switch (frame.type) {
    case cstp::Type::dpd_request:
      // Same payload back, type flipped (§4.2).
      ++counters_.dpd_answered;
      enqueue(cstp::encode(cstp::Type::dpd_response, frame.payload));
      return true;
    case cstp::Type::disconnect:
      end("server sent DISCONNECT");
      return false;
    case cstp::Type::terminate:
      end("server sent TERMINATE");
      return false;
    case cstp::Type::data:
    case cstp::Type::dpd_response:
    case cstp::Type::keepalive:
      return true;
    default:
      end("server sent CSTP frame type " + std::to_string(static_cast<int>(frame.type)) +
          " (openconnect quits on it)");
      return false;
  }
}

void HeldTunnel::enqueue(std::vector<std::uint8_t> frame) {
  if (ended_) return;
  if (queue_.size() >= kMaxQueue) {
    end("write queue full: the server is not reading");
    return;
  }
  queue_.push_back(std::move(frame));
  if (queue_.size() == 1) wake_writer_.cancel();
}

asio::awaitable<void> HeldTunnel::write_loop() {
  auto self = shared_from_this();
  while (!ended_) {
    while (!queue_.empty() && !ended_) {
      // One async_write of one whole frame: one SSL_write, so one TLS record per frame.
      connection_->arm(write_timeout_);
      auto [ec, n] = co_await asio::async_write(connection_->stream(), asio::buffer(queue_.front()),
                                                use_nothrow);
      if (ended_) co_return;
      connection_->disarm();
      if (ec) {
        end(connection_->timed_out() ? "write timed out" : "write: " + ec.message());
        co_return;
      }
      queue_.pop_front();
    }
    wake_writer_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_writer_.async_wait(use_nothrow);
  }
}

asio::awaitable<void> HeldTunnel::keepalive_loop() {
  auto self = shared_from_this();
  while (!ended_) {
    keepalive_timer_.expires_after(keepalive_);
    co_await keepalive_timer_.async_wait(use_nothrow);
    if (ended_) co_return;
    ++counters_.keepalives_sent;
    enqueue(cstp::encode(cstp::Type::keepalive));
  }
}

}  // namespace tandem::load
