#pragma once
// The AccountingSender over radcli: each Accounting-Request runs on the RADIUS client's worker
// threads (radcli blocks while it waits), through the [radius] accounting servers in order,
// and its outcome is posted back to the node's I/O thread.
#include <boost/asio/io_context.hpp>

#include "node/radius/accounting.hpp"
#include "node/radius/radius_client.hpp"

namespace tandem::radius {

class RadcliAccountingSender final : public AccountingSender {
 public:
  RadcliAccountingSender(boost::asio::io_context& io, RadiusClient& client)
      : io_(io), client_(client) {}
  void send(std::vector<Attribute> attributes, Done done) override;

 private:
  boost::asio::io_context& io_;
  RadiusClient& client_;
};

}  // namespace tandem::radius
