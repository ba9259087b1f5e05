#include "node/server/cstp_tunnel.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "base/log.hpp"
#include "node/config/defaults.hpp"
#include "node/server/dtls_server.hpp"
#include "node/session/address_pool.hpp"

namespace tandem::server {

using session::EndReason;

namespace {

// A reference of our own to the stream's SSL, which survives the stream.
SSL* take_ssl(TlsStream& stream) {
  SSL* ssl = stream.native_handle();
  SSL_up_ref(ssl);
  return ssl;
}

}  // namespace

CstpTunnel::CstpTunnel(TunnelRuntime& rt, std::unique_ptr<TlsStream> stream,
                       session::SessionRef session, std::string public_address,
                       std::string leftover, std::string dtls_app_id)
    : rt_(rt),
      ssl_(take_ssl(*stream)),
      socket_(std::move(stream->next_layer())),
      session_(session),
      index_(session->index),
      public_address_(std::move(public_address)),
      decoder_(defaults::kMaxCstpPayload),
      leftover_(std::move(leftover)),
      dtls_app_id_(std::move(dtls_app_id)),
      tls_(ssl_.get()),
      wake_writer_(rt.io),
      wake_reader_(rt.io) {}

CstpTunnel::~CstpTunnel() = default;

// The DTLS key was exported from this TLS connection; it must not outlive it.
void CstpTunnel::release_dtls_key() {
  if (dtls_app_id_.empty() || !rt_.dtls) return;
  rt_.dtls->unregister_tunnel(dtls_app_id_);
  dtls_app_id_.clear();
}

void CstpTunnel::start() {
  auto self = shared_from_this();
  asio::co_spawn(
      rt_.io, [self]() { return self->read_loop(); }, asio::detached);
  asio::co_spawn(
      rt_.io, [self]() { return self->write_loop(); }, asio::detached);
}

// Decodes and handles every whole frame received so far; false when the tunnel must end.
bool CstpTunnel::process_plaintext() {
  if (!plain_.empty()) {
    decoder_.append(plain_);
    plain_.clear();
  }
  cstp::Frame frame{};
  for (;;) {
    auto status = decoder_.next(frame);
    if (status == cstp::Decoder::Status::need_more) return !finished_;
    if (status == cstp::Decoder::Status::error) {
      ++rt_.counters.input_refused;
      log::warn("input_refused", {{"index", std::to_string(index_)},
                                  {"public", public_address_},
                                  {"reason", "CSTP: " + decoder_.error()}});
      finish(EndReason::transport_error);
      return false;
    }
    if (!handle_frame(frame)) return false;
  }
}

namespace {

// Shared by every tunnel of the thread: used only between a read and handing its bytes to TLS,
// with no suspension in between.
std::vector<std::uint8_t>& read_buffer() {
  thread_local std::vector<std::uint8_t> buf(64 * 1024);
  return buf;
}

}  // namespace

asio::awaitable<void> CstpTunnel::read_loop() {
  auto self = shared_from_this();  // keep alive across suspensions
  decoder_.append(leftover_);
  leftover_.clear();
  // Whatever the TLS layer decrypted before we took over comes first.
  if (tls_.drain(plain_) == TlsChannel::Status::error) {
    finish(EndReason::transport_error);
    co_return;
  }
  if (!process_plaintext()) co_return;
  auto& socket = socket_;
  // An idle tunnel holds no read buffer: a read that would block waits for readability instead
  // (holding 64 KiB per tunnel in a pending read was most of a held tunnel's memory), and a
  // read goes into the thread's one buffer, whose bytes TLS takes before we suspend again.
  boost::system::error_code nb_ec;
  socket.non_blocking(true, nb_ec);
  std::vector<std::uint8_t>& buf = read_buffer();
  for (;;) {
    // A client that sends but does not read (TLS 1.3 key updates answered, say) stops being
    // read until the writer has caught up: its input then waits in TCP, not in our memory.
    while (tls_.pending_output() > defaults::kMaxTunnelTlsBacklog && !finished_) {
      wake_writer_.cancel();
      wake_reader_.expires_at(asio::steady_timer::time_point::max());
      co_await wake_reader_.async_wait(use_nothrow);
    }
    if (finished_) co_return;
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      auto [wait_ec] = co_await socket.async_wait(tcp::socket::wait_read, use_nothrow);
      if (finished_) co_return;
      if (wait_ec) {
        finish(EndReason::transport_error);
        co_return;
      }
      continue;
    }
    if (ec) {
      bool clean = ec == asio::error::eof || ec == asio::error::connection_reset;
      finish(clean ? EndReason::client_closed : EndReason::transport_error);
      co_return;
    }
    TlsChannel::Status status;
    bool keep;
    {
      // The packets of one read may be joined into fewer TUN writes, written before we suspend.
      TunBatch batch(rt_.tun);
      status = tls_.feed(std::span<const std::uint8_t>(buf.data(), n), plain_);
      keep = process_plaintext();
    }
    // Reading can make TLS answer (TLS 1.3 key updates): let the writer send it.
    if (tls_.pending_output() > 0) wake_writer_.cancel();
    if (!keep) co_return;
    if (status != TlsChannel::Status::ok) {
      if (status == TlsChannel::Status::error)
        log::warn("tunnel_tls_error", {{"index", std::to_string(index_)},
                                       {"public", public_address_},
                                       {"reason", tls_.error()}});
      finish(status == TlsChannel::Status::closed ? EndReason::client_closed
                                                  : EndReason::transport_error);
      co_return;
    }
    // A read that did not wait gives the other tunnels their turn, as a completed async read
    // would (one I/O thread).
    co_await asio::post(socket.get_executor(), use_nothrow);
    if (finished_) co_return;
  }
}

bool CstpTunnel::handle_frame(const cstp::Frame& frame) {
  if (session_) rt_.sessions.frame_from_client(session_, session::Carrier::ssl);
  switch (frame.type) {
    case cstp::Type::data:
      handle_data(frame.payload);
      return true;
    case cstp::Type::dpd_request:
      // Same payload back, type flipped (the client's MTU probes rely on it). A client asking
      // faster than it reads loses answers, not our memory.
      enqueue_control(cstp::Type::dpd_response, frame.payload);
      return true;
    case cstp::Type::dpd_response:
    case cstp::Type::keepalive:
      return true;
    case cstp::Type::disconnect:
      if (cstp::is_logout(frame)) {
        log::info("client_logout", {{"index", std::to_string(index_)},
                                    {"public", public_address_},
                                    {"reason", cstp::disconnect_reason(frame)}});
        finished_ = true;  // the session table closes us; no "waiting to resume"
        session_ = {};
        rt_.sessions.end(index_, EndReason::client_logout, false);
        closing_ = true;
        wake_writer_.cancel();
      } else {
        finish(EndReason::client_closed);
      }
      return false;
    default:
      ++rt_.counters.input_refused;
      log::warn("input_refused", {{"index", std::to_string(index_)},
                                  {"public", public_address_},
                                  {"reason", "CSTP: unexpected frame type " +
                                                 std::to_string(static_cast<int>(frame.type))}});
      finish(EndReason::transport_error);
      return false;
  }
}

void CstpTunnel::handle_data(std::span<const std::uint8_t> packet) {
  if (!session_) return;
  if (!rt_.tun->from_client(session_, packet)) {
    rt_.sessions.dropped_from_client(session_);
    return;
  }
  rt_.sessions.data_from_client(session_, session::Carrier::ssl, packet.size());
}

bool CstpTunnel::send_packet(std::span<const std::uint8_t> ip_packet) {
  if (closing_ || !session_) return false;
  if (queue_.size() >= defaults::kMaxTunnelWriteQueue) {
    rt_.sessions.dropped_to_client(session_);
    return false;
  }
  auto frame = spare_buffer();
  cstp::encode(cstp::Type::data, ip_packet, frame);
  enqueue(std::move(frame), false);
  rt_.sessions.data_to_client(session_, session::Carrier::ssl, ip_packet.size());
  return true;
}

void CstpTunnel::send_dpd_request() {
  if (!closing_) enqueue_control(cstp::Type::dpd_request);
}

bool CstpTunnel::enqueue_control(cstp::Type type, std::span<const std::uint8_t> payload) {
  if (control_queued_ >= defaults::kMaxTunnelControlQueue) {
    ++rt_.counters.control_frames_dropped;
    return false;
  }
  auto frame = spare_buffer();
  cstp::encode(type, payload, frame);
  enqueue(std::move(frame), true);
  return true;
}

std::vector<std::uint8_t> CstpTunnel::spare_buffer() {
  if (spare_.empty()) return {};
  auto b = std::move(spare_.back());
  spare_.pop_back();
  return b;
}

void CstpTunnel::enqueue(std::vector<std::uint8_t> frame, bool control) {
  if (control) ++control_queued_;
  queue_.push_back(Queued{std::move(frame), control});
  if (queue_.size() == 1) wake_writer_.cancel();
}

asio::awaitable<void> CstpTunnel::write_loop() {
  auto self = shared_from_this();
  auto& socket = socket_;
  std::vector<std::uint8_t> out;
  for (;;) {
    while (!queue_.empty() || tls_.pending_output() > 0) {
      // Encrypt what is queued (each frame its own record), up to a bound, then one write.
      while (!queue_.empty() && tls_.pending_output() < 256 * 1024) {
        if (!tls_.write_record(queue_.front().frame)) {
          finish(EndReason::transport_error);
          co_return;
        }
        if (queue_.front().control) --control_queued_;
        if (spare_.size() < defaults::kMaxTunnelWriteQueue)
          spare_.push_back(std::move(queue_.front().frame));
        queue_.pop_front();
      }
      out.clear();
      tls_.take_output(out);
      auto [ec, n] = co_await asio::async_write(socket, asio::buffer(out), use_nothrow);
      if (ec) {
        finish(EndReason::transport_error);
        co_return;
      }
      wake_reader_.cancel();
    }
    if (closing_) break;
    wake_writer_.expires_at(asio::steady_timer::time_point::max());
    co_await wake_writer_.async_wait(use_nothrow);
  }
  // A graceful close: our FIN goes after the DISCONNECT, then what the client still sends (a
  // DPD or keepalive already on its way, its goodbye) is read and dropped until it closes too.
  // Closed with its bytes unread, the socket would answer with a reset, which can overtake our
  // DISCONNECT, and a client that writes once more then dies of SIGPIPE (openconnect did).
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
  co_await drain_until_closed();
  socket.close(ignored);
}

// Bounded: at most kCloseDrainRounds looks, 50 ms apart (a second), of at most kReadsPerRound
// reads each (a client sending as fast as we read cannot hold the I/O thread).
asio::awaitable<void> CstpTunnel::drain_until_closed() {
  constexpr int kCloseDrainRounds = 20, kReadsPerRound = 16;
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) co_return;
  asio::steady_timer tick(socket_.get_executor());
  for (int round = 0; round < kCloseDrainRounds; ++round) {
    for (int reads = 0; reads < kReadsPerRound; ++reads) {
      socket_.read_some(asio::buffer(read_buffer()), ec);  // dropped: the thread's buffer does
      if (ec == asio::error::would_block || ec == asio::error::try_again) break;
      if (ec) co_return;  // the client closed (or the socket is gone): done
    }
    tick.expires_after(std::chrono::milliseconds(50));
    co_await tick.async_wait(use_nothrow);
  }
}

void CstpTunnel::close(EndReason reason, bool notify_client) {
  if (finished_ && closing_) return;
  session_ = {};  // the session let go of us
  finished_ = true;
  closing_ = true;
  log_down(reason);
  release_dtls_key();
  if (notify_client) {
    // Drop queued data: the DISCONNECT must go out next, and nothing after it.
    if (queue_.size() > 1) queue_.erase(queue_.begin() + 1, queue_.end());
    control_queued_ = queue_.empty() ? 0 : (queue_.front().control ? 1 : 0);
    enqueue(cstp::encode(cstp::Type::disconnect), true);
  } else {
    boost::system::error_code ignored;
    if (reason == EndReason::handover) {
      // A reset, not a FIN: the client reconnects at once, to the new active.
      socket_.set_option(tcp::socket::linger(true, 0), ignored);
      socket_.close(ignored);
    } else {
      socket_.cancel(ignored);
    }
  }
  wake_writer_.cancel();
  wake_reader_.cancel();
}

void CstpTunnel::log_down(EndReason reason) {
  log::info("tunnel_down", {{"index", std::to_string(index_)},
                            {"tunnel", std::to_string(index_) + ".2"},
                            {"kind", "ssl"},
                            {"public", public_address_},
                            {"reason", session::to_string(reason)}});
}

void CstpTunnel::finish(EndReason reason) {
  if (finished_) {
    closing_ = true;
    wake_writer_.cancel();
    return;
  }
  finished_ = true;
  closing_ = true;
  log_down(reason);
  release_dtls_key();
  if (session_) {
    auto s = std::exchange(session_, {});
    rt_.sessions.detach_ssl(s, this, reason);
  }
  boost::system::error_code ignored;
  socket_.cancel(ignored);
  wake_writer_.cancel();
  wake_reader_.cancel();
}

}  // namespace tandem::server
