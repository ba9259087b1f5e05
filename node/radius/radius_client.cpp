#include "node/radius/radius_client.hpp"

#include <radcli/radcli.h>

namespace tandem::radius {
namespace {

// "ip:port:secret,ip:port:secret": radcli's server list (radius_config.hpp keeps commas,
// spaces and tabs out of the secret, which radcli splits on).
std::string server_list(const std::vector<config::RadiusServer>& servers,
                        const std::string& secret) {
  std::string out;
  for (const auto& s : servers) out += (out.empty() ? "" : ",") + s.text() + ":" + secret;
  return out;
}

Result<rc_handle*> make_handle(const config::RadiusSettings& s, const std::string& dictionary) {
  rc_handle* h = rc_new();
  if (h == nullptr) return fail("radcli: out of memory");
  if (rc_config_init(h) == nullptr) return fail("radcli: cannot initialise a handle");  // freed
  auto add = [&](const char* option, const std::string& value) {
    return rc_add_config(h, option, value.c_str(), "tandemd", 0) == 0;
  };
  const bool ok =
      add("dictionary", dictionary) && add("authserver", server_list(s.servers, s.secret)) &&
      add("acctserver", server_list(s.accounting_servers, s.secret)) &&
      add("radius_timeout",
          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(s.timeout).count())) &&
      add("radius_retries", std::to_string(s.retries)) && add("nas-identifier", s.nas_identifier) &&
      add("radius_deadtime", "0");
  if (!ok) {
    rc_destroy(h);
    return fail("radcli refused the [radius] settings (see the system log)");
  }
  if (rc_read_dictionary(h, dictionary.c_str()) != 0) {
    rc_destroy(h);
    return fail("radcli cannot read its dictionary " + dictionary);
  }
  if (rc_apply_config(h) != 0) {
    rc_destroy(h);
    return fail("radcli cannot apply the [radius] settings");
  }
  return h;
}

std::string raw(VALUE_PAIR* vp) {
  char* data = nullptr;
  unsigned size = 0;
  if (rc_avpair_get_raw(vp, &data, &size) != 0 || data == nullptr) return {};
  return std::string(data, size);
}

Attributes read_attributes(VALUE_PAIR* received) {
  Attributes a;
  for (VALUE_PAIR* vp = received; vp != nullptr; vp = rc_avpair_next(vp)) {
    unsigned value_type = 0, type = 0;
    rc_avpair_get_attr(vp, &value_type, &type);  // radcli: (value type, attribute number)
    if (type > 255) continue;                    // a vendor's attribute (vendor << 16 | number)
    std::uint32_t value = 0;
    switch (type) {
      case kFramedIpAddress:
        if (rc_avpair_get_uint32(vp, &value) == 0) a.framed_ip = value;
        break;
      case kClass:
        if (!a.radius_class) a.radius_class = raw(vp);
        break;
      case kSessionTimeout:
        if (rc_avpair_get_uint32(vp, &value) == 0) a.session_timeout = value;
        break;
      case kIdleTimeout:
        if (rc_avpair_get_uint32(vp, &value) == 0) a.idle_timeout = value;
        break;
      case kFilterId:
        a.filter_ids.push_back(raw(vp));
        break;
      case kReplyMessage:
        a.reply_message += (a.reply_message.empty() ? "" : "\n") + raw(vp);
        break;
      case kState:
        a.state = raw(vp);
        break;
      default:
        break;
    }
  }
  return a;
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

RadiusClient::RadiusClient(config::RadiusSettings settings, std::size_t workers)
    : settings_(std::move(settings)), workers_(workers) {}

Result<std::unique_ptr<RadiusClient>> RadiusClient::create(const config::RadiusSettings& settings,
                                                           std::size_t workers,
                                                           const std::string& dictionary) {
  if (settings.servers.empty()) return fail("[radius] has no servers");
  if (std::string why = config::check_radius_secret(settings.secret); !why.empty())
    return fail("[radius] secret: " + why);
  if (workers == 0) workers = 1;
  std::unique_ptr<RadiusClient> c(new RadiusClient(settings, workers));
  for (std::size_t i = 0; i < workers; ++i) {
    auto h = make_handle(settings, dictionary);
    if (!h) return fail(h.error());
    c->all_.push_back(*h);
    c->free_.push_back(*h);
  }
  return c;
}

RadiusClient::~RadiusClient() {
  workers_.join();
  for (rc_handle* h : all_) rc_destroy(h);
}

rc_handle* RadiusClient::borrow() {
  std::unique_lock lock(mutex_);
  free_cv_.wait(lock, [this] { return !free_.empty(); });
  rc_handle* h = free_.back();
  free_.pop_back();
  return h;
}

void RadiusClient::give_back(rc_handle* h) {
  {
    std::lock_guard lock(mutex_);
    free_.push_back(h);
  }
  free_cv_.notify_one();
}

void RadiusClient::with_handle(const std::function<void(rc_handle*)>& f) {
  rc_handle* h = borrow();
  try {
    f(h);
  } catch (...) {
    give_back(h);
    throw;
  }
  give_back(h);
}

Reply RadiusClient::authenticate(const AccessRequest& request) {
  Reply reply;
  with_handle([&](rc_handle* h) {
    VALUE_PAIR* send = nullptr;
    VALUE_PAIR* received = nullptr;
    auto add = [&](int type, const std::string& value) {
      return rc_avpair_add(h, &send, type, value.data(), static_cast<int>(value.size()), 0) !=
             nullptr;
    };
    bool built = add(kUserName, request.user) && add(kUserPassword, request.password);
    if (built && !request.state.empty()) built = add(kState, request.state);
    if (built && !request.calling_station.empty())
      built = add(kCallingStationId, request.calling_station);
    if (!built) {
      rc_avpair_free(send);
      reply.detail = "the request's attributes do not fit RADIUS";
      return;
    }
    char message[PW_MAX_MSG_SIZE];
    message[0] = '\0';
    const int rc = rc_auth(h, 0, send, &received, message);
    rc_avpair_free(send);
    reply.attributes = read_attributes(received);
    rc_avpair_free(received);
    switch (rc) {
      case OK_RC:
        reply.outcome = Outcome::accept;
        break;
      case REJECT_RC:
        reply.outcome = Outcome::reject;
        break;
      case CHALLENGE_RC:
        reply.outcome = Outcome::challenge;
        break;
      case TIMEOUT_RC:
        reply.outcome = Outcome::no_answer;
        reply.detail = "no server answered";
        break;
      default:
        reply.outcome = Outcome::error;
        reply.detail = rc == BADRESP_RC ? "a server's reply failed its check (wrong secret?)"
                                        : "radcli error " + std::to_string(rc);
        break;
    }
  });
  return reply;
}

}  // namespace tandem::radius
