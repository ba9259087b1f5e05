// The RADIUS client's answer check (node/radius/packet.hpp), fed what anyone on the path between
// the node and its servers may send: any datagram. A forged answer cannot carry a right Response
// Authenticator, so the target fixes that field (with the secret, as a server would) before the
// check on every other input: the attribute walk and the Message-Authenticator check see the
// fuzzer's bytes, not only the first comparison. Invariants:
//  - checking never throws or reads outside the datagram;
//  - an accepted answer has a code that answers the request, attributes of at most 253 bytes that
//    do not include the Message-Authenticator, and fits in its Length field;
//  - an answer without a Message-Authenticator is refused when one is required;
//  - the same datagram checked under another secret or for another request is refused;
//  - read_attributes takes any accepted answer.
#include <openssl/evp.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "node/radius/packet.hpp"
#include "node/radius/radius_client.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace tandem::radius;
constexpr std::string_view kSecret = "fuzz-secret";

Request request_for(Code code) {
  if (code == Code::accounting_request)
    return encode_accounting_request(7, {{44, "acct-1"}}, kSecret).value();
  return encode_access_request(7, Authenticator{1, 2, 3, 4, 5, 6, 7, 8}, {{1, "alice"}, {2, "pw"}},
                               kSecret)
      .value();
}

// What a server holding the secret would put in the Response Authenticator field.
void sign(std::vector<std::uint8_t>& p, const Request& req) {
  if (p.size() < kHeaderSize) return;
  std::size_t length = (std::size_t{p[2]} << 8) | p[3];
  if (length < kHeaderSize || length > p.size()) return;
  std::vector<std::uint8_t> in(p.begin(), p.begin() + static_cast<long>(length));
  std::copy(req.authenticator.begin(), req.authenticator.end(), in.begin() + 4);
  in.insert(in.end(), kSecret.begin(), kSecret.end());
  unsigned len = 0;
  EVP_Digest(in.data(), in.size(), p.data() + 4, &len, EVP_md5(), nullptr);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool once = (tandem::fuzz::quiet_logs(), true);
  (void)once;
  if (size == 0) return 0;
  // The first byte chooses the request and whether the target signs; the rest is the datagram.
  const Code kind = (data[0] & 1) ? Code::accounting_request : Code::access_request;
  const bool fix_authenticator = (data[0] & 2) != 0;
  const Request req = request_for(kind);
  std::vector<std::uint8_t> datagram(data + 1, data + size);
  if (fix_authenticator) sign(datagram, req);

  for (bool require : {false, true}) {
    auto r = check_response(datagram, req, kSecret, require);
    if (!r) {
      FUZZ_CHECK(!r.error().empty());
      continue;
    }
    FUZZ_CHECK(datagram.size() >= kHeaderSize);
    const std::size_t length = (std::size_t{datagram[2]} << 8) | datagram[3];
    FUZZ_CHECK(length <= datagram.size() && length <= kMaxPacketSize);
    if (kind == Code::accounting_request)
      FUZZ_CHECK(r->code == Code::accounting_response);
    else
      FUZZ_CHECK(r->code == Code::access_accept || r->code == Code::access_reject ||
                 r->code == Code::access_challenge);
    std::size_t total = kHeaderSize + (r->had_message_authenticator ? 18 : 0);
    for (const auto& a : r->attributes) {
      FUZZ_CHECK(a.value.size() <= 253);
      FUZZ_CHECK(a.type != kMessageAuthenticator);
      total += a.value.size() + 2;
    }
    FUZZ_CHECK(total == length, "the attributes do not add up to the Length");
    FUZZ_CHECK(!require || r->had_message_authenticator);
    FUZZ_CHECK(!check_response(datagram, req, "another-secret", require).ok());
    Request other = req;
    other.authenticator[15] ^= 0x80;
    FUZZ_CHECK(!check_response(datagram, other, kSecret, require).ok());
    (void)read_attributes(r->attributes);
  }
  return 0;
}
