#pragma once
// Keeps the MemberView in step with etcd: a full read of /tandem/member/, then a watch from the
// revision after it; when the watch ends, read again and watch again, with bounded back-off;
// while watching, a full read every few seconds as a proof that etcd still answers
// (docs/director.md, "When etcd is down"). Runs on the director's one I/O thread: the etcd
// client posts every callback there.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "director/director_metrics.hpp"
#include "director/member_view.hpp"
#include "etcd/client.hpp"

namespace tandem::director {

class MemberWatch : public std::enable_shared_from_this<MemberWatch> {
 public:
  MemberWatch(boost::asio::io_context& io, etcd::Client& client, const Clock& clock,
              Duration silent_after, DirectorStats& stats);
  void start();
  void stop();

  const MemberView& view() const { return view_; }

 private:
  void read();
  void on_read(Result<etcd::Range> range);
  void on_events(const std::vector<etcd::WatchEvent>& events);
  void on_watch_end(const Error& error);
  void retry_later();
  void tick();
  void log_changes(const std::vector<ViewChange>& changes);
  void lost_contact(const std::string& reason);

  boost::asio::io_context& io_;
  etcd::Client& client_;
  const Clock& clock_;
  Duration silent_after_;
  DirectorStats& stats_;
  MemberView view_;
  std::unique_ptr<etcd::Watch> watch_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer tick_timer_;
  Duration backoff_;
  bool reading_ = false;    // a full read (initial or after a watch ended) is in flight
  bool probing_ = false;    // a probe read is in flight
  bool reachable_ = false;  // for the log: say when contact is lost and found again
  bool silent_logged_ = false;
  bool stopped_ = false;
};

}  // namespace tandem::director
