// Leases: grant and revoke as unary calls, keep-alive on one long-lived LeaseKeepAlive stream.
//
// The stream is driven from two sides: keep_alive() on the owner's executor writes, gRPC's
// reactions read and complete writes. Its state is under its own mutex; gRPC operations are
// started outside it. A hold keeps the call open while the owner may still write; it is released
// once the stream is broken and no write is starting, so OnDone cannot overtake a StartWrite.
#include <grpcpp/alarm.h>

#include "etcd/client_impl.hpp"
#include "etcd/lease_stream.hpp"

namespace tandem::etcd {

void ClientImpl::grant(std::chrono::seconds ttl, std::function<void(Result<LeaseId>)> done) {
  pb::LeaseGrantRequest req;
  req.set_ttl(ttl.count());
  core_->unary<pb::LeaseGrantRequest, pb::LeaseGrantResponse, LeaseId>(
      "LeaseGrant", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.lease->async()->LeaseGrant(ctx, rq, rs, std::move(cb));
      },
      [](const pb::LeaseGrantResponse& r) -> Result<LeaseId> {
        if (!r.error().empty()) return fail(Errc::failed, "etcd LeaseGrant: " + r.error());
        return r.id();
      },
      std::move(done));
}

void ClientImpl::revoke(LeaseId lease, std::function<void(Result<void>)> done) {
  pb::LeaseRevokeRequest req;
  req.set_id(lease);
  core_->unary<pb::LeaseRevokeRequest, pb::LeaseRevokeResponse, std::monostate>(
      "LeaseRevoke", std::move(req),
      [](Endpoint& e, auto* ctx, auto* rq, auto* rs, auto cb) {
        e.lease->async()->LeaseRevoke(ctx, rq, rs, std::move(cb));
      },
      [](const pb::LeaseRevokeResponse&) -> Result<std::monostate> { return std::monostate{}; },
      [done = std::move(done)](Result<std::monostate> r) {
        if (r) {
          done({});
        } else {
          done(r.failure());
        }
      });
}

void ClientImpl::keep_alive(LeaseId lease, std::function<void(Result<std::chrono::seconds>)> done) {
  if (auto stream = core_->keep_alive_stream()) stream->send(lease, std::move(done));
}

// ---- KeepAliveStream -------------------------------------------------------------------------

void KeepAliveStream::start() {
  self_ = shared_from_this();
  if (!core_->begin(self_)) {
    std::lock_guard lock(mutex_);
    broken_ = hold_released_ = true;
    self_.reset();
    return;
  }
  core_->endpoints[endpoint_].lease->async()->LeaseKeepAlive(&ctx_, this);
  AddHold();
  StartRead(&in_);
  StartCall();
}

bool KeepAliveStream::broken() const {
  std::lock_guard lock(mutex_);
  return broken_;
}

bool KeepAliveStream::mark_broken_locked() {
  broken_ = true;
  if (writing_ || hold_released_) return false;
  hold_released_ = true;
  return true;
}

void KeepAliveStream::send(LeaseId lease, Done done) {
  bool rejected = false;
  {
    std::lock_guard lock(mutex_);
    if (broken_) {
      rejected = true;  // the stream broke since the client picked it
    } else {
      Pending p;
      p.seq = next_seq_++;
      p.lease = lease;
      p.done = std::move(done);
      p.alarm = std::make_unique<grpc::Alarm>();
      p.alarm->Set(core_->deadline(), [weak = weak_from_this(), seq = p.seq](bool fired) {
        if (!fired) return;  // cancelled: answered, or the stream ended
        if (auto stream = weak.lock()) stream->expire(seq);
      });
      pending_.push_back(std::move(p));
      pb::LeaseKeepAliveRequest req;
      req.set_id(lease);
      out_.push_back(std::move(req));
      if (writing_) return;
      writing_ = true;
    }
  }
  if (rejected) {
    core_->deliver([done = std::move(done), url = core_->endpoints[endpoint_].url] {
      done(fail(Errc::unavailable, "etcd " + url + " LeaseKeepAlive: the stream ended"));
    });
    return;
  }
  write_next();
}

// Called with writing_ set by the caller: writes the oldest queued request.
void KeepAliveStream::write_next() {
  const pb::LeaseKeepAliveRequest* next;
  {
    std::lock_guard lock(mutex_);
    next = &out_.front();  // stays put until its OnWriteDone pops it
  }
  StartWrite(next);
}

void KeepAliveStream::OnWriteDone(bool ok) {
  bool write = false, release = false;
  {
    std::lock_guard lock(mutex_);
    out_.pop_front();
    writing_ = false;
    if (!ok) broken_ = true;  // the call is over; the read side ends it
    if (!broken_ && !out_.empty()) {
      writing_ = write = true;
    } else if (broken_ && !hold_released_) {
      hold_released_ = release = true;
    }
  }
  if (write) write_next();
  if (release) RemoveHold();
}

void KeepAliveStream::OnReadDone(bool ok) {
  if (!ok) {
    bool release;
    {
      std::lock_guard lock(mutex_);
      release = mark_broken_locked();
    }
    if (release) RemoveHold();
    return;  // OnDone fails what still waits, with the call's status
  }
  std::optional<Pending> answered;
  {
    std::lock_guard lock(mutex_);
    if (!pending_.empty()) {
      answered = std::move(pending_.front());
      pending_.pop_front();
    }
  }
  const LeaseId id = in_.id();
  const std::int64_t ttl = in_.ttl();
  StartRead(&in_);
  if (!answered) return;  // its request timed out; the stream is being cancelled
  Result<std::chrono::seconds> result = std::chrono::seconds(ttl);
  if (ttl <= 0) {
    result = fail(Errc::not_found, "etcd " + core_->endpoints[endpoint_].url +
                                       " LeaseKeepAlive: lease " + std::to_string(id) +
                                       " not found (expired or revoked)");
  } else if (id != answered->lease) {
    result = fail(Errc::failed, "etcd " + core_->endpoints[endpoint_].url +
                                    " LeaseKeepAlive: answer for lease " + std::to_string(id) +
                                    ", expected " + std::to_string(answered->lease));
  }
  core_->deliver([done = std::move(answered->done), result = std::move(result)] { done(result); });
}

void KeepAliveStream::expire(std::uint64_t seq) {
  std::deque<Pending> failed;
  bool release;
  {
    std::lock_guard lock(mutex_);
    bool waiting = false;
    for (const auto& p : pending_) waiting = waiting || p.seq == seq;
    if (!waiting) return;
    failed.swap(pending_);
    release = mark_broken_locked();
  }
  cancel();
  if (release) RemoveHold();
  core_->failed_on(endpoint_, grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, ""));
  const Error e =
      fail(Errc::timeout, "etcd " + core_->endpoints[endpoint_].url +
                              " LeaseKeepAlive: no answer within " +
                              std::to_string(core_->settings.request_timeout.count()) + " ms");
  for (auto& p : failed) core_->deliver([done = std::move(p.done), e] { done(e); });
}

void KeepAliveStream::OnDone(const grpc::Status& status) {
  finished();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mutex_);
    broken_ = true;
    left.swap(pending_);
  }
  if (!status.ok()) core_->failed_on(endpoint_, status);
  const Error e = status.ok() ? fail(Errc::unavailable, "etcd " + core_->endpoints[endpoint_].url +
                                                            " LeaseKeepAlive: the stream ended")
                              : core_->error(endpoint_, "LeaseKeepAlive", status);
  for (auto& p : left) core_->deliver([done = std::move(p.done), e] { done(e); });
  left.clear();
  auto self = std::move(self_);  // may be the last reference: `this` goes at the end of scope
  core_->end(this);
}

}  // namespace tandem::etcd
