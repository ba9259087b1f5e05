#pragma once
// Internal to etcd/*.cpp: the state every call of one Client shares, and how a call reaches an
// endpoint and hands its result to the owner.
//
// Lifetimes: the Client, every call in flight and every Watch hold the Core (shared_ptr). gRPC's
// reactions run on gRPC threads and touch only their own call's state (under its own mutex); a
// result reaches the owner only through deliver(), which posts nothing once the Client is closed
// and whose posted work checks `closed` again when it runs. Closing cancels every call in flight
// and waits (bounded) until gRPC has finished with them.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "etcd/client.hpp"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace tandem::etcd {

namespace pb = ::etcdserverpb;

// A call in flight that close() (or its owner) can end early. gRPC frees the call when its final
// reaction (a unary call's callback, a reactor's OnDone) returns; TryCancel after that would touch
// freed memory. So the final reaction calls finished() first: no cancel starts afterwards, and one
// under way on another thread completes before the reaction returns.
class Cancellable {
 public:
  virtual ~Cancellable() = default;
  void cancel();

 protected:
  virtual grpc::ClientContext& context() = 0;
  void finished();

 private:
  std::mutex cancel_mutex_;
  std::condition_variable cancel_done_;
  bool finished_ = false;
  int cancelling_ = 0;
};

struct Endpoint {
  std::string url;  // as configured, for messages
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Watch::Stub> watch;
};

class KeepAliveStream;

class Core : public std::enable_shared_from_this<Core> {
 public:
  Core(ClientSettings s, Post p) : settings(std::move(s)), post(std::move(p)) {}

  const ClientSettings settings;
  const Post post;
  std::vector<Endpoint> endpoints;  // fixed after create()

  // The endpoint the next request goes to.
  std::size_t pick();
  // A request on endpoint `index` failed with `status`: if the endpoint looks unreachable, the
  // next request goes to the next one.
  void failed_on(std::size_t index, const grpc::Status& status);
  // The error for a failed call, naming the endpoint and the method.
  Error error(std::size_t index, const char* method, const grpc::Status& status) const;

  // Any thread: runs `fn` on the owner's executor unless the Client is closed by then.
  void deliver(std::function<void()> fn);
  bool closed() const;

  // Any thread: a call starts (false: the Client is closed, do not start it) and ends.
  bool begin(const std::shared_ptr<Cancellable>& call);
  void end(Cancellable* call);
  // The owner's thread, from ~Client: no more deliveries; cancel and wait for the calls.
  void close();

  std::chrono::system_clock::time_point deadline() const {
    return std::chrono::system_clock::now() + settings.request_timeout;
  }

  // The lease keep-alive stream, opened on first use and again after it broke.
  std::shared_ptr<KeepAliveStream> keep_alive_stream();

  // A unary call on the next endpoint; `convert` turns the response into the caller's value.
  template <class Request, class Response, class T, class Start, class Convert>
  void unary(const char* method, Request request, Start start, Convert convert,
             std::function<void(Result<T>)> done);

 private:
  mutable std::mutex mutex_;
  std::condition_variable idle_;
  bool closed_ = false;
  std::size_t current_ = 0;
  int live_ = 0;
  std::map<Cancellable*, std::weak_ptr<Cancellable>> calls_;
  std::shared_ptr<KeepAliveStream> keep_alive_;
};

template <class Request, class Response>
struct UnaryCall final : Cancellable {
  grpc::ClientContext ctx;
  Request request;
  Response response;
  grpc::ClientContext& context() override { return ctx; }
  using Cancellable::finished;
};

template <class Request, class Response, class T, class Start, class Convert>
void Core::unary(const char* method, Request request, Start start, Convert convert,
                 std::function<void(Result<T>)> done) {
  auto call = std::make_shared<UnaryCall<Request, Response>>();
  call->request = std::move(request);
  call->ctx.set_deadline(deadline());
  if (!begin(call)) return;
  const std::size_t index = pick();
  start(endpoints[index], &call->ctx, &call->request, &call->response,
        [self = shared_from_this(), call, index, method, convert,
         done = std::move(done)](grpc::Status status) mutable {
          call->finished();
          if (status.ok()) {
            Result<T> result = convert(call->response);
            self->deliver([done = std::move(done), result = std::move(result)]() mutable {
              done(std::move(result));
            });
          } else {
            self->failed_on(index, status);
            self->deliver(
                [done = std::move(done), e = self->error(index, method, status)] { done(e); });
          }
          self->end(call.get());
        });
}

// Conversions shared by kv.cpp and watch.cpp.
KeyValue from_proto(const ::mvccpb::KeyValue& kv);
// The end of the key range that holds every key starting with `prefix`.
std::string prefix_end(const std::string& prefix);

}  // namespace tandem::etcd
