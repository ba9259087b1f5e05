#include "replication/grpc_link.hpp"

#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>
#include <vector>

#include "node/common/log.hpp"
#include "proto/replication.grpc.pb.h"
#include "replication/replicator_core.hpp"

namespace tandem::replication {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// gRPC's own log lines join ours, at warning level and above.
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

bool refused(const grpc::Status& s) {
  return s.error_code() == grpc::StatusCode::UNAVAILABLE &&
         s.error_message().find("onnection refused") != std::string::npos;
}

}  // namespace

struct GrpcLink::Impl final : public proto::Replication::Service {
  explicit Impl(Replicator::Core& c) : core(c) {}

  Replicator::Core& core;
  std::shared_ptr<grpc::ServerCredentials> server_creds;
  std::shared_ptr<grpc::ChannelCredentials> client_creds;
  std::unique_ptr<grpc::Server> server;
  std::thread follow_thread;
  std::mutex threads_mutex;
  std::vector<std::thread> helper_threads;

  std::shared_ptr<grpc::Channel> channel() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, 64 * 1024 * 1024);
    return grpc::CreateCustomChannel(core.peer.address, client_creds, args);
  }

  // ---- server side: we are (or may be) the active ----

  grpc::Status Hello(grpc::ServerContext*, const proto::HelloRequest* req,
                     proto::HelloReply* reply) override {
    if (req->has_from()) core.on_peer_info(req->from(), false);
    *reply->mutable_node() = core.self_info();
    return grpc::Status::OK;
  }

  grpc::Status Handover(grpc::ServerContext*, const proto::HelloRequest*,
                        proto::HandoverReply* reply) override {
    auto promise = std::make_shared<std::promise<Result<std::string>>>();
    auto future = promise->get_future();
    core.begin_handover([promise](Result<std::string> r) { promise->set_value(std::move(r)); });
    if (future.wait_for(std::chrono::seconds(20)) != std::future_status::ready)
      return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "handover did not complete");
    auto r = future.get();
    if (!r) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, r.error());
    reply->set_result(*r);
    return grpc::Status::OK;
  }

  grpc::Status Follow(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<proto::LeaderMessage, proto::FollowerMessage>* stream) override {
    proto::FollowerMessage first;
    if (!stream->Read(&first) || !first.has_start())
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a start message");
    core.on_peer_info(first.start(), false);
    auto f = core.attach_follower(first.start());
    if (!f) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not the active node");

    // Acks (and the promotion report) arrive on their own thread; writes stay on this one.
    std::thread reader([this, stream, f] {
      proto::FollowerMessage msg;
      while (stream->Read(&msg)) {
        if (msg.has_promoted())
          core.on_follower_promoted(f, msg.promoted());
        else if (msg.kind_case() == proto::FollowerMessage::kAck)
          core.on_ack(f, msg.ack());
      }
      core.detach_follower(f);
    });

    auto last_heartbeat = std::chrono::steady_clock::time_point{};
    for (;;) {
      std::vector<proto::LeaderMessage> batch;
      {
        std::unique_lock lock(core.mutex);
        core.wake.wait_for(lock, core.peer.poll_interval / 2, [&] {
          return !f->outbound.empty() || f->gone || !core.running || ctx->IsCancelled();
        });
        if (f->gone || !core.running || ctx->IsCancelled()) break;
        while (!f->outbound.empty()) {
          batch.push_back(std::move(f->outbound.front()));
          f->outbound.pop_front();
        }
        auto now = std::chrono::steady_clock::now();
        if (now - last_heartbeat >= core.peer.poll_interval) {
          proto::LeaderMessage hb;
          *hb.mutable_heartbeat()->mutable_node() = core.self_info_locked();
          hb.mutable_heartbeat()->set_sent_unix_ms(
              std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count());
          batch.push_back(std::move(hb));
          last_heartbeat = now;
        }
      }
      bool ok = true;
      for (auto& msg : batch) {
        if (!stream->Write(msg)) {
          ok = false;
          break;
        }
      }
      if (!ok) break;
    }
    ctx->TryCancel();  // unblocks the reader
    reader.join();
    return grpc::Status::OK;
  }

  // ---- client side: we are the standby ----

  void follow_loop() {
    while (core.running) {
      const bool active = [&] {
        std::lock_guard lock(core.mutex);
        return core.role.role() == Role::active;
      }();
      auto stub = proto::Replication::NewStub(channel());
      proto::HelloRequest req;
      *req.mutable_from() = core.self_info();
      proto::HelloReply hello;
      grpc::ClientContext hello_ctx;
      hello_ctx.set_deadline(deadline_in(std::max(core.peer.poll_interval * 2, Duration{500})));
      grpc::Status st = stub->Hello(&hello_ctx, req, &hello);
      if (!st.ok()) {
        if (refused(st))
          core.on_peer_refused();
        else
          core.on_peer_unreachable();
        sleep_poll();
        continue;
      }
      // An active uses Hello only to notice a second active (fencing); on_peer_info decides.
      core.on_peer_info(hello.node(), false);
      if (active || hello.node().role() != "active") {
        sleep_poll();
        continue;
      }
      follow(*stub);
    }
  }

  void follow(proto::Replication::Stub& stub) {
    grpc::ClientContext ctx;
    {
      std::lock_guard lock(core.mutex);
      if (core.role.role() == Role::active) return;
      core.cancel_follow = [&ctx] { ctx.TryCancel(); };
      core.following = true;
    }
    auto stream = stub.Follow(&ctx);
    proto::FollowerMessage start;
    *start.mutable_start() = core.self_info();
    bool ok = stream->Write(start);
    Snapshot pending;
    proto::LeaderMessage msg;
    while (ok && stream->Read(&msg)) {
      if (msg.has_heartbeat()) {
        core.on_peer_info(msg.heartbeat().node(), true);
      } else if (msg.has_change()) {
        auto r = core.apply_change(msg.change());
        if (!r) {
          log::warn("replication_apply_failed",
                    {{"seq", std::to_string(msg.change().seq())}, {"reason", r.error()}});
          break;  // reconnect: the start message tells the active where we really are
        }
        proto::FollowerMessage ack;
        ack.set_ack(msg.change().seq());
        ok = stream->Write(ack);
      } else if (msg.has_snapshot()) {
        const auto& s = msg.snapshot();
        for (const auto& rec : s.sessions()) pending.sessions.push_back(rec);
        if (s.last()) {
          pending.position = {s.last_sequence(), s.last_epoch()};
          pending.epoch = s.epoch();
          pending.next_session_index = s.next_session_index();
          auto r = core.install_snapshot(pending);
          pending = Snapshot{};
          if (!r) {
            log::error("snapshot_install_failed", {{"reason", r.error()}});
            break;
          }
          proto::FollowerMessage ack;
          ack.set_ack(s.last_sequence());
          ok = stream->Write(ack);
        }
      } else if (msg.has_take_over()) {
        proto::FollowerMessage promoted;
        *promoted.mutable_promoted() = core.take_over();
        stream->Write(promoted);
        stream->WritesDone();
        // Let the old active read it and end the call itself; cancelling now could drop it.
        while (stream->Read(&msg)) {
        }
        break;
      }
    }
    {
      std::lock_guard lock(core.mutex);
      core.cancel_follow = nullptr;
      core.following = false;
    }
    ctx.TryCancel();
    grpc::Status st = stream->Finish();
    if (refused(st)) core.on_peer_refused();
  }

  void sleep_poll() {
    auto until = std::chrono::steady_clock::now() + core.peer.poll_interval;
    while (core.running && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
};

GrpcLink::GrpcLink(Replicator::Core& core) : impl_(std::make_unique<Impl>(core)) {}

GrpcLink::~GrpcLink() { stop(); }

Result<bool> GrpcLink::start() {
  route_grpc_logs();
  auto& peer = impl_->core.peer;
  auto ca = read_file(peer.ca);
  if (!ca) return fail("peer.ca: " + ca.error());
  auto cert = read_file(peer.certificate);
  if (!cert) return fail("peer.certificate: " + cert.error());
  auto key = read_file(peer.private_key);
  if (!key) return fail("peer.private_key: " + key.error());

  grpc::SslServerCredentialsOptions server_opts(
      GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  server_opts.pem_root_certs = *ca;
  server_opts.pem_key_cert_pairs.push_back({*key, *cert});
  impl_->server_creds = grpc::SslServerCredentials(server_opts);
  grpc::SslCredentialsOptions client_opts;
  client_opts.pem_root_certs = *ca;
  client_opts.pem_private_key = *key;
  client_opts.pem_cert_chain = *cert;
  impl_->client_creds = grpc::SslCredentials(client_opts);

  grpc::ServerBuilder builder;
  builder.AddListeningPort(peer.listen, impl_->server_creds);
  builder.RegisterService(impl_.get());
  builder.SetMaxSendMessageSize(64 * 1024 * 1024);
  impl_->server = builder.BuildAndStart();
  if (!impl_->server) return fail("peer.listen " + peer.listen + ": cannot listen");
  log::info("replication_listening", {{"address", peer.listen}, {"peer", peer.address}});
  impl_->follow_thread = std::thread([i = impl_.get()] { i->follow_loop(); });
  return true;
}

void GrpcLink::stop() {
  if (!impl_) return;
  if (impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    impl_->server.reset();
  }
  if (impl_->follow_thread.joinable()) impl_->follow_thread.join();
  std::lock_guard lock(impl_->threads_mutex);
  for (auto& t : impl_->helper_threads)
    if (t.joinable()) t.join();
  impl_->helper_threads.clear();
}

void GrpcLink::ask_peer_to_hand_over(std::function<void(Result<std::string>)> done) {
  std::lock_guard lock(impl_->threads_mutex);
  impl_->helper_threads.emplace_back([i = impl_.get(), done] {
    auto stub = proto::Replication::NewStub(i->channel());
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline_in(std::chrono::seconds(25)));
    proto::HelloRequest req;
    *req.mutable_from() = i->core.self_info();
    proto::HandoverReply reply;
    grpc::Status st = stub->Handover(&ctx, req, &reply);
    Result<std::string> r =
        st.ok() ? Result<std::string>(reply.result())
                : Result<std::string>(fail("the active refused: " + st.error_message()));
    i->core.host.post([done, r] { done(r); });
  });
}

}  // namespace tandem::replication
