// Replication as the standby applies it (replication/core.hpp): everything the active sends on
// the Follow stream, in any order, with any values, with time passing and reconnects between.
//
// The input is a tandem.fuzz.Script (replication_script.proto): sessions and an epoch for the
// standby's store, the active's epoch, then steps (a LeaderMessage, time passing, a reconnect, a
// Hello answer). A ReplicationCore in the standby role follows the active over a real
// SessionStore on tmpfs. Opening RocksDB costs about 0.1 s under ASan, so one core and its store
// serve up to kFreshEvery inputs in a row; a fresh pair (built from the input's stored sessions
// and epochs) replaces them after that, or as soon as the core no longer follows (it promoted or
// cannot follow). Each input that did not get a fresh pair first reconnects the stream.
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
//    not on its disk;
//  - a promotion reports the core's epoch and a next session index above every stored index
//    (indexes are never reused), and the core is active afterwards;
//  - the status is consistent (a standby neither degraded nor accepting logins).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
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

constexpr int kMaxSteps = 256;
constexpr int kFreshEvery = 64;
constexpr int kMaxStored = 64;

struct Recorder final : CoreEffects {
  std::map<std::uint64_t, std::string> mirror;  // index -> serialized record
  std::vector<proto::FollowerMessage> to_leader;
  int stopped = 0;
  std::vector<std::uint64_t> active_epochs;
  std::uint64_t last_next_index = 0;
  std::uint64_t max_index_at_promotion = 0;
  int changes_this_step = 0;

  void send_to_follower(StreamId, proto::LeaderMessage) override {
    FUZZ_CHECK(false, "a standby sent as a leader");
  }
  void close_follower(StreamId) override {}
  void send_to_leader(proto::FollowerMessage m) override { to_leader.push_back(std::move(m)); }
  void stop_following() override { ++stopped; }
  void acknowledge(Acked acked, session::Persisted where) override {
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
  void become_standby(std::uint64_t, bool) override {}
  void reclaim_addresses(std::vector<proto::SessionRecord>) override {}
  void campaign() override {}
  void resign() override {}
  void serving_deadline(tandem::TimePoint) override {}
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
    core_ = std::make_unique<ReplicationCore>(settings, std::move(*store), fx_, clock_.now());
    // What tandemd restores at start-up before the core runs.
    auto rows = core_->stored_sessions();
    FUZZ_CHECK(rows.ok(), rows.error());
    for (const auto& r : *rows) fx_.mirror[r.index()] = r.SerializeAsString();
    core_->start(clock_.now());
    epoch_ = core_->epoch();
    const std::uint64_t active_epoch =
        std::clamp<std::uint64_t>(script.active_epoch(), epoch_, kMaxEpoch - 1);
    core_->on_peer_info(active_peer(active_epoch), clock_.now());
    if (core_->should_follow()) follow();
    check("start");
  }

  void step(const tandem::fuzz::Step& s) {
    fx_.changes_this_step = 0;
    const std::size_t sent_before = fx_.to_leader.size();
    const std::size_t promotions_before = fx_.active_epochs.size();
    switch (s.kind_case()) {
      case tandem::fuzz::Step::kMessage:
        core_->on_leader_message(s.message(), clock_.now());
        break;
      case tandem::fuzz::Step::kAdvanceMs:
        clock_.advance(Duration(std::min<std::uint32_t>(s.advance_ms(), 60'000)));
        core_->tick(clock_.now());
        break;
      case tandem::fuzz::Step::kReconnect:
        core_->on_follow_ended(clock_.now());
        if (core_->should_follow()) follow();
        break;
      case tandem::fuzz::Step::kHello:
        core_->on_peer_info(s.hello(), clock_.now());
        break;
      default:
        return;
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
      }
    }
    if (fx_.active_epochs.size() != promotions_before) {
      FUZZ_CHECK(core_->role() == Role::active, "become_active but not active");
      FUZZ_CHECK(fx_.active_epochs.back() == core_->epoch(), "promoted at another epoch");
      FUZZ_CHECK(fx_.last_next_index > fx_.max_index_at_promotion,
                 "next index " + std::to_string(fx_.last_next_index) + " would reuse index " +
                     std::to_string(fx_.max_index_at_promotion));
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
    if (!core_->should_follow()) return false;
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
    const auto st = core_->status(clock_.now());
    FUZZ_CHECK(st.role == core_->role() && st.epoch == epoch);
    FUZZ_CHECK(!st.degraded || st.role == Role::active);
    if (st.role == Role::standby) FUZZ_CHECK(!st.accepting_logins, "a standby accepts logins");
  }

  FakeClock clock_;
  Recorder fx_;
  std::unique_ptr<ReplicationCore> core_;
  std::uint64_t epoch_ = 0;
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
