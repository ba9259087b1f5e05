#pragma once
// tandemctl's side of the admin API: one call per RPC over the daemon's root-only Unix socket.
// Errors come back as sentences an operator can act on ("no tandemd on PATH (is it running?)",
// "not permitted: PATH is root-only", "no such session"), never as raw gRPC codes. Only
// admin_client.cpp sees gRPC headers, so the command line builds against plain messages.
#include <memory>
#include <string>

#include "base/result.hpp"
#include "proto/admin.pb.h"

namespace tandem::admin {

class AdminClient {
 public:
  // Looks at the socket before dialling, so a missing daemon or a non-root caller is told so
  // plainly instead of seeing a connection error.
  static Result<std::unique_ptr<AdminClient>> connect(const std::string& socket_path);
  ~AdminClient();
  AdminClient(const AdminClient&) = delete;
  AdminClient& operator=(const AdminClient&) = delete;

  Result<proto::StatusReply> status();
  Result<proto::ShowSessionsReply> show_sessions(const proto::ShowSessionsRequest& request);
  // NOT_FOUND (nothing matched the filter) comes back as the error "no such session".
  Result<proto::LogoffReply> logoff(const proto::LogoffRequest& request);
  Result<proto::FailoverReply> failover();
  Result<proto::ReloadReply> reload();
  Result<proto::DrainReply> drain(bool draining);

  struct Impl;

 private:
  explicit AdminClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The sentence for a socket that cannot be used, from the errno of stat()/access()/connect().
// Pure, so the wording is unit-tested.
std::string socket_error_message(const std::string& socket_path, int errno_value);

}  // namespace tandem::admin
