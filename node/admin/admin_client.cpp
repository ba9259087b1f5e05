#include "node/admin/admin_client.hpp"

#include <grpcpp/grpcpp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "proto/admin.grpc.pb.h"

namespace tandem::admin {
namespace {

// Every request is answered from the daemon's I/O thread in microseconds; a daemon that takes
// longer than this is stuck, and the operator should hear so instead of waiting forever.
constexpr auto kCallDeadline = std::chrono::seconds(5);

}  // namespace

std::string socket_error_message(const std::string& socket_path, int errno_value) {
  switch (errno_value) {
    case ENOENT:
    case ENOTDIR:
      return "no tandemd on " + socket_path + " (is it running?)";
    case EACCES:
    case EPERM:
      return "not permitted: " + socket_path + " is root-only";
    case ECONNREFUSED:
      return "no tandemd answering on " + socket_path;
    default:
      return socket_path + ": " + std::strerror(errno_value);
  }
}

struct AdminClient::Impl {
  std::string socket_path;
  std::unique_ptr<proto::Admin::Stub> stub;

  template <class Reply, class Rpc>
  Result<Reply> call(Rpc rpc) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + kCallDeadline);
    Reply reply;
    const grpc::Status status = rpc(&ctx, &reply);
    if (status.ok()) return reply;
    return fail(describe(status));
  }

  std::string describe(const grpc::Status& status) const {
    switch (status.error_code()) {
      case grpc::StatusCode::UNAVAILABLE:
        // A stale socket file with nobody listening, or a daemon that just went away.
        return "no tandemd answering on " + socket_path;
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return "tandemd on " + socket_path + " did not answer within " +
               std::to_string(kCallDeadline.count()) + " s";
      case grpc::StatusCode::NOT_FOUND:
        return "no such session";
      case grpc::StatusCode::PERMISSION_DENIED:
        return "not permitted: " + socket_path + " is root-only";
      default:
        if (!status.error_message().empty()) return status.error_message();
        return "tandemd answered with gRPC status " +
               std::to_string(static_cast<int>(status.error_code()));
    }
  }
};

Result<std::unique_ptr<AdminClient>> AdminClient::connect(const std::string& socket_path) {
  // gRPC would report all of these as one opaque "failed to connect"; look first.
  struct stat st {};
  if (::stat(socket_path.c_str(), &st) != 0) return fail(socket_error_message(socket_path, errno));
  if (!S_ISSOCK(st.st_mode)) return fail("no tandemd on " + socket_path + " (not a socket)");
  if (::access(socket_path.c_str(), W_OK) != 0)
    return fail(socket_error_message(socket_path, errno));

  grpc::ChannelArguments args;
  // An operator's https_proxy must never be consulted for a local socket.
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  auto channel =
      grpc::CreateCustomChannel("unix:" + socket_path, grpc::InsecureChannelCredentials(), args);
  if (!channel) return fail("cannot open a channel to " + socket_path);
  auto impl = std::make_unique<Impl>();
  impl->socket_path = socket_path;
  impl->stub = proto::Admin::NewStub(channel);
  return std::unique_ptr<AdminClient>(new AdminClient(std::move(impl)));
}

AdminClient::AdminClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AdminClient::~AdminClient() = default;

Result<proto::StatusReply> AdminClient::status() {
  return impl_->call<proto::StatusReply>([&](grpc::ClientContext* ctx, proto::StatusReply* r) {
    return impl_->stub->Status(ctx, proto::StatusRequest(), r);
  });
}

Result<proto::ShowSessionsReply> AdminClient::show_sessions(
    const proto::ShowSessionsRequest& request) {
  return impl_->call<proto::ShowSessionsReply>(
      [&](grpc::ClientContext* ctx, proto::ShowSessionsReply* r) {
        return impl_->stub->ShowSessions(ctx, request, r);
      });
}

Result<proto::LogoffReply> AdminClient::logoff(const proto::LogoffRequest& request) {
  return impl_->call<proto::LogoffReply>([&](grpc::ClientContext* ctx, proto::LogoffReply* r) {
    return impl_->stub->Logoff(ctx, request, r);
  });
}

Result<proto::FailoverReply> AdminClient::failover() {
  return impl_->call<proto::FailoverReply>([&](grpc::ClientContext* ctx, proto::FailoverReply* r) {
    return impl_->stub->Failover(ctx, proto::FailoverRequest(), r);
  });
}

Result<proto::ReloadReply> AdminClient::reload() {
  return impl_->call<proto::ReloadReply>([&](grpc::ClientContext* ctx, proto::ReloadReply* r) {
    return impl_->stub->Reload(ctx, proto::ReloadRequest(), r);
  });
}

Result<proto::DrainReply> AdminClient::drain(bool draining) {
  proto::DrainRequest request;
  request.set_draining(draining);
  return impl_->call<proto::DrainReply>([&](grpc::ClientContext* ctx, proto::DrainReply* r) {
    return impl_->stub->Drain(ctx, request, r);
  });
}

}  // namespace tandem::admin
