#include "node/admin/admin_server.hpp"

#include <grpcpp/grpcpp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "proto/admin.grpc.pb.h"

namespace tandem::admin {
namespace {

class Service final : public proto::Admin::CallbackService {
 public:
  explicit Service(AdminBackend& backend) : backend_(backend) {}

  grpc::ServerUnaryReactor* Status(grpc::CallbackServerContext* ctx, const proto::StatusRequest*,
                                   proto::StatusReply* reply) override {
    return on_io_thread(ctx, [this, reply] {
      *reply = backend_.status();
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* ShowSessions(grpc::CallbackServerContext* ctx,
                                         const proto::ShowSessionsRequest* request,
                                         proto::ShowSessionsReply* reply) override {
    return on_io_thread(ctx, [this, request, reply] {
      *reply = backend_.show_sessions(*request);
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* Logoff(grpc::CallbackServerContext* ctx,
                                   const proto::LogoffRequest* request,
                                   proto::LogoffReply* reply) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    backend_.post([this, reactor, request, reply] {
      backend_.logoff(*request, [reactor, reply](Result<proto::LogoffReply> r) {
        if (!r)
          return reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.error()));
        if (r->logged_off().empty())
          return reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such session"));
        *reply = std::move(*r);
        reactor->Finish(grpc::Status::OK);
      });
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Failover(grpc::CallbackServerContext* ctx,
                                     const proto::FailoverRequest*,
                                     proto::FailoverReply* reply) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    backend_.post([this, reactor, reply] {
      backend_.failover([reactor, reply](Result<std::string> r) {
        if (!r)
          return reactor->Finish(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, r.error()));
        reply->set_result(*r);
        reactor->Finish(grpc::Status::OK);
      });
    });
    return reactor;
  }

  grpc::ServerUnaryReactor* Reload(grpc::CallbackServerContext* ctx, const proto::ReloadRequest*,
                                   proto::ReloadReply* reply) override {
    return on_io_thread(ctx, [this, reply] {
      auto r = backend_.reload();
      if (!r) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, r.error());
      reply->set_result(*r);
      return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* Drain(grpc::CallbackServerContext* ctx,
                                  const proto::DrainRequest* request,
                                  proto::DrainReply* reply) override {
    return on_io_thread(ctx, [this, request, reply] {
      auto r = backend_.drain(*request);
      if (!r) return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, r.error());
      *reply = std::move(*r);
      return grpc::Status::OK;
    });
  }

 private:
  template <class Work>
  grpc::ServerUnaryReactor* on_io_thread(grpc::CallbackServerContext* ctx, Work work) {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    backend_.post([reactor, work = std::move(work)]() mutable { reactor->Finish(work()); });
    return reactor;
  }

  AdminBackend& backend_;
};

// A live daemon accepts connections on its socket; a stale file from a crash refuses them.
bool socket_in_use(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool live = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return live;
}

}  // namespace

struct AdminServer::Impl {
  explicit Impl(AdminBackend& backend) : service(backend) {}
  Service service;
  std::unique_ptr<grpc::Server> server;
};

Result<std::unique_ptr<AdminServer>> AdminServer::start(const std::string& socket_path,
                                                        AdminBackend& backend) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path path(socket_path);
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return fail("admin socket directory " + path.parent_path().string() + ": " + ec.message());
  }
  if (socket_in_use(socket_path))
    return fail("admin socket " + socket_path + " is in use: is another tandemd running?");
  fs::remove(path, ec);  // a stale socket from a previous run
  auto impl = std::make_unique<Impl>(backend);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(&impl->service);
  builder.SetMaxReceiveMessageSize(64 * 1024);
  // The socket is created by BuildAndStart; tighten its mode before anyone can reach it
  // through a permissive umask.
  mode_t old = ::umask(0077);
  impl->server = builder.BuildAndStart();
  ::umask(old);
  if (!impl->server) return fail("admin socket " + socket_path + ": cannot listen");
  ::chmod(socket_path.c_str(), 0600);
  return std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() {
  if (impl_ && impl_->server)
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
}

}  // namespace tandem::admin
