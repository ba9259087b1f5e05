#include "node/radius/accounting.hpp"

#include <pthread.h>

#include <boost/asio/post.hpp>

#include "base/log.hpp"
#include "base/text.hpp"

namespace tandem::radius {
namespace {

// The object behind a posted answer is still there and not stopped.
bool live(const std::weak_ptr<bool>& alive) {
  const auto a = alive.lock();
  return a && *a;
}

}  // namespace

Accounting::Accounting(boost::asio::io_context& io, AccountingPolicy policy,
                       std::unique_ptr<AccountingQueue> queue,
                       std::unique_ptr<AccountingSender> sender)
    : io_(io),
      policy_(std::move(policy)),
      queue_(std::move(queue)),
      sender_(std::move(sender)),
      retry_timer_(io) {
  // Named, so a profile or strace tells its syncs from the I/O thread's.
  boost::asio::post(writer_, [] { pthread_setname_np(pthread_self(), "tandem-acct"); });
  if (queue_->size() > 0)
    log::info("accounting_queue_resumed", {{"records", std::to_string(queue_->size())}});
  boost::asio::post(io_, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (live(alive)) pump();
  });
}

Accounting::~Accounting() { stop(); }

void Accounting::stop() {
  if (stopped_) return;
  stopped_ = true;
  *alive_ = false;
  writer_.join();  // a write under way ends; its answer to the I/O thread is never read
  // What was reserved but not yet written is written now: a clean stop loses no record.
  AccountingQueue::Batch rest{std::move(unwritten_), queue_->take_removed()};
  if (rest.empty()) return;
  if (queue_->write(rest) && !rest.records.empty())
    log::info("accounting_queue_flushed", {{"records", std::to_string(rest.records.size())}});
}

bool Accounting::enqueue(const proto::AccountingRecord& record, OnDisk on_disk) {
  AccountingQueue::Reserved reserved;
  const auto pushed = queue_->reserve(record, reserved);
  if (pushed != AccountingQueue::Push::queued) {
    dropped(record, pushed == AccountingQueue::Push::full
                        ? "queue full (" + std::to_string(queue_->capacity()) + " records)"
                        : "the record does not serialize");
    return false;
  }
  unwritten_.push_back(std::move(reserved));
  unwritten_on_disk_.push_back(std::move(on_disk));
  write_next();
  return true;
}

void Accounting::dropped(const proto::AccountingRecord& record, const std::string& why) {
  ++stats_.dropped;
  log::error("accounting_record_dropped", {{"index", std::to_string(record.session_index())},
                                           {"acct_session_id", text::sanitize(record.session_id())},
                                           {"status", to_string(record.status())},
                                           {"reason", why}});
}

// Everything reserved since the last write goes in the next one, one sync for all, with the
// rows popped meanwhile: a burst of logins or ends costs a few syncs, and neither they nor the
// removals (which would queue behind a sync) run on the I/O thread.
void Accounting::write_next() {
  if (writing_ || stopped_) return;
  AccountingQueue::Batch batch{std::move(unwritten_), queue_->take_removed()};
  unwritten_.clear();
  if (batch.empty()) return;
  writing_on_disk_ = std::exchange(unwritten_on_disk_, {});
  writing_ = true;
  boost::asio::post(
      writer_, [this, batch = std::move(batch), alive = std::weak_ptr<bool>(alive_)]() mutable {
        const bool ok = queue_->write(batch).ok();
        boost::asio::post(io_, [this, batch = std::move(batch), ok, alive] {
          if (live(alive)) on_written(batch, ok);
        });
      });
}

void Accounting::on_written(const AccountingQueue::Batch& batch, bool ok) {
  writing_ = false;
  if (!batch.records.empty()) ++stats_.disk_writes;
  queue_->written(batch, ok);
  auto on_disk = std::exchange(writing_on_disk_, {});
  if (ok) {
    for (auto& done : on_disk)
      if (done) done();
  } else {
    for (const auto& r : batch.records) {
      proto::AccountingRecord record;
      record.ParseFromString(r.value);
      dropped(record, "the queue's disk refused the write");
    }
  }
  write_next();
  pump();
}

AccountingStats Accounting::stats() const {
  AccountingStats s = stats_;
  s.queued = queue_->size() + queue_->reserved();
  return s;
}

void Accounting::pump() {
  if (in_flight_ || backing_off_) return;
  auto head = queue_->front();
  if (!head) return;
  in_flight_ = true;
  const std::uint64_t key = head->key;
  sender_->send(attributes(head->record, wall_seconds()),
                [this, key, alive = std::weak_ptr<bool>(alive_)](bool ok, std::string why) {
                  if (live(alive)) on_sent(key, ok, why);
                });
}

void Accounting::on_sent(std::uint64_t key, bool acknowledged, const std::string& why) {
  in_flight_ = false;
  if (acknowledged) {
    ++stats_.sent;
    if (failures_ > 0)
      log::info("accounting_server_back", {{"queued", std::to_string(queue_->size())}});
    failures_ = 0;
    queue_->pop(key);
    write_next();  // the removal
    pump();
    return;
  }
  ++stats_.failed;
  ++failures_;
  const Duration delay = retry_delay(failures_);
  // Once per outage and then at the longest delay, not once per try.
  if (failures_ == 1 || delay == retry_delay(failures_ + 1))
    log::warn("accounting_send_failed", {{"reason", why},
                                         {"queued", std::to_string(queue_->size())},
                                         {"retry_ms", std::to_string(delay.count())}});
  backing_off_ = true;
  retry_timer_.expires_after(delay);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    backing_off_ = false;
    pump();
  });
}

}  // namespace tandem::radius
