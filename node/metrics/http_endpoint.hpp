#pragma once
// The Prometheus scrape endpoint: a tiny HTTP/1.1 server answering GET /metrics, one request
// per connection. It runs on the daemon's I/O thread, so `render` reads the node's state without
// locking. Scrapers are trusted little and waited for briefly: requests are size-bounded, a
// connection has a deadline, and only a handful may be open at once.
#include <functional>
#include <memory>
#include <string>

#include "base/clock.hpp"
#include "base/log_limiter.hpp"
#include "base/result.hpp"
#include "node/server/runtime.hpp"

namespace tandem::metrics {

class HttpEndpoint : public std::enable_shared_from_this<HttpEndpoint> {
 public:
  using Render = std::function<std::string()>;

  // Binds now, so a bad or busy address fails start-up; serving starts with start().
  static Result<std::shared_ptr<HttpEndpoint>> open(server::asio::io_context& io,
                                                    const server::tcp::endpoint& at, Render render);
  HttpEndpoint(server::asio::io_context& io, server::tcp::acceptor acceptor, Render render);

  void start();

 private:
  server::asio::awaitable<void> accept_loop();
  server::asio::awaitable<void> serve(server::tcp::socket socket);

  server::asio::io_context& io_;
  server::tcp::acceptor acceptor_;
  Render render_;
  std::size_t open_connections_ = 0;
  SteadyClock clock_;
  log::LogLimiter accept_failure_log_{5, std::chrono::seconds(10)};
};

}  // namespace tandem::metrics
