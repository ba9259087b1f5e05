#include "node/radius/accounting_sender.hpp"

#include <radcli/radcli.h>

#include <boost/asio/post.hpp>

namespace tandem::radius {
namespace {

// True when a server sent an Accounting-Response; `why` says what went wrong otherwise.
bool exchange(rc_handle* h, const std::vector<Attribute>& attributes, std::string& why) {
  VALUE_PAIR* send = nullptr;
  for (const auto& a : attributes) {
    VALUE_PAIR* added = nullptr;
    if (a.is_text) {
      added = rc_avpair_add(h, &send, a.type, a.text.data(), static_cast<int>(a.text.size()), 0);
    } else {
      std::uint32_t v = a.number;
      added = rc_avpair_add(h, &send, a.type, &v, 0, 0);
    }
    if (added == nullptr) {
      rc_avpair_free(send);
      why = "attribute " + std::to_string(a.type) + " does not fit RADIUS";
      return false;
    }
  }
  VALUE_PAIR* received = nullptr;
  char message[PW_MAX_MSG_SIZE];
  message[0] = '\0';
  // radcli keeps the Acct-Delay-Time we set and adds the time its own retries take.
  const int rc = rc_aaa(h, 0, send, &received, message, 0, PW_ACCOUNTING_REQUEST);
  rc_avpair_free(send);
  rc_avpair_free(received);
  switch (rc) {
    case OK_RC:
      return true;
    case TIMEOUT_RC:
      why = "no accounting server answered";
      return false;
    case BADRESP_RC:
      why = "a server's reply failed its check (wrong secret?)";
      return false;
    default:
      why = "radcli error " + std::to_string(rc);
      return false;
  }
}

}  // namespace

void RadcliAccountingSender::send(std::vector<Attribute> attributes, Done done) {
  // The worker holds the client and the io_context, both longer-lived than this sender (the
  // client joins its workers before it goes; `done` checks that its Accounting still exists).
  boost::asio::post(client_.workers(), [&client = client_, &io = io_,
                                        attributes = std::move(attributes),
                                        done = std::move(done)]() mutable {
    bool ok = false;
    std::string why;
    client.with_handle([&](rc_handle* h) { ok = exchange(h, attributes, why); });
    boost::asio::post(io, [ok, why = std::move(why), done = std::move(done)] { done(ok, why); });
  });
}

}  // namespace tandem::radius
