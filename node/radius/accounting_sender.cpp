#include "node/radius/accounting_sender.hpp"

#include <boost/asio/post.hpp>

namespace tandem::radius {

std::vector<RawAttribute> raw_attributes(const std::vector<Attribute>& attributes) {
  std::vector<RawAttribute> out;
  out.reserve(attributes.size());
  for (const auto& a : attributes)
    out.push_back(a.is_text ? RawAttribute{static_cast<std::uint8_t>(a.type), a.text}
                            : integer_attribute(static_cast<std::uint8_t>(a.type), a.number));
  return out;
}

void RadiusAccountingSender::send(std::vector<Attribute> attributes, Done done) {
  // The worker holds the client and the io_context, both longer-lived than this sender (the
  // client joins its workers before it goes; `done` checks that its Accounting still exists).
  // Retransmissions repeat the same bytes, so Acct-Delay-Time stays what the record was given.
  boost::asio::post(client_.workers(), [&client = client_, &io = io_,
                                        raw = raw_attributes(attributes),
                                        done = std::move(done)]() mutable {
    std::string why;
    const bool ok = client.account(raw, why);
    boost::asio::post(io, [ok, why = std::move(why), done = std::move(done)] { done(ok, why); });
  });
}

}  // namespace tandem::radius
