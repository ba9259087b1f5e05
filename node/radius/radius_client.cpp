#include "node/radius/radius_client.hpp"

#include <openssl/rand.h>

#include "node/radius/exchange.hpp"

namespace tandem::radius {
namespace {

inline constexpr std::uint8_t kNasPort = 5;
inline constexpr std::uint8_t kNasPortType = 61;
inline constexpr std::uint32_t kNasPortTypeVirtual = 5;  // RFC 2865 §5.41: a VPN's port

std::optional<std::uint32_t> as_uint32(const std::string& v) {
  if (v.size() != 4) return std::nullopt;
  std::uint32_t out = 0;
  for (unsigned char c : v) out = (out << 8) | c;
  return out;
}

// 16 unpredictable bytes and an identifier; false only if OpenSSL's generator fails.
bool fresh_request_ids(Authenticator& authenticator, std::uint8_t& id) {
  std::array<std::uint8_t, 17> r{};
  if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1) return false;
  std::copy_n(r.begin(), 16, authenticator.begin());
  id = r[16];
  return true;
}

ExchangeOptions options_of(const config::RadiusSettings& s) {
  return {s.timeout, s.retries, s.require_message_authenticator};
}

}  // namespace

const char* to_string(Outcome o) noexcept {
  switch (o) {
    case Outcome::accept:
      return "accept";
    case Outcome::reject:
      return "reject";
    case Outcome::challenge:
      return "challenge";
    case Outcome::no_answer:
      return "no answer";
    case Outcome::error:
      break;
  }
  return "error";
}

Attributes read_attributes(const std::vector<RawAttribute>& received) {
  Attributes a;
  for (const auto& attr : received) {
    switch (attr.type) {
      case kFramedIpAddress:
        a.framed_ip = as_uint32(attr.value);
        break;
      case kClass:
        if (!a.radius_class) a.radius_class = attr.value;
        break;
      case kSessionTimeout:
        a.session_timeout = as_uint32(attr.value);
        break;
      case kIdleTimeout:
        a.idle_timeout = as_uint32(attr.value);
        break;
      case kFilterId:
        a.filter_ids.push_back(attr.value);
        break;
      case kReplyMessage:
        a.reply_message += (a.reply_message.empty() ? "" : "\n") + attr.value;
        break;
      case kState:
        a.state = attr.value;
        break;
      default:
        break;
    }
  }
  return a;
}

std::vector<RawAttribute> access_request_attributes(const AccessRequest& request,
                                                    const std::string& nas_identifier) {
  std::vector<RawAttribute> out{{kUserName, request.user},
                                {kUserPassword, request.password},
                                {kNasIdentifier, nas_identifier},
                                integer_attribute(kNasPort, 0),
                                integer_attribute(kNasPortType, kNasPortTypeVirtual)};
  if (!request.calling_station.empty()) out.push_back({kCallingStationId, request.calling_station});
  if (!request.state.empty()) out.push_back({kState, request.state});
  return out;
}

RadiusClient::RadiusClient(config::RadiusSettings settings, std::size_t workers)
    : settings_(std::move(settings)), health_(settings_.dead_time), workers_(workers) {}

Result<std::unique_ptr<RadiusClient>> RadiusClient::create(const config::RadiusSettings& settings,
                                                           std::size_t workers) {
  if (settings.servers.empty()) return fail("[radius] has no servers");
  if (std::string why = config::check_radius_secret(settings.secret); !why.empty())
    return fail("[radius] secret: " + why);
  if (workers == 0) workers = 1;
  return std::unique_ptr<RadiusClient>(new RadiusClient(settings, workers));
}

RadiusClient::~RadiusClient() { workers_.join(); }

Reply RadiusClient::authenticate(const AccessRequest& request) {
  Reply reply;
  Authenticator random{};
  std::uint8_t id = 0;
  if (!fresh_request_ids(random, id)) {
    reply.detail = "no random bytes for the request";
    return reply;
  }
  auto packet = encode_access_request(
      id, random, access_request_attributes(request, settings_.nas_identifier), settings_.secret);
  if (!packet) {
    reply.detail = "the request does not fit RADIUS: " + packet.error();
    return reply;
  }
  ExchangeOptions options = options_of(settings_);
  options.first = request.challenged_by;
  const ExchangeResult r =
      exchange(*packet, settings_.servers, settings_.secret, options, &health_);
  switch (r.kind) {
    case ExchangeResult::Kind::no_answer:
      reply.outcome = Outcome::no_answer;
      reply.detail = "no server answered";
      return reply;
    case ExchangeResult::Kind::bad_answers:
      reply.detail = r.detail;
      return reply;
    case ExchangeResult::Kind::answered:
      break;
  }
  reply.answered_by = r.answered_by;
  reply.attributes = read_attributes(r.response.attributes);
  reply.outcome = r.response.code == Code::access_accept   ? Outcome::accept
                  : r.response.code == Code::access_reject ? Outcome::reject
                                                           : Outcome::challenge;
  return reply;
}

bool RadiusClient::account(const std::vector<RawAttribute>& attributes, std::string& why) {
  Authenticator unused{};
  std::uint8_t id = 0;
  if (!fresh_request_ids(unused, id)) {
    why = "no random bytes for the request";
    return false;
  }
  auto packet = encode_accounting_request(id, attributes, settings_.secret);
  if (!packet) {
    why = "the record does not fit RADIUS: " + packet.error();
    return false;
  }
  const ExchangeResult r = exchange(*packet, settings_.accounting_servers, settings_.secret,
                                    options_of(settings_), &health_);
  if (r.kind == ExchangeResult::Kind::answered) return true;
  why = r.kind == ExchangeResult::Kind::no_answer ? "no accounting server answered" : r.detail;
  return false;
}

}  // namespace tandem::radius
