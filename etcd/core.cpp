// Endpoints and channels, error mapping, delivery to the owner's executor, and the calls'
// bookkeeping that lets a Client close without any callback running afterwards.
#include "etcd/core.hpp"

#include <fstream>
#include <sstream>

#include "etcd/client_impl.hpp"
#include "etcd/lease_stream.hpp"

namespace tandem::etcd {

namespace {

// etcd's gRPC server refuses pings closer than 5 s apart (--grpc-keepalive-min-time) and pings
// without a call in flight: it would close the connection as abusive. 10 s with calls only.
constexpr int kKeepaliveMs = 10'000;
constexpr auto kCloseWait = std::chrono::seconds(3);

Result<std::string> read_file(const std::string& what, const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::io, "etcd " + what + ": cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const char* code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return nullptr;
  }
}

Errc errc_of(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return Errc::unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Errc::timeout;
    case grpc::StatusCode::NOT_FOUND:  // etcd: "requested lease not found"
      return Errc::not_found;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Errc::invalid;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Errc::busy;
    case grpc::StatusCode::OUT_OF_RANGE:  // etcd: "required revision has been compacted"
      return Errc::gap;
    default:
      return Errc::failed;
  }
}

// gRPC 1.51 (Debian 12) runs callback-API reactions on a process-wide completion queue that
// every channel using it references; when the last such channel is destroyed the queue is shut
// down while its threads may still be finishing a tag, and the process aborts in
// grpc_cq_internal_unref (seen in etcd_client_test when tests ran in parallel). So channels are
// never destroyed: one per endpoint and credentials for the process, shared by every Client.
// A daemon talks to a fixed set of endpoints; this keeps a handful of channels.
std::shared_ptr<grpc::Channel> process_channel(const std::string& key, const std::string& target,
                                               const std::shared_ptr<grpc::ChannelCredentials>& c,
                                               const grpc::ChannelArguments& args) {
  static std::mutex mutex;
  static auto* channels = new std::map<std::string, std::shared_ptr<grpc::Channel>>;
  std::lock_guard lock(mutex);
  auto& channel = (*channels)[key];
  if (!channel) channel = grpc::CreateCustomChannel(target, c, args);
  return channel;
}

}  // namespace

namespace {
// The call this thread is cancelling: its final reaction may run inline, inside TryCancel.
thread_local const Cancellable* cancelling_here = nullptr;
}  // namespace

void Cancellable::cancel() {
  {
    std::lock_guard lock(cancel_mutex_);
    if (finished_) return;
    ++cancelling_;
  }
  cancelling_here = this;
  context().TryCancel();
  cancelling_here = nullptr;
  std::lock_guard lock(cancel_mutex_);
  if (--cancelling_ == 0) cancel_done_.notify_all();
}

void Cancellable::finished() {
  std::unique_lock lock(cancel_mutex_);
  finished_ = true;
  const int mine = cancelling_here == this ? 1 : 0;
  cancel_done_.wait(lock, [&] { return cancelling_ == mine; });
}

std::size_t Core::pick() {
  std::lock_guard lock(mutex_);
  return current_;
}

void Core::failed_on(std::size_t index, const grpc::Status& status) {
  const auto code = status.error_code();
  if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED) return;
  std::lock_guard lock(mutex_);
  if (current_ == index) current_ = (current_ + 1) % endpoints.size();
}

Error Core::error(std::size_t index, const char* method, const grpc::Status& status) const {
  const char* name = code_name(status.error_code());
  const std::string code =
      name ? name : "code " + std::to_string(static_cast<int>(status.error_code()));
  return fail(errc_of(status.error_code()), "etcd " + endpoints[index].url + " " + method + ": " +
                                                status.error_message() + " (" + code + ")");
}

void Core::deliver(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (closed_) return;
  // The check again on the executor: the Client may be destroyed between this post and the run.
  post([self = shared_from_this(), fn = std::move(fn)] {
    if (!self->closed()) fn();
  });
}

bool Core::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

bool Core::begin(const std::shared_ptr<Cancellable>& call) {
  std::lock_guard lock(mutex_);
  if (closed_) return false;
  calls_[call.get()] = call;
  ++live_;
  return true;
}

void Core::end(Cancellable* call) {
  std::lock_guard lock(mutex_);
  calls_.erase(call);
  if (--live_ == 0) idle_.notify_all();
}

void Core::close() {
  std::vector<std::shared_ptr<Cancellable>> running;
  std::shared_ptr<KeepAliveStream> stream;  // released outside the mutex
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (auto& [raw, weak] : calls_)
      if (auto call = weak.lock()) running.push_back(std::move(call));
    stream = std::move(keep_alive_);
  }
  // Not under the mutex: a cancelled call may complete on this thread and end() itself.
  for (auto& call : running) call->cancel();
  running.clear();
  stream.reset();
  std::unique_lock lock(mutex_);
  idle_.wait_for(lock, kCloseWait, [this] { return live_ == 0; });
}

std::shared_ptr<KeepAliveStream> Core::keep_alive_stream() {
  std::shared_ptr<KeepAliveStream> stream;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return nullptr;
    if (keep_alive_ && !keep_alive_->broken()) return keep_alive_;
    keep_alive_ = stream = std::make_shared<KeepAliveStream>(shared_from_this(), current_);
  }
  stream->start();
  return stream;
}

// ---- Client ----------------------------------------------------------------------------------

Result<EndpointUrl> parse_endpoint_url(std::string_view url) {
  EndpointUrl e;
  std::string_view rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest.remove_prefix(7);
  } else if (rest.rfind("https://", 0) == 0) {
    rest.remove_prefix(8);
    e.tls = true;
  } else {
    rest = {};
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty() || rest.find('/') != std::string_view::npos)
    return fail(Errc::invalid,
                "etcd endpoint '" + std::string(url) + "': expected http://H:P or https://H:P");
  e.target = std::string(rest);
  return e;
}

Result<std::unique_ptr<Client>> Client::create(ClientSettings settings, Post post) {
  if (settings.endpoints.empty()) return fail(Errc::invalid, "etcd: no endpoints");
  if (!post) return fail(Errc::invalid, "etcd: no executor");
  if (settings.request_timeout <= std::chrono::milliseconds::zero())
    return fail(Errc::invalid, "etcd: request_timeout must be positive");

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // A restarted etcd is reached again within a second, not after gRPC's default backoff.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // A watch or keep-alive stream to a machine that vanished is found by pings and ends.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveMs / 2);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);

  std::shared_ptr<grpc::ChannelCredentials> tls;
  std::string tls_key;  // the PEM contents: other files, another channel
  auto core = std::make_shared<Core>(std::move(settings), std::move(post));
  for (const std::string& url : core->settings.endpoints) {
    auto parsed = parse_endpoint_url(url);
    if (!parsed) return parsed.failure();
    std::shared_ptr<grpc::ChannelCredentials> credentials;
    if (!parsed->tls) {
      credentials = grpc::InsecureChannelCredentials();
    } else {
      if (!tls) {
        const ClientSettings& s = core->settings;
        if (s.ca.empty()) return fail(Errc::invalid, "etcd " + url + ": https needs a CA file");
        grpc::SslCredentialsOptions options;
        auto ca = read_file("ca", s.ca);
        if (!ca) return ca.failure();
        options.pem_root_certs = *ca;
        if (!s.certificate.empty() || !s.private_key.empty()) {
          auto cert = read_file("certificate", s.certificate);
          if (!cert) return cert.failure();
          auto key = read_file("private_key", s.private_key);
          if (!key) return key.failure();
          options.pem_cert_chain = *cert;
          options.pem_private_key = *key;
        }
        tls = grpc::SslCredentials(options);
        tls_key = options.pem_root_certs + options.pem_cert_chain + options.pem_private_key;
      }
      credentials = tls;
    }
    const std::string& target = parsed->target;
    Endpoint e;
    e.url = url;
    e.channel =
        process_channel(credentials == tls ? url + "\n" + tls_key : url, target, credentials, args);
    e.kv = pb::KV::NewStub(e.channel);
    e.lease = pb::Lease::NewStub(e.channel);
    e.watch = pb::Watch::NewStub(e.channel);
    core->endpoints.push_back(std::move(e));
  }
  return std::unique_ptr<Client>(new ClientImpl(std::move(core)));
}

ClientImpl::~ClientImpl() { core_->close(); }

}  // namespace tandem::etcd
