// The two ends of a Follow call as gRPC callback reactors. gRPC's reactions only post to the
// replication executor; the executor does every read, write and finish (see grpc_link_impl.hpp).
#include "base/log.hpp"
#include "replication/grpc_link_impl.hpp"

namespace tandem::replication {

// ---- The active's end ----------------------------------------------------------------------

FollowerStream::FollowerStream(GrpcLink::Impl& link, grpc::CallbackServerContext* ctx)
    : link_(link), ctx_(ctx) {
  link_.retain();
  if (auto why = link_.identity_problem(*ctx->auth_context()); !why.empty()) {
    log::error("follower_refused", {{"reason", why}, {"peer", ctx->peer()}});
    finished_ = true;
    Finish(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, why));
    return;
  }
  StartRead(&in_);
}

void FollowerStream::OnReadDone(bool ok) {
  if (!ok) {
    link_.post([this] { gone(); });
    return;
  }
  link_.post([this, msg = std::move(in_)]() mutable { on_message(std::move(msg)); });
}

void FollowerStream::on_message(proto::FollowerMessage msg) {
  if (finished_) return;
  const TimePoint now = link_.clock.now();
  if (id_ == 0) {
    if (!msg.has_start())
      return close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a start message"));
    if (msg.start().node_id() != link_.peer.node_id) {
      log::error("follower_refused",
                 {{"reason", "claims another node id"}, {"claimed", msg.start().node_id()}});
      return close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not the configured peer"));
    }
    id_ = link_.next_stream++;
    link_.followers[id_] = this;  // before the core sends its catch-up to this id
    if (!link_.core.on_follower_start(id_, msg.start(), now)) {
      link_.followers.erase(id_);
      id_ = 0;
      return close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "not the active node"));
    }
  } else {
    link_.core.on_follower_message(id_, msg, now);
  }
  if (!finished_) StartRead(&in_);
}

void FollowerStream::send(proto::LeaderMessage msg) {
  if (finished_ || dropped_) return;
  if (out_.size() >= kMaxQueuedMessages) {
    // A standby that does not read is dropped rather than allowed to grow our memory; it catches
    // up from the log or a snapshot when it comes back. Not from inside the core's call.
    log::warn("standby_dropped", {{"reason", "its stream queue is full"}});
    dropped_ = true;
    link_.post([this] { gone(); });
    return;
  }
  out_.push_back(std::move(msg));
  if (!writing_) {
    writing_ = true;
    StartWrite(&out_.front());
  }
}

void FollowerStream::OnWriteDone(bool ok) {
  link_.post([this, ok] {
    writing_ = false;
    if (!out_.empty()) out_.pop_front();
    // A close waited for this write, which may have failed (a cancelled call): finish either way,
    // or the call never ends and the server's shutdown waits for it forever.
    if (finished_) return do_finish();
    if (!ok) return gone();
    if (!out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  });
}

void FollowerStream::gone() {
  if (id_ != 0) {
    const StreamId id = id_;
    link_.followers.erase(id);
    id_ = 0;
    link_.core.on_follower_gone(id, link_.clock.now());
  }
  close(grpc::Status::OK);
}

void FollowerStream::close(const grpc::Status& status) {
  if (id_ != 0) {
    link_.followers.erase(id_);
    id_ = 0;
  }
  if (finished_) return;
  finished_ = true;
  finish_status_ = status;
  // Finish only between writes; OnWriteDone finishes otherwise.
  if (!writing_) do_finish();
}

void FollowerStream::do_finish() {
  if (finish_called_) return;
  finish_called_ = true;
  out_.clear();
  Finish(finish_status_);
}

void FollowerStream::OnDone() {
  link_.post([this] {
    GrpcLink::Impl& link = link_;
    if (id_ != 0) {
      link.followers.erase(id_);
      link.core.on_follower_gone(id_, link.clock.now());
    }
    delete this;
    link.release();
  });
}

// ---- The standby's end ---------------------------------------------------------------------

LeaderStream::LeaderStream(GrpcLink::Impl& link) : link_(link) {
  link_.retain();
  link_.stub->async()->Follow(&ctx_, this);
}

void LeaderStream::begin(proto::FollowerMessage start) {
  // Held until the executor has seen the end of the read side: no reaction can then complete the
  // call while the executor may still start a read or a write on it.
  AddHold();
  send(std::move(start));
  StartRead(&in_);
  StartCall();
}

void LeaderStream::send(proto::FollowerMessage msg) {
  if (done_) return;
  out_.push_back(std::move(msg));
  if (!writing_) {
    writing_ = true;
    StartWrite(&out_.front());
  }
}

void LeaderStream::cancel() { ctx_.TryCancel(); }

void LeaderStream::OnReadDone(bool ok) {
  link_.post([this, ok] {
    if (!ok) {
      done_ = true;
      RemoveHold();
      return;
    }
    if (!checked_identity_) {
      checked_identity_ = true;
      auto auth = ctx_.auth_context();
      if (auto why = auth ? link_.identity_problem(*auth) : "no peer certificate"; !why.empty()) {
        log::error("active_refused", {{"reason", why}});
        cancel();
        return StartRead(&in_);  // drains to the end, which removes the hold
      }
    }
    proto::LeaderMessage msg = std::move(in_);
    link_.core.on_leader_message(msg, link_.clock.now());
    link_.schedule_ack_flush();
    StartRead(&in_);
  });
}

void LeaderStream::OnWriteDone(bool ok) {
  link_.post([this, ok] {
    writing_ = false;
    if (!out_.empty()) out_.pop_front();
    if (ok && !done_ && !out_.empty()) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  });
}

void LeaderStream::OnDone(const grpc::Status& status) {
  link_.post([this, status] {
    GrpcLink::Impl& link = link_;
    if (link.leader == this) link.leader = nullptr;
    link.core.on_follow_ended(link.clock.now());
    log::info("follow_ended", {{"code", std::to_string(static_cast<int>(status.error_code()))},
                               {"detail", status.error_message()}});
    delete this;
    link.release();
    // Is the active still there? A refused connection means its process is gone: promote now.
    if (!link.stopping) link.hello();
  });
}

}  // namespace tandem::replication
