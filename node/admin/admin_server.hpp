#pragma once
// The admin API server: gRPC on a Unix socket that only root may open (mode 0600 in a 0700
// directory). Requests are answered by an AdminBackend on the daemon's I/O thread, so the
// session table keeps its single owner. Only admin_server.cpp sees gRPC headers.
#include <functional>
#include <memory>
#include <string>

#include "base/result.hpp"
#include "proto/admin.pb.h"

namespace tandem::admin {

class AdminBackend {
 public:
  virtual ~AdminBackend() = default;
  // Run `work` on the daemon's I/O thread; every other method is called only from there.
  virtual void post(std::function<void()> work) = 0;
  virtual proto::StatusReply status() = 0;
  virtual proto::ShowSessionsReply show_sessions(const proto::ShowSessionsRequest& request) = 0;
  // Completes once every removal is on disk and, with a standby, acknowledged by it (or its
  // acknowledgement timed out, counted in the reply): `done` is called on the I/O thread.
  virtual void logoff(const proto::LogoffRequest& request,
                      std::function<void(Result<proto::LogoffReply>)> done) = 0;
  // Completes later (a handover waits for the standby); `done` is called on the I/O thread.
  virtual void failover(std::function<void(Result<std::string>)> done) = 0;
  virtual Result<std::string> reload() = 0;
  // tandemctl drain / undrain: allowed on every node (a standalone one refuses new logins too).
  virtual Result<proto::DrainReply> drain(const proto::DrainRequest& request) = 0;
};

class AdminServer {
 public:
  static Result<std::unique_ptr<AdminServer>> start(const std::string& socket_path,
                                                    AdminBackend& backend);
  ~AdminServer();  // stops serving; in-flight requests are cancelled

  struct Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tandem::admin
