#pragma once
// Internal to grpc_link*.cpp: the link's state and its two stream reactors. Threading rule: every
// reactor operation (StartRead/StartWrite/Finish/TryCancel) and every field below is touched on
// the replication executor only; gRPC's callbacks (On*Done) do nothing but post to it.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>

#include "proto/replication.grpc.pb.h"
#include "replication/grpc_link.hpp"

namespace tandem::replication {

class FollowerStream;  // the active's end of a Follow call
class LeaderStream;    // the standby's end of a Follow call

// Messages a stream may queue before it is dropped as stuck (it catches up when it returns).
inline constexpr std::size_t kMaxQueuedMessages = 100'000;

struct GrpcLink::Impl final : public proto::Replication::CallbackService {
  Impl(const PeerSettings& p, ReplicationCore& c, const Clock& clk, Post post_fn,
       StartHandover start_handover_fn, boost::asio::io_context& executor)
      : peer(p),
        core(c),
        clock(clk),
        post(std::move(post_fn)),
        start_handover(std::move(start_handover_fn)),
        io(executor) {}

  PeerSettings peer;
  ReplicationCore& core;
  const Clock& clock;
  Post post;
  StartHandover start_handover;
  boost::asio::io_context& io;
  // Standby: the changes applied are synced and acknowledged together, this long after the first
  // of them (group commit): a burst costs one fsync, a lone change waits 2 ms more.
  boost::asio::steady_timer ack_flush{io};
  bool ack_flush_armed = false;
  void schedule_ack_flush();

  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<proto::Replication::Stub> stub;
  std::unique_ptr<grpc::Server> server;

  // Executor-only state.
  std::map<StreamId, FollowerStream*> followers;
  StreamId next_stream = 1;
  LeaderStream* leader = nullptr;
  bool hello_in_flight = false;
  bool probing = false;
  bool stopping = false;

  // Reactors and client calls alive; stop() waits for zero. Any thread.
  std::mutex live_mutex;
  std::condition_variable live_cv;
  int live = 0;
  void retain();
  void release();

  // "" when the certificate names the configured peer; otherwise why not.
  std::string identity_problem(const grpc::AuthContext& auth) const;

  // Service (server side, any gRPC thread: they post).
  grpc::ServerUnaryReactor* Hello(grpc::CallbackServerContext* ctx, const proto::HelloRequest* req,
                                  proto::HelloReply* reply) override;
  grpc::ServerUnaryReactor* Handover(grpc::CallbackServerContext* ctx,
                                     const proto::HelloRequest* req,
                                     proto::HandoverReply* reply) override;
  grpc::ServerBidiReactor<proto::FollowerMessage, proto::LeaderMessage>* Follow(
      grpc::CallbackServerContext* ctx) override;

  // Executor.
  void hello();
  void start_following();
  void probe();
  void on_hello_answer(const grpc::Status& status, const grpc::ClientContext& ctx,
                       const proto::HelloReply& reply);
};

// The active's end of one Follow call: reads the standby's start, acks and promotion report,
// writes the catch-up, changes and heartbeats through a bounded queue.
class FollowerStream final
    : public grpc::ServerBidiReactor<proto::FollowerMessage, proto::LeaderMessage> {
 public:
  FollowerStream(GrpcLink::Impl& link, grpc::CallbackServerContext* ctx);
  // Executor.
  void send(proto::LeaderMessage msg);
  void close(const grpc::Status& status);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  void on_message(proto::FollowerMessage msg);
  void gone();
  void do_finish();

  GrpcLink::Impl& link_;
  grpc::CallbackServerContext* ctx_;
  StreamId id_ = 0;  // 0 until the core accepted the start message
  proto::FollowerMessage in_;
  std::deque<proto::LeaderMessage> out_;
  bool writing_ = false;
  bool finished_ = false;       // closing: no more writes
  bool finish_called_ = false;  // Finish() was called (exactly once per call)
  bool dropped_ = false;        // its queue overflowed: no more writes, the call ends
  grpc::Status finish_status_;
};

// The standby's end: writes the start, acks and the promotion report; reads the active's stream.
// The next read starts only once the executor has applied the last message (back-pressure).
class LeaderStream final
    : public grpc::ClientBidiReactor<proto::FollowerMessage, proto::LeaderMessage> {
 public:
  explicit LeaderStream(GrpcLink::Impl& link);
  // Executor.
  void begin(proto::FollowerMessage start);
  void send(proto::FollowerMessage msg);
  void cancel();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  GrpcLink::Impl& link_;
  grpc::ClientContext ctx_;
  proto::LeaderMessage in_;
  std::deque<proto::FollowerMessage> out_;
  bool writing_ = false;
  bool checked_identity_ = false;
  bool done_ = false;
};

}  // namespace tandem::replication
