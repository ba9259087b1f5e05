#pragma once
// The director's HTTPS front: accepts on the cluster address, does the TLS handshake with the
// node's TLS policy, reads one request with the node's HTTP parser and limits, sends the one
// answer (director/redirect.hpp) and closes. Each connection has one deadline for all of it.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <functional>
#include <memory>
#include <string>

#include "base/log_limiter.hpp"
#include "base/result.hpp"
#include "director/director_metrics.hpp"
#include "director/placement.hpp"
#include "node/server/front_door_limits.hpp"

namespace tandem::director {

class Front {
 public:
  // Binds now, so that a bad or busy address fails start-up.
  static Result<std::unique_ptr<Front>> open(boost::asio::io_context& io,
                                             boost::asio::ssl::context& tls,
                                             const std::string& listen, const Clock& clock,
                                             std::function<Placement()> place,
                                             DirectorStats& stats);
  Front(boost::asio::io_context& io, boost::asio::ssl::context& tls,
        boost::asio::ip::tcp::acceptor acceptor, const Clock& clock,
        std::function<Placement()> place, DirectorStats& stats);

  void start();
  void stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace tandem::director
