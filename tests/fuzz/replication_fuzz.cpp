// Replication as the standby applies it (replication/core.hpp): everything the active sends on
// the Follow stream, in any order, with any values, with time passing and reconnects between;
// with the arbiter on (Script.arbiter, docs/arbiter.md), etcd's answers too; and once the standby
// has promoted, its own side of a Follow stream from a standby of its own.
//
// The input is a tandem.fuzz.Script (replication_script.proto): sessions and an epoch for the
// standby's store, the active's epoch, then steps (a LeaderMessage, time passing, a reconnect, a
// Hello answer, a campaign result, a lease deadline, the key lost, a resign's answer, a follower's
// stream start / message / end / heartbeat echo, a handover request). A ReplicationCore in the
// standby role follows the active over a real SessionStore on tmpfs. Opening RocksDB costs about
// 0.1 s under ASan, so one core and its store serve up to kFreshEvery inputs in a row; a fresh
// pair (built from the input's stored sessions, epochs and arbiter mode) replaces them after
// that, or as soon as the core no longer follows (it promoted or cannot follow). Each input that
// did not get a fresh pair first reconnects the stream.
// Every input since the last fresh pair is kept in <scratch>/history; after a finding, run.sh
// copies it out, and `fuzz_replication HISTORY/*` replays the whole sequence in one process.
//
// Invariants, after every step:
//  - the epoch never goes down and never passes kMaxEpoch;
//  - every stored session is one the standby may hold (index in range, a 32-byte token hash):
//    nothing the core refuses reaches the disk;
//  - the node's mirror of the sessions (built only from replica_upsert/remove/reset, starting
//    from what was stored) is exactly what the store holds;
//  - an acknowledgement names exactly the store's last sequence: the standby never acks what is
//    not on its disk; a `heard` echoes the beat of the heartbeat received in that step;
//  - a promotion reports the core's epoch and a next session index above every stored index
//    (indexes are never reused), and the core is active afterwards;
//  - the status is consistent (a standby neither degraded nor accepting logins);
//  - only an active sends on a Follow stream, only on the stream it accepted last, with
//    heartbeat beats that only go up; a handover's answer comes once.
// With the arbiter on, also:
//  - a promotion happens only in the step that answered a pending campaign with a win (revision
//    1..kMaxEpoch), at an epoch no lower than that revision;
//  - an active has serving time left (status.serving_left > 0), and the keeper's deadline (the
//    last serving_deadline) is in the future and no later than the core's own: the keeper never
//    holds the address longer than the core may serve; a standby's keeper deadline is cleared;
//  - an active holds the key exactly when the last campaign answer it got was a win with no key
//    loss or successful resign after it;
//  - an active that heard no heartbeat echo since it promoted holds the key. (With an echo it may
//    serve without the key until its standby's hold time runs out: the witness deadline, by
//    design. The deadline checks above cover that case.)
//  - a take-over is sent only once the key is given up (the standby can then win it);
//  - without the arbiter, the core never campaigns, resigns or sets a deadline.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "replication/core.hpp"
#include "replication_script.pb.h"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using namespace tandem::replication;
namespace proto = tandem::proto;
using tandem::Duration;
using tandem::FakeClock;
using tandem::Role;
using tandem::TimePoint;

constexpr int kMaxSteps = 256;
constexpr int kFreshEvery = 64;
constexpr int kMaxStored = 64;
constexpr std::uint32_t kMaxLeaseMs = 10'000;

struct Recorder final : CoreEffects {
  const ReplicationCore* core = nullptr;  // set once the core exists
  bool arbiter = false;
  std::map<std::uint64_t, std::string> mirror;  // index -> serialized record
  std::vector<proto::FollowerMessage> to_leader;
  int stopped = 0;
  std::vector<std::uint64_t> active_epochs;
  std::uint64_t last_next_index = 0;
  std::uint64_t max_index_at_promotion = 0;
  int changes_this_step = 0;
  int standbys = 0;
  // Active side.
  std::optional<StreamId> stream;   // the stream the core accepted last and has not closed
  std::optional<StreamId> opening;  // inside on_follower_start: the new stream
  int sent_on_opening = 0;
  std::set<StreamId> closed;
  std::uint64_t last_beat = 0;  // beats count up over all streams
  int campaigns = 0, resigns = 0;
  std::optional<TimePoint> told;  // the keeper's deadline

  void send_to_follower(StreamId id, proto::LeaderMessage m) override {
    FUZZ_CHECK(core->role() == Role::active, "a standby sent as a leader");
    if (opening && *opening == id)
      ++sent_on_opening;
    else
      FUZZ_CHECK(stream && *stream == id, "sent on a stream the core did not accept last");
    if (m.has_heartbeat()) {
      FUZZ_CHECK(m.heartbeat().beat() > last_beat, "a heartbeat beat that does not go up");
      last_beat = m.heartbeat().beat();
    } else if (m.has_take_over() && arbiter) {
      FUZZ_CHECK(!core->status(TimePoint{}).holding_key, "a take-over before the key is given up");
    }
  }
  void close_follower(StreamId id) override {
    closed.insert(id);
    if (stream && *stream == id) stream.reset();
  }
  void send_to_leader(proto::FollowerMessage m) override { to_leader.push_back(std::move(m)); }
  void stop_following() override { ++stopped; }
  void acknowledge(Acked acked, tandem::Persisted where) override {
    if (acked) acked(where);
  }
  void become_active(std::uint64_t epoch, std::uint64_t next_index,
                     std::vector<proto::SessionRecord> sessions) override {
    active_epochs.push_back(epoch);
    last_next_index = next_index;
    max_index_at_promotion = 0;
    for (const auto& r : sessions)
      max_index_at_promotion = std::max(max_index_at_promotion, r.index());
  }
  void become_standby(std::uint64_t, bool) override { ++standbys; }
  void reclaim_addresses(std::vector<proto::SessionRecord>) override {}
  void campaign() override {
    FUZZ_CHECK(arbiter, "a campaign without an arbiter");
    ++campaigns;
  }
  void resign() override {
    FUZZ_CHECK(arbiter, "a resign without an arbiter");
    ++resigns;
  }
  void serving_deadline(TimePoint deadline) override {
    FUZZ_CHECK(arbiter, "a serving deadline without an arbiter");
    told = deadline;
  }
  void replica_upsert(const proto::SessionRecord& r) override {
    mirror[r.index()] = r.SerializeAsString();
    ++changes_this_step;
  }
  void replica_remove(std::uint64_t index) override {
    mirror.erase(index);
    ++changes_this_step;
  }
  void replica_reset(std::vector<proto::SessionRecord> records) override {
    mirror.clear();
    for (const auto& r : records) mirror[r.index()] = r.SerializeAsString();
    ++changes_this_step;
  }
  void handover_finished(HandoverDone done, tandem::Result<std::string> r) override {
    if (done) done(r);
  }
};

proto::NodeInfo active_peer(std::uint64_t epoch) {
  proto::NodeInfo n;
  n.set_node_id("node-a");
  n.set_role(proto::ROLE_ACTIVE);
  n.set_epoch(epoch);
  n.set_priority(100);
  return n;
}

class Run {
 public:
  Run(const tandem::fuzz::Script& script, const std::string& dir) {
    auto store = SessionStore::open(dir);
    FUZZ_CHECK(store.ok(), store.error());
    const std::uint64_t stored_epoch =
        std::min<std::uint64_t>(script.stored_epoch(), kMaxEpoch - 1);
    FUZZ_CHECK((*store)->set_epoch(stored_epoch).ok());
    int n = 0;
    for (proto::SessionRecord r : script.stored()) {
      if (++n > kMaxStored) break;
      r.set_index(1 + r.index() % 100'000);
      r.mutable_token_hash()->resize(32, 'h');
      FUZZ_CHECK((*store)->record_upsert(r, stored_epoch, /*durable=*/false).ok());
    }
    CoreSettings settings;
    settings.node_id = "node-b";
    settings.arbiter = script.arbiter();
    fx_.arbiter = settings.arbiter;
    core_ = std::make_unique<ReplicationCore>(settings, std::move(*store), fx_, clock_.now());
    fx_.core = core_.get();
    // What tandemd restores at start-up before the core runs.
    auto rows = core_->stored_sessions();
    FUZZ_CHECK(rows.ok(), rows.error());
    for (const auto& r : *rows) fx_.mirror[r.index()] = r.SerializeAsString();
    core_->start(clock_.now());
    epoch_ = core_->epoch();
    const std::uint64_t active_epoch =
        std::clamp<std::uint64_t>(script.active_epoch(), epoch_, kMaxEpoch - 1);
    core_->on_peer_info(active_peer(active_epoch), clock_.now());
    if (core_->should_follow(clock_.now())) follow();
    check("start");
  }

  void step(const tandem::fuzz::Step& s) {
    using K = tandem::fuzz::Step;
    fx_.changes_this_step = 0;
    const std::size_t sent_before = fx_.to_leader.size();
    const std::size_t promotions_before = fx_.active_epochs.size();
    const int standbys_before = fx_.standbys;
    const int campaigns_before = fx_.campaigns;
    const int resigns_before = fx_.resigns;
    std::uint64_t beat_received = 0;
    bool won_now = false;  // this step answered a pending campaign with a usable win
    const TimePoint now = clock_.now();
    switch (s.kind_case()) {
      case K::kMessage:
        if (s.message().has_heartbeat()) beat_received = s.message().heartbeat().beat();
        core_->on_leader_message(s.message(), now);
        break;
      case K::kAdvanceMs:
        clock_.advance(Duration(std::min<std::uint32_t>(s.advance_ms(), 60'000)));
        core_->tick(clock_.now());
        break;
      case K::kReconnect:
        core_->on_follow_ended(now);
        if (core_->should_follow(now)) follow();
        break;
      case K::kHello:
        core_->on_peer_info(s.hello(), now);
        break;
      case K::kCampaignResult: {
        const auto& r = s.campaign_result();
        if (campaign_pending_) {
          campaign_pending_ = false;
          if (!r.won()) {
            key_ours_ = false;
          } else if (r.revision() != 0 && r.revision() <= kMaxEpoch) {
            key_ours_ = won_now = true;
            won_revision_ = r.revision();
          }  // a revision out of range is refused: nothing changes
        }
        core_->on_campaign_result(r.won() ? tandem::Result<std::uint64_t>(r.revision())
                                          : tandem::fail(tandem::Errc::busy, "held by node-a"),
                                  now);
        break;
      }
      case K::kLeaseMs:
        core_->on_lease(now + Duration(std::min(s.lease_ms(), kMaxLeaseMs)), now);
        break;
      case K::kKeyLost:
        key_ours_ = false;
        core_->on_key_lost(now);
        break;
      case K::kResigned:
        if (resign_pending_) {
          resign_pending_ = false;
          if (s.resigned()) key_ours_ = false;
        }
        core_->on_resigned(s.resigned() ? tandem::Result<void>{}
                                        : tandem::fail(tandem::Errc::unavailable, "etcd down"),
                           now);
        break;
      case K::kFollowerStart: {
        const StreamId id = ++next_stream_;
        fx_.opening = id;  // what the core sends at once goes here if it accepts
        const std::optional<StreamId> before = fx_.stream;
        const bool accepted = core_->on_follower_start(id, s.follower_start(), now);
        fx_.opening.reset();
        if (accepted) {
          FUZZ_CHECK(core_->role() == Role::active, "a standby accepted a Follow stream");
          FUZZ_CHECK(!before || fx_.closed.count(*before) == 1, "the replaced stream stays open");
          fx_.stream = id;
        } else {
          FUZZ_CHECK(fx_.sent_on_opening == 0, "a refused stream was written to");
        }
        fx_.sent_on_opening = 0;
        break;
      }
      case K::kFollowerMessage:
        if (s.follower_message().has_heard()) heard_ = true;
        core_->on_follower_message(fx_.stream.value_or(next_stream_), s.follower_message(), now);
        break;
      case K::kFollowerGone:
        if (fx_.stream) {
          const StreamId id = *fx_.stream;
          fx_.stream.reset();
          core_->on_follower_gone(id, now);
        }
        break;
      case K::kEchoBeat:
        if (fx_.stream && fx_.last_beat != 0) {
          proto::FollowerMessage heard;
          heard.set_heard(fx_.last_beat);
          heard_ = true;
          core_->on_follower_message(*fx_.stream, heard, now);
        }
        break;
      case K::kBeginHandover: {
        auto answers = std::make_shared<int>(0);
        core_->begin_handover(
            [answers](tandem::Result<std::string>) {
              FUZZ_CHECK(++*answers == 1, "a handover answered twice");
            },
            now);
        break;
      }
      default:
        return;
    }
    if (fx_.campaigns != campaigns_before) {
      FUZZ_CHECK(fx_.campaigns == campaigns_before + 1 && !campaign_pending_,
                 "a second campaign while one is pending");
      campaign_pending_ = true;
    }
    if (fx_.resigns != resigns_before) {
      FUZZ_CHECK(fx_.resigns == resigns_before + 1 && !resign_pending_,
                 "a second resign while one is pending");
      resign_pending_ = true;
    }
    if (fx_.standbys != standbys_before) {
      key_ours_ = false;  // a step-down gives up the key
      heard_ = false;
    }
    // What the standby told the active in this step.
    for (std::size_t i = sent_before; i < fx_.to_leader.size(); ++i) {
      const auto& m = fx_.to_leader[i];
      if (m.has_ack()) {
        FUZZ_CHECK(m.ack() == core_->status(clock_.now()).last_sequence,
                   "ack " + std::to_string(m.ack()) + " but the store is at " +
                       std::to_string(core_->status(clock_.now()).last_sequence));
      } else if (m.has_promoted()) {
        FUZZ_CHECK(core_->role() == Role::active && m.promoted().epoch() == core_->epoch(),
                   "a promotion report from a node that is not active at that epoch");
      } else if (m.has_heard()) {
        FUZZ_CHECK(beat_received != 0 && m.heard() == beat_received,
                   "heard " + std::to_string(m.heard()) + " but the heartbeat had beat " +
                       std::to_string(beat_received));
      }
    }
    if (fx_.active_epochs.size() != promotions_before) {
      FUZZ_CHECK(fx_.active_epochs.size() == promotions_before + 1, "two promotions in a step");
      FUZZ_CHECK(fx_.standbys != standbys_before || core_->role() == Role::active,
                 "become_active but not active");
      FUZZ_CHECK(fx_.active_epochs.back() == core_->epoch(), "promoted at another epoch");
      FUZZ_CHECK(fx_.last_next_index > fx_.max_index_at_promotion,
                 "next index " + std::to_string(fx_.last_next_index) + " would reuse index " +
                     std::to_string(fx_.max_index_at_promotion));
      heard_ = false;
      if (fx_.arbiter) {
        FUZZ_CHECK(won_now, "promoted without winning the key in this step");
        FUZZ_CHECK(core_->epoch() >= won_revision_, "an epoch below the key's revision");
      }
    }
    check("step");
  }

  // A later input on the same core: the stream starts again, from an active that is at least at
  // our epoch (the script's active_epoch if higher). False: the core will not follow (any more).
  bool resume(const tandem::fuzz::Script& script) {
    if (core_->role() != Role::standby) return false;
    core_->on_follow_ended(clock_.now());
    const std::uint64_t epoch = core_->epoch();
    if (epoch >= kMaxEpoch - 1) return false;
    core_->on_peer_info(
        active_peer(std::clamp<std::uint64_t>(script.active_epoch(), epoch, kMaxEpoch - 1)),
        clock_.now());
    if (!core_->should_follow(clock_.now())) return false;
    follow();
    check("resume");
    return true;
  }

 private:
  void follow() {
    const auto start = core_->follow_start();
    FUZZ_CHECK(start.has_start() && start.start().node_id() == "node-b" &&
               start.start().epoch() == core_->epoch());
    core_->on_following(clock_.now());
  }

  void check(const char* when) {
    const std::uint64_t epoch = core_->epoch();
    FUZZ_CHECK(epoch >= epoch_, std::string(when) + ": the epoch went down");
    FUZZ_CHECK(epoch <= kMaxEpoch, std::string(when) + ": epoch past kMaxEpoch");
    epoch_ = epoch;
    auto rows = core_->stored_sessions();
    FUZZ_CHECK(rows.ok(), rows.error());
    std::map<std::uint64_t, std::string> stored;
    for (const auto& r : *rows) {
      FUZZ_CHECK(r.index() != 0 && r.index() < kMaxSessionIndex,
                 "stored a session with index " + std::to_string(r.index()));
      FUZZ_CHECK(r.token_hash().size() == 32, "stored a session without a 32-byte token hash");
      stored[r.index()] = r.SerializeAsString();
    }
    FUZZ_CHECK(stored.size() == rows->size(), "two stored rows with one index");
    FUZZ_CHECK(stored == fx_.mirror, std::string(when) + ": the mirror holds " +
                                         std::to_string(fx_.mirror.size()) +
                                         " sessions, the store " + std::to_string(stored.size()));
    const TimePoint now = clock_.now();
    const auto st = core_->status(now);
    FUZZ_CHECK(st.role == core_->role() && st.epoch == epoch);
    FUZZ_CHECK(!st.degraded || st.role == Role::active);
    if (st.role == Role::standby) FUZZ_CHECK(!st.accepting_logins, "a standby accepts logins");
    if (st.role != Role::active) FUZZ_CHECK(!fx_.stream, "a standby keeps a follower's stream");
    if (!fx_.arbiter) return;
    if (st.role == Role::active) {
      FUZZ_CHECK(st.serving_left > Duration{0},
                 std::string(when) + ": active with no serving time left");
      FUZZ_CHECK(fx_.told && *fx_.told > now, std::string(when) + ": active, the keeper stopped");
      FUZZ_CHECK(*fx_.told <= now + st.serving_left,
                 std::string(when) + ": the keeper's deadline is " +
                     std::to_string((*fx_.told - now).count()) + " ms away, the core's " +
                     std::to_string(st.serving_left.count()) + " ms");
      FUZZ_CHECK(st.holding_key == key_ours_,
                 std::string(when) + ": holding_key " + (st.holding_key ? "yes" : "no") +
                     " but the last answers say " + (key_ours_ ? "yes" : "no"));
      FUZZ_CHECK(key_ours_ || heard_,
                 std::string(when) + ": active without the key and without a witness");
    } else {
      FUZZ_CHECK(!fx_.told || *fx_.told == TimePoint{},
                 std::string(when) + ": a standby's keeper still has a deadline");
    }
  }

  FakeClock clock_;
  Recorder fx_;
  std::unique_ptr<ReplicationCore> core_;
  std::uint64_t epoch_ = 0;
  // The arbiter as the harness saw it.
  bool campaign_pending_ = false;
  bool resign_pending_ = false;
  bool key_ours_ = false;  // last answer a win, no loss or successful resign since
  std::uint64_t won_revision_ = 0;
  bool heard_ = false;  // an echo reached the core since it promoted
  StreamId next_stream_ = 0;
};

tandem::fuzz::ScratchDir& scratch() {
  static tandem::fuzz::ScratchDir dir;  // removed at exit, kept after a crash
  return dir;
}

// Never destroyed: closing RocksDB from a static destructor runs after RocksDB's own statics are
// gone (a crash at exit). The directory goes with scratch().
struct World {
  std::unique_ptr<Run> run;
  int inputs = 0;  // since the last fresh core
  std::string store_dir() const { return scratch().path() + "/store"; }
  std::string history_dir() const { return scratch().path() + "/history"; }
};
World& world() {
  static World* w = new World();
  return *w;
}

void remember(const std::uint8_t* data, std::size_t size, int n) {
  char name[16];
  std::snprintf(name, sizeof name, "/%06d", n);
  std::FILE* f = std::fopen((world().history_dir() + name).c_str(), "wb");
  FUZZ_CHECK(f != nullptr, "cannot write the history");
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  (void)scratch();
  (void)world();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  tandem::fuzz::Script script;
  if (!script.ParseFromArray(data, static_cast<int>(size))) return -1;  // not kept in the corpus
  World& w = world();
  bool fresh = !w.run || w.inputs >= kFreshEvery;
  if (!fresh) {
    remember(data, size, w.inputs);  // before resume(): a finding there replays too
    fresh = !w.run->resume(script);
  }
  if (fresh) {
    w.run.reset();  // closes the store
    std::filesystem::remove_all(w.store_dir());
    std::filesystem::remove_all(w.history_dir());
    std::filesystem::create_directories(w.history_dir());
    w.inputs = 0;
    remember(data, size, w.inputs);
    w.run = std::make_unique<Run>(script, w.store_dir());
  }
  ++w.inputs;
  int n = 0;
  for (const auto& s : script.steps()) {
    if (++n > kMaxSteps) break;
    w.run->step(s);
  }
  return 0;
}
