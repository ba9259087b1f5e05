#pragma once
// The AccountingSender over the node's RADIUS client: each Accounting-Request runs on the
// client's worker threads (an exchange blocks while it waits), through the [radius] accounting
// servers in order, and its outcome is posted back to the node's I/O thread.
#include <boost/asio/io_context.hpp>

#include "node/radius/accounting.hpp"
#include "node/radius/radius_client.hpp"

namespace tandem::radius {

class RadiusAccountingSender final : public AccountingSender {
 public:
  RadiusAccountingSender(boost::asio::io_context& io, RadiusClient& client)
      : io_(io), client_(client) {}
  void send(std::vector<Attribute> attributes, Done done) override;

 private:
  boost::asio::io_context& io_;
  RadiusClient& client_;
};

// A record's attributes as they travel (an integer or address as 4 bytes, network order).
std::vector<RawAttribute> raw_attributes(const std::vector<Attribute>& attributes);

}  // namespace tandem::radius
