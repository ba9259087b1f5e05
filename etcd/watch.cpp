// Prefix watches: one Watch stream per watch, as a gRPC callback reactor. The only write is the
// create request, started before the call; reads are started only from reactions. So the call
// needs no hold, and cancelling (the handle's destructor, or Client::~Client) is a TryCancel.
#include <atomic>
#include <optional>

#include "etcd/client_impl.hpp"

namespace tandem::etcd {

namespace {

class WatchStream final : public grpc::ClientBidiReactor<pb::WatchRequest, pb::WatchResponse>,
                          public Cancellable,
                          public std::enable_shared_from_this<WatchStream> {
 public:
  WatchStream(std::shared_ptr<Core> core, std::function<void(std::vector<WatchEvent>)> on_events,
              std::function<void(Error)> on_end)
      : core_(std::move(core)), on_events_(std::move(on_events)), on_end_(std::move(on_end)) {}

  void start(pb::WatchRequest create) {
    create_ = std::move(create);
    self_ = shared_from_this();
    if (!core_->begin(self_)) {
      self_.reset();
      return;
    }
    endpoint_ = core_->pick();
    core_->endpoints[endpoint_].watch->async()->Watch(&ctx_, this);
    StartWrite(&create_);
    StartRead(&in_);
    StartCall();
  }

  // The owner's thread (the handle's destructor): nothing more reaches the owner.
  void stop() {
    stopped_ = true;
    cancel();
  }

  void OnWriteDone(bool /*ok*/) override {}  // a failed write shows on the read side too

  void OnReadDone(bool ok) override {
    if (!ok) return;  // the call is ending: OnDone follows
    if (in_.canceled()) {
      // etcd ended this watch: its start revision was compacted, or it refused the request.
      const std::string& url = core_->endpoints[endpoint_].url;
      if (in_.compact_revision() > 0) {
        end_error_ = fail(Errc::gap, "etcd " + url + " Watch: revisions up to " +
                                         std::to_string(in_.compact_revision()) +
                                         " are compacted; read again");
      } else {
        end_error_ = fail(Errc::failed, "etcd " + url + " Watch cancelled: " +
                                            (in_.cancel_reason().empty() ? std::string("no reason")
                                                                         : in_.cancel_reason()));
      }
      cancel();
      StartRead(&in_);  // drains to the end, then OnDone
      return;
    }
    std::vector<WatchEvent> events;
    events.reserve(static_cast<std::size_t>(in_.events_size()));
    for (const auto& e : in_.events()) {
      WatchEvent out;
      out.kind =
          e.type() == ::mvccpb::Event::DELETE ? WatchEvent::Kind::remove : WatchEvent::Kind::put;
      out.kv = from_proto(e.kv());
      events.push_back(std::move(out));
    }
    StartRead(&in_);
    if (events.empty()) return;  // the created answer, or a progress notice
    core_->deliver([self = shared_from_this(), events = std::move(events)]() mutable {
      if (!self->stopped_) self->on_events_(std::move(events));
    });
  }

  void OnDone(const grpc::Status& status) override {
    finished();
    if (!stopped_) {
      Error e;
      if (end_error_) {
        e = *end_error_;
      } else if (status.ok()) {
        e = fail(Errc::unavailable,
                 "etcd " + core_->endpoints[endpoint_].url + " Watch: the stream ended");
      } else {
        core_->failed_on(endpoint_, status);
        e = core_->error(endpoint_, "Watch", status);
      }
      core_->deliver([self = shared_from_this(), e] {
        if (!self->stopped_) self->on_end_(e);
      });
    }
    auto self = std::move(self_);  // may be the last reference
    core_->end(this);
  }

 private:
  grpc::ClientContext& context() override { return ctx_; }

  std::shared_ptr<Core> core_;
  std::function<void(std::vector<WatchEvent>)> on_events_;
  std::function<void(Error)> on_end_;
  std::size_t endpoint_ = 0;
  grpc::ClientContext ctx_;
  pb::WatchRequest create_;
  pb::WatchResponse in_;
  std::optional<Error> end_error_;  // reactions only (gRPC serializes them)
  std::atomic<bool> stopped_{false};
  std::shared_ptr<WatchStream> self_;  // alive until OnDone
};

class WatchHandle final : public Watch {
 public:
  explicit WatchHandle(std::shared_ptr<WatchStream> stream) : stream_(std::move(stream)) {}
  ~WatchHandle() override { stream_->stop(); }

 private:
  std::shared_ptr<WatchStream> stream_;
};

}  // namespace

std::unique_ptr<Watch> ClientImpl::watch_prefix(
    std::string prefix, Revision start_revision,
    std::function<void(std::vector<WatchEvent>)> on_events, std::function<void(Error)> on_end) {
  pb::WatchRequest req;
  auto* create = req.mutable_create_request();
  create->set_range_end(prefix_end(prefix));
  create->set_key(prefix.empty() ? std::string(1, '\0') : std::move(prefix));
  create->set_start_revision(start_revision);
  auto stream = std::make_shared<WatchStream>(core_, std::move(on_events), std::move(on_end));
  stream->start(std::move(req));
  return std::make_unique<WatchHandle>(std::move(stream));
}

}  // namespace tandem::etcd
