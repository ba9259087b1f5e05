#pragma once
// Internal to etcd/*.cpp: the long-lived LeaseKeepAlive stream. Each keep_alive() writes one
// request; etcd answers a stream's requests in order, so answers match the oldest waiting
// request. A request without an answer within the request timeout fails with Errc::timeout and
// ends the stream (it is stuck); the next keep_alive() opens a new one.
#include <grpcpp/alarm.h>

#include <cstdint>
#include <deque>

#include "etcd/core.hpp"

namespace tandem::etcd {

class KeepAliveStream final
    : public grpc::ClientBidiReactor<pb::LeaseKeepAliveRequest, pb::LeaseKeepAliveResponse>,
      public Cancellable,
      public std::enable_shared_from_this<KeepAliveStream> {
 public:
  using Done = std::function<void(Result<std::chrono::seconds>)>;
  KeepAliveStream(std::shared_ptr<Core> core, std::size_t endpoint)
      : core_(std::move(core)), endpoint_(endpoint) {}

  void start();
  bool broken() const;
  void send(LeaseId lease, Done done);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  grpc::ClientContext& context() override { return ctx_; }
  struct Pending {
    std::uint64_t seq = 0;
    LeaseId lease = 0;
    Done done;
    std::unique_ptr<grpc::Alarm> alarm;  // destroyed (cancelled) with the entry
  };
  void expire(std::uint64_t seq);
  // Under mutex_: the stream takes no more writes; true if the caller must release the hold.
  bool mark_broken_locked();
  void write_next();

  std::shared_ptr<Core> core_;
  const std::size_t endpoint_;
  grpc::ClientContext ctx_;
  pb::LeaseKeepAliveResponse in_;

  mutable std::mutex mutex_;
  bool broken_ = false;
  bool hold_released_ = false;
  bool writing_ = false;
  std::deque<pb::LeaseKeepAliveRequest> out_;
  std::deque<Pending> pending_;
  std::uint64_t next_seq_ = 1;
  std::shared_ptr<KeepAliveStream> self_;  // alive until OnDone
};

}  // namespace tandem::etcd
