// The replication link: credentials, the server's unary calls (Hello, Handover), the client's
// Hello round with its connect probe, and the standby's Handover request. The Follow streams are
// in grpc_streams.cpp.
#include "replication/grpc_link.hpp"

#include <grpc/grpc_security_constants.h>
#include <grpc/support/log.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <fstream>
#include <future>
#include <sstream>

#include "base/log.hpp"
#include "replication/grpc_link_impl.hpp"

namespace tandem::replication {
namespace asio = boost::asio;

namespace {

constexpr int kKeepaliveMs = 1000;

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(Errc::io, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gRPC's own log lines join ours, at error level only.
void route_grpc_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    gpr_set_log_verbosity(GPR_LOG_SEVERITY_ERROR);
    gpr_set_log_function([](gpr_log_func_args* args) {
      log::warn("grpc", {{"message", args->message ? args->message : ""}});
    });
  });
}

std::chrono::system_clock::time_point deadline_in(Duration d) {
  return std::chrono::system_clock::now() + d;
}

Result<asio::ip::tcp::endpoint> parse_endpoint(const std::string& address) {
  auto colon = address.rfind(':');
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(address.substr(0, colon), ec);
  if (ec || colon == std::string::npos) return fail(Errc::invalid, "bad address " + address);
  return asio::ip::tcp::endpoint(ip,
                                 static_cast<unsigned short>(std::stoi(address.substr(colon + 1))));
}

}  // namespace

void GrpcLink::Impl::retain() {
  std::lock_guard lock(live_mutex);
  ++live;
}

void GrpcLink::Impl::release() {
  std::lock_guard lock(live_mutex);
  if (--live == 0) live_cv.notify_all();
}

void GrpcLink::Impl::schedule_ack_flush() {
  if (ack_flush_armed || !core.acks_pending()) return;
  ack_flush_armed = true;
  ack_flush.expires_after(std::chrono::milliseconds(2));
  ack_flush.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the link is going away
    ack_flush_armed = false;
    core.flush_acks();
  });
}

std::string GrpcLink::Impl::identity_problem(const grpc::AuthContext& auth) const {
  std::string named;
  for (const char* property : {GRPC_X509_CN_PROPERTY_NAME, GRPC_X509_SAN_PROPERTY_NAME}) {
    for (const auto& value : auth.FindPropertyValues(property)) {
      const std::string v(value.data(), value.size());
      if (v == peer.node_id) return {};
      if (named.empty()) named = v;
    }
  }
  return "the certificate names '" + named + "', not the configured peer '" + peer.node_id + "'";
}

// ---- Server side ----------------------------------------------------------------------------

grpc::ServerUnaryReactor* GrpcLink::Impl::Hello(grpc::CallbackServerContext* ctx,
                                                const proto::HelloRequest* req,
                                                proto::HelloReply* reply) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  std::string why = identity_problem(*ctx->auth_context());
  if (why.empty() && req->from().node_id() != peer.node_id) why = "claims another node id";
  if (!why.empty()) {
    log::error("peer_refused", {{"call", "Hello"}, {"reason", why}, {"from", ctx->peer()}});
    r->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
    return r;
  }
  post([this, r, req, reply] {
    core.on_peer_info(req->from(), clock.now());
    *reply->mutable_node() = core.self_info();
    r->Finish(grpc::Status::OK);
  });
  return r;
}

grpc::ServerUnaryReactor* GrpcLink::Impl::Handover(grpc::CallbackServerContext* ctx,
                                                   const proto::HelloRequest* req,
                                                   proto::HandoverReply* reply) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  std::string why = identity_problem(*ctx->auth_context());
  if (why.empty() && req->from().node_id() != peer.node_id) why = "claims another node id";
  if (!why.empty()) {
    log::error("peer_refused", {{"call", "Handover"}, {"reason", why}, {"from", ctx->peer()}});
    r->Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
    return r;
  }
  // The core answers within its handover timeout, or at shutdown.
  start_handover([r, reply](Result<std::string> result) {
    if (!result) {
      r->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, result.error()));
      return;
    }
    reply->set_result(*result);
    r->Finish(grpc::Status::OK);
  });
  return r;
}

grpc::ServerBidiReactor<proto::FollowerMessage, proto::LeaderMessage>* GrpcLink::Impl::Follow(
    grpc::CallbackServerContext* ctx) {
  return new FollowerStream(*this, ctx);
}

// ---- Client side (executor) -----------------------------------------------------------------

void GrpcLink::Impl::hello() {
  if (hello_in_flight || stopping || leader != nullptr) return;
  hello_in_flight = true;
  struct Call {
    grpc::ClientContext ctx;
    proto::HelloRequest req;
    proto::HelloReply reply;
  };
  auto call = std::make_shared<Call>();
  call->ctx.set_deadline(deadline_in(std::max(peer.poll_interval * 2, Duration{500})));
  *call->req.mutable_from() = core.self_info();
  retain();
  stub->async()->Hello(&call->ctx, &call->req, &call->reply, [this, call](grpc::Status st) {
    post([this, call, st] {
      hello_in_flight = false;
      if (!stopping) on_hello_answer(st, call->ctx, call->reply);
      release();
    });
  });
}

void GrpcLink::Impl::on_hello_answer(const grpc::Status& status, const grpc::ClientContext& ctx,
                                     const proto::HelloReply& reply) {
  const TimePoint now = clock.now();
  if (status.ok()) {
    auto auth = ctx.auth_context();
    std::string why = auth ? identity_problem(*auth) : "no peer certificate";
    if (why.empty() && reply.node().node_id() != peer.node_id) why = "answers as another node id";
    if (!why.empty()) {
      log::error("peer_refused", {{"call", "Hello answer"}, {"reason", why}});
      core.on_peer_unreachable(now);
      return;
    }
    core.on_peer_info(reply.node(), now);
    if (core.should_follow(now) && leader == nullptr) start_following();
    return;
  }
  // UNAVAILABLE: no connection. A connect probe tells a dead process (its port refuses) from a
  // silent or unreachable machine; only the first lets a standby promote before hold_time.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) return probe();
  core.on_peer_unreachable(now);
}

void GrpcLink::Impl::start_following() {
  leader = new LeaderStream(*this);
  core.on_following(clock.now());
  leader->begin(core.follow_start());
}

void GrpcLink::Impl::probe() {
  if (probing || stopping) return;
  auto endpoint = parse_endpoint(peer.address);
  if (!endpoint) return core.on_peer_unreachable(clock.now());
  probing = true;
  auto socket = std::make_shared<asio::ip::tcp::socket>(io);
  auto timer = std::make_shared<asio::steady_timer>(io);
  timer->expires_after(std::chrono::milliseconds(500));
  timer->async_wait([socket](const boost::system::error_code& ec) {
    if (!ec) socket->close();  // no answer at all: unreachable
  });
  socket->async_connect(*endpoint, [this, socket, timer](const boost::system::error_code& ec) {
    timer->cancel();
    probing = false;
    if (stopping) return;
    if (ec == asio::error::connection_refused) {
      post([this] { core.on_peer_refused(clock.now()); });
    } else {
      post([this] { core.on_peer_unreachable(clock.now()); });
    }
  });
}

// ---- GrpcLink -------------------------------------------------------------------------------

GrpcLink::GrpcLink(const PeerSettings& peer, ReplicationCore& core, const Clock& clock, Post post,
                   StartHandover start_handover, asio::io_context& io)
    : impl_(std::make_unique<Impl>(peer, core, clock, std::move(post), std::move(start_handover),
                                   io)) {}

GrpcLink::~GrpcLink() { stop(); }

Result<PeerKeys> read_peer_keys(const PeerSettings& peer) {
  auto ca = read_file(peer.ca);
  if (!ca) return fail(Errc::io, "peer.ca: " + ca.error());
  auto cert = read_file(peer.certificate);
  if (!cert) return fail(Errc::io, "peer.certificate: " + cert.error());
  auto key = read_file(peer.private_key);
  if (!key) return fail(Errc::io, "peer.private_key: " + key.error());
  return PeerKeys{std::move(*ca), std::move(*cert), std::move(*key)};
}

Result<void> GrpcLink::start(const PeerKeys& keys) {
  route_grpc_logs();
  const PeerSettings& peer = impl_->peer;
  const std::string* ca = &keys.ca;
  const std::string* cert = &keys.certificate;
  const std::string* key = &keys.private_key;

  grpc::SslServerCredentialsOptions server_opts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  server_opts.pem_root_certs = *ca;
  server_opts.pem_key_cert_pairs.push_back({*key, *cert});
  grpc::SslCredentialsOptions client_opts;
  client_opts.pem_root_certs = *ca;
  client_opts.pem_private_key = *key;
  client_opts.pem_cert_chain = *cert;

  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 * 1024 * 1024);
  // A connection whose peer vanished (a cut link, a dead machine) is found by pings and replaced,
  // rather than trusted until TCP gives up: after a heal the pair talks again within seconds.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  impl_->channel = grpc::CreateCustomChannel(peer.address, grpc::SslCredentials(client_opts), args);
  impl_->stub = proto::Replication::NewStub(impl_->channel);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(peer.listen, grpc::SslServerCredentials(server_opts));
  builder.RegisterService(impl_.get());
  builder.SetMaxSendMessageSize(64 * 1024 * 1024);
  builder.SetMaxReceiveMessageSize(4 * 1024 * 1024);  // a standby sends only small messages
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveMs);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             kKeepaliveMs / 2);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server) return fail(Errc::io, "peer.listen " + peer.listen + ": cannot listen");
  log::info("replication_listening",
            {{"address", peer.listen}, {"peer", peer.address}, {"peer_id", peer.node_id}});
  return {};
}

void GrpcLink::stop() {
  if (!impl_ || !impl_->stub) return;
  Impl& d = *impl_;
  // Mark stopping and end our streams on the executor; then the server, whose shutdown waits for
  // its reactors (their last work runs on the executor, which still runs).
  {
    // Shared, not on this stack: on a starved machine the work may run after the wait gave up.
    auto ended = std::make_shared<std::promise<void>>();
    auto ended_future = ended->get_future();
    d.post([&d, ended] {
      d.stopping = true;
      for (auto& [id, stream] : d.followers)
        stream->close(grpc::Status(grpc::StatusCode::UNAVAILABLE, "stopping"));
      if (d.leader) d.leader->cancel();
      ended->set_value();
    });
    ended_future.wait_for(std::chrono::seconds(10));
  }
  if (d.server) {
    d.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    d.server.reset();
  }
  std::unique_lock lock(d.live_mutex);
  if (!d.live_cv.wait_for(lock, std::chrono::seconds(10), [&] { return d.live == 0; }))
    log::error("replication_stop_incomplete", {{"calls_left", std::to_string(d.live)}});
  d.stub.reset();
}

void GrpcLink::hello() { impl_->hello(); }

bool GrpcLink::following() const { return impl_->leader != nullptr; }

void GrpcLink::send_to_follower(StreamId id, proto::LeaderMessage msg) {
  auto it = impl_->followers.find(id);
  if (it != impl_->followers.end()) it->second->send(std::move(msg));
}

void GrpcLink::close_follower(StreamId id) {
  auto it = impl_->followers.find(id);
  if (it != impl_->followers.end()) it->second->close(grpc::Status::OK);
}

void GrpcLink::send_to_leader(proto::FollowerMessage msg) {
  if (impl_->leader) impl_->leader->send(std::move(msg));
}

void GrpcLink::stop_following() {
  if (impl_->leader) impl_->leader->cancel();
}

void GrpcLink::ask_peer_to_hand_over(HandoverDone done) {
  Impl& d = *impl_;
  struct Call {
    grpc::ClientContext ctx;
    proto::HelloRequest req;
    proto::HandoverReply reply;
  };
  auto call = std::make_shared<Call>();
  call->ctx.set_deadline(deadline_in(std::chrono::seconds(25)));
  *call->req.mutable_from() = d.core.self_info();
  d.retain();
  d.stub->async()->Handover(
      &call->ctx, &call->req, &call->reply,
      [&d, call, done = std::move(done)](grpc::Status st) mutable {
        d.post([&d, call, st, done = std::move(done)] {
          if (st.ok())
            done(call->reply.result());
          else
            done(fail(Errc::unavailable, "the active refused: " + st.error_message()));
          d.release();
        });
      });
}

}  // namespace tandem::replication
