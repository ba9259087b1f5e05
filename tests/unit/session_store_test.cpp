#include "replication/session_store.hpp"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/unit/temp_dir.hpp"

namespace tandem::replication {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

proto::SessionRecord record(std::uint64_t index, const std::string& user) {
  proto::SessionRecord r;
  r.set_index(index);
  r.set_username(user);
  r.set_tunnel_group("default");
  r.set_group_policy("default");
  r.set_assigned_ipv4(0x0a4d0000u + static_cast<std::uint32_t>(index));
  r.set_token_hash(std::string(32, static_cast<char>('a' + index % 26)));
  r.set_login_time_unix(1700000000 + static_cast<std::int64_t>(index));
  r.set_public_ip("198.51.100.7");
  r.set_public_port(40000);
  auto* t = r.add_tunnels();
  t->set_kind(proto::TunnelRecord::SSL);
  t->set_encapsulation("TLSv1.3");
  return r;
}

StoreOptions with_limit(std::uint64_t limit) {
  StoreOptions o;
  o.changelog_limit = limit;
  o.now_unix_ms = [] { return std::int64_t{1700000000000}; };
  return o;
}

std::unique_ptr<SessionStore> open_store(const std::string& dir, StoreOptions o = with_limit(100)) {
  auto s = SessionStore::open(dir, std::move(o));
  EXPECT_TRUE(s.ok()) << s.error();
  return s.ok() ? std::move(s).value() : nullptr;
}

std::vector<std::string> serialized(const std::vector<proto::SessionRecord>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.SerializeAsString());
  return out;
}

// White-box access to the RocksDB underneath (the store must be closed): byte-level comparison and
// planting corrupt rows.
class RawDb {
 public:
  explicit RawDb(const std::string& dir) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descs;
    for (const char* n : {"default", "sessions", "changelog", "meta", "quarantine"})
      descs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    auto s = rocksdb::DB::Open(rocksdb::DBOptions(), dir, descs, &cfs_, &db_);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  ~RawDb() {
    for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
    delete db_;
  }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  std::map<std::string, std::string> rows(int cf) {
    std::map<std::string, std::string> out;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator({}, cfs_[cf]));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      out[it->key().ToString()] = it->value().ToString();
    return out;
  }
  void put(int cf, const std::string& key, const std::string& value) {
    ASSERT_TRUE(db_->Put({}, cfs_[cf], key, value).ok());
  }

  static constexpr int kSessions = 1;
  static constexpr int kChangelog = 2;
  static constexpr int kQuarantine = 4;

 private:
  rocksdb::DB* db_ = nullptr;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;
};

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

TEST(SessionStore, ReopenedStoreKeepsSessionsSequenceAndNextIndex) {
  TempDir tmp;
  std::vector<proto::SessionRecord> written = {record(1, "alice"), record(2, "bob"),
                                               record(7, "carol")};
  {
    auto store = open_store(tmp.db());
    ASSERT_TRUE(store);
    for (std::size_t i = 0; i < written.size(); ++i) {
      auto c = store->record_upsert(written[i], 1, /*durable=*/i % 2 == 0);
      ASSERT_TRUE(c.ok()) << c.error();
      EXPECT_EQ(c->seq(), i + 1);
    }
  }
  auto store = open_store(tmp.db());
  ASSERT_TRUE(store);
  auto rows = store->load_sessions();
  ASSERT_TRUE(rows.ok()) << rows.error();
  EXPECT_EQ(serialized(*rows), serialized(written));
  EXPECT_EQ(store->last_sequence(), 3u);
  EXPECT_EQ(store->next_session_index(), 8u);
  EXPECT_EQ(store->epoch(), 1u);
}

// A node killed with SIGKILL (no destructor, no flush) keeps durable and non-durable changes: both
// are in the WAL, the latter in the page cache, which a process death does not lose.
TEST(SessionStore, KilledNodeKeepsItsSessions) {
  // Re-exec rather than fork: this process already runs RocksDB's background threads.
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  constexpr const char* kEnv = "TANDEM_STORE_TEST_KILL_DIR";
  std::unique_ptr<TempDir> owned;
  std::string dir;
  if (const char* d = std::getenv(kEnv)) {
    dir = d;  // the re-executed child writes into the parent's directory
  } else {
    owned = std::make_unique<TempDir>();
    dir = owned->db();
    ::setenv(kEnv, dir.c_str(), 1);
  }
  EXPECT_EXIT(
      {
        auto s = SessionStore::open(dir, with_limit(100));
        if (!s.ok()) std::exit(1);
        for (std::uint64_t i = 1; i <= 50; ++i) {
          if (!(*s)->record_upsert(record(i, "u" + std::to_string(i)), 1, i % 10 == 0).ok()) {
            std::exit(2);
          }
        }
        if (!(*s)->record_remove(3, 1, true).ok()) std::exit(3);
        std::raise(SIGKILL);
      },
      ::testing::KilledBySignal(SIGKILL), "");
  ::unsetenv(kEnv);
  GTEST_FLAG_SET(death_test_style, style);

  auto store = open_store(dir);
  ASSERT_TRUE(store);
  auto rows = store->load_sessions();
  ASSERT_TRUE(rows.ok()) << rows.error();
  EXPECT_EQ(rows->size(), 49u);
  EXPECT_EQ(store->last_sequence(), 51u);
  EXPECT_EQ(store->next_session_index(), 51u);
}

TEST(SessionStore, SequenceNumbersAreContiguousAcrossReopen) {
  TempDir tmp;
  {
    auto store = open_store(tmp.db());
    ASSERT_TRUE(store);
    for (std::uint64_t i = 1; i <= 5; ++i)
      ASSERT_TRUE(store->record_upsert(record(i, "u"), 1, false).ok());
    ASSERT_TRUE(store->record_remove(2, 1, true).ok());
  }
  auto store = open_store(tmp.db());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->last_sequence(), 6u);
  auto c = store->record_upsert(record(2, "again"), 1, true);
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_EQ(c->seq(), 7u);
  EXPECT_EQ(c->at_unix_ms(), 1700000000000);

  auto all = store->changes_after({0, 0}, 100);
  ASSERT_TRUE(all.ok()) << all.error();
  EXPECT_FALSE(all->need_snapshot);
  ASSERT_EQ(all->changes.size(), 7u);
  for (std::size_t i = 0; i < all->changes.size(); ++i) EXPECT_EQ(all->changes[i].seq(), i + 1);
  EXPECT_EQ(all->changes[5].remove_index(), 2u);

  auto some = store->changes_after({3, 1}, 2);
  ASSERT_TRUE(some.ok()) << some.error();
  ASSERT_EQ(some->changes.size(), 2u);
  EXPECT_EQ(some->changes[0].seq(), 4u);
  auto none = store->changes_after(store->position(), 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->changes.empty());
  EXPECT_FALSE(none->need_snapshot);
}

TEST(SessionStore, ApplyRefusesGapsDuplicatesAndStaleEpochs) {
  TempDir tmp;
  auto active = open_store(tmp.sub("a"));
  auto standby = open_store(tmp.sub("b"));
  ASSERT_TRUE(active && standby);
  auto c1 = active->record_upsert(record(1, "alice"), 2, true);
  auto c2 = active->record_upsert(record(2, "bob"), 2, true);
  ASSERT_TRUE(c1.ok() && c2.ok());

  auto gap = standby->apply(*c2);
  ASSERT_FALSE(gap.ok());
  EXPECT_EQ(gap.error().rfind("gap", 0), 0u) << gap.error();
  ASSERT_TRUE(standby->apply(*c1).ok());
  auto dup = standby->apply(*c1);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().rfind("duplicate", 0), 0u) << dup.error();
  EXPECT_EQ(standby->last_sequence(), 1u);
  EXPECT_EQ(standby->epoch(), 2u);  // adopted from the change

  EXPECT_EQ(gap.code(), Errc::gap);
  EXPECT_EQ(dup.code(), Errc::duplicate);

  // Within one history epochs never go back: a change made in epoch 1 cannot follow one made in
  // epoch 2 (it comes from another history).
  auto other = open_store(tmp.sub("c"));
  ASSERT_TRUE(other->record_upsert(record(1, "x"), 1, true).ok());
  auto older = other->record_upsert(record(2, "y"), 1, true);
  auto stale = standby->apply(*older);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.code(), Errc::stale_epoch);
  EXPECT_EQ(stale.error().rfind("stale epoch", 0), 0u) << stale.error();
  EXPECT_EQ(standby->last_sequence(), 1u);

  // A standby whose own epoch is newer (it promoted once, briefly) still takes the older changes
  // its active replays: the leader's currency is checked on the stream, not per change.
  ASSERT_TRUE(standby->set_epoch(3).ok());
  ASSERT_TRUE(standby->apply(*c2).ok());
  EXPECT_EQ(standby->last_sequence(), 2u);
  EXPECT_EQ(standby->epoch(), 3u);
}

TEST(SessionStore, StandbyApplyingTheActivesChangesEndsByteIdentical) {
  TempDir tmp;
  {
    auto active = open_store(tmp.sub("a"));
    auto standby = open_store(tmp.sub("b"));
    ASSERT_TRUE(active && standby);
    auto ship = [&](Result<proto::Change> c) {
      ASSERT_TRUE(c.ok()) << c.error();
      proto::Change wire;  // through its wire form, as the stream carries it
      ASSERT_TRUE(wire.ParseFromString(c->SerializeAsString()));
      auto a = standby->apply(wire);
      ASSERT_TRUE(a.ok()) << a.error();
    };
    for (std::uint64_t i = 1; i <= 20; ++i) ship(active->record_upsert(record(i, "u"), 1, true));
    for (std::uint64_t i = 1; i <= 20; i += 3) {
      auto r = record(i, "u");
      r.set_bytes_rx(i * 1000);
      r.set_inactive_since_unix_ms(static_cast<std::int64_t>(i));
      ship(active->record_upsert(r, 1, false));
    }
    for (std::uint64_t i = 2; i <= 20; i += 5) ship(active->record_remove(i, 1, true));
    EXPECT_EQ(active->position(), standby->position());
    EXPECT_EQ(active->next_session_index(), standby->next_session_index());
  }
  RawDb a(tmp.sub("a"));
  RawDb b(tmp.sub("b"));
  auto rows = a.rows(RawDb::kSessions);
  EXPECT_EQ(rows.size(), 16u);
  EXPECT_EQ(rows, b.rows(RawDb::kSessions));
  EXPECT_EQ(a.rows(RawDb::kChangelog), b.rows(RawDb::kChangelog));
}

TEST(SessionStore, SnapshotInstallReplacesEverythingAndFollowingContinues) {
  TempDir tmp;
  auto active = open_store(tmp.sub("a"));
  ASSERT_TRUE(active);
  for (std::uint64_t i = 1; i <= 30; ++i)
    ASSERT_TRUE(active->record_upsert(record(i, "u"), 4, false).ok());
  ASSERT_TRUE(active->record_remove(5, 4, true).ok());
  {
    auto standby = open_store(tmp.sub("b"));
    ASSERT_TRUE(standby);
    // Stale rows from an older history, which the snapshot must wipe.
    ASSERT_TRUE(standby->record_upsert(record(99, "stale"), 1, true).ok());
    ASSERT_TRUE(standby->record_upsert(record(5, "stale"), 1, true).ok());
    auto snap = active->snapshot();
    ASSERT_TRUE(snap.ok()) << snap.error();
    EXPECT_EQ(snap->sessions.size(), 29u);
    auto inst = standby->install_snapshot(*snap);
    ASSERT_TRUE(inst.ok()) << inst.error();
    EXPECT_EQ(standby->position(), active->position());
    EXPECT_EQ(standby->epoch(), 4u);
    EXPECT_EQ(standby->next_session_index(), 100u);  // never lowered below what it handed out
    // The snapshot's own position is where the log continues; nothing before it is served.
    auto from_snap = standby->changes_after(standby->position(), 10);
    ASSERT_TRUE(from_snap.ok());
    EXPECT_FALSE(from_snap->need_snapshot);
    auto older = standby->changes_after({1, 4}, 10);
    ASSERT_TRUE(older.ok());
    EXPECT_TRUE(older->need_snapshot);
  }
  auto standby = open_store(tmp.sub("b"));  // the install survived a restart
  ASSERT_TRUE(standby);
  auto next = active->record_upsert(record(31, "new"), 4, true);
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(standby->apply(*next).ok());
  auto a = active->load_sessions();
  auto b = standby->load_sessions();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(serialized(*a), serialized(*b));
}

TEST(SessionStore, LogIsTrimmedAndAFarBehindStandbyIsToldToTakeASnapshot) {
  TempDir tmp;
  {
    auto store = open_store(tmp.db(), with_limit(10));
    ASSERT_TRUE(store);
    for (std::uint64_t i = 1; i <= 40; ++i)
      ASSERT_TRUE(store->record_upsert(record(i % 7 + 1, "u"), 1, false).ok());
  }
  auto store = open_store(tmp.db(), with_limit(10));
  ASSERT_TRUE(store);
  EXPECT_EQ(store->last_sequence(), 40u);
  EXPECT_EQ(store->oldest_sequence(), 31u);  // limit 10 < 16: trimmed to exactly the limit

  auto behind = store->changes_after({0, 0}, 100);
  ASSERT_TRUE(behind.ok()) << behind.error();
  EXPECT_TRUE(behind->need_snapshot);
  EXPECT_TRUE(behind->changes.empty());
  auto just_out = store->changes_after({29, 1}, 100);
  ASSERT_TRUE(just_out.ok());
  EXPECT_TRUE(just_out->need_snapshot);

  auto edge = store->changes_after({30, 1}, 100);
  ASSERT_TRUE(edge.ok()) << edge.error();
  EXPECT_FALSE(edge->need_snapshot);
  ASSERT_EQ(edge->changes.size(), 10u);
  EXPECT_EQ(edge->changes.front().seq(), 31u);
  EXPECT_EQ(edge->changes.back().seq(), 40u);

  // The default limit trims in steps of limit/16 and keeps at least the limit.
  TempDir tmp2;
  auto big = open_store(tmp2.db(), with_limit(160));
  ASSERT_TRUE(big);
  for (std::uint64_t i = 1; i <= 400; ++i)
    ASSERT_TRUE(big->record_upsert(record(1, "u"), 1, false).ok());
  EXPECT_GE(big->last_sequence() - big->oldest_sequence() + 1, 160u);
  EXPECT_LE(big->last_sequence() - big->oldest_sequence() + 1, 170u);
}

// A deposed active comes back with a tail it wrote but never replicated: same seq, older epoch.
// Its position is not on the new active's history, so it must take a snapshot, never the log.
TEST(SessionStore, DivergedHistoryNeedsASnapshot) {
  TempDir tmp;
  auto old_active = open_store(tmp.sub("a"));
  auto new_active = open_store(tmp.sub("b"));
  ASSERT_TRUE(old_active && new_active);
  for (std::uint64_t i = 1; i <= 3; ++i) {
    auto c = old_active->record_upsert(record(i, "u"), 1, true);
    ASSERT_TRUE(c.ok() && new_active->apply(*c).ok());
  }
  ASSERT_TRUE(old_active->record_upsert(record(4, "lost"), 1, true).ok());  // never shipped
  ASSERT_TRUE(new_active->set_epoch(2).ok());                               // promotion
  ASSERT_TRUE(new_active->record_upsert(record(4, "new"), 2, true).ok());

  auto diverged = new_active->changes_after(old_active->position(), 100);
  ASSERT_TRUE(diverged.ok()) << diverged.error();
  EXPECT_TRUE(diverged->need_snapshot);
  auto ahead = new_active->changes_after({9, 2}, 100);
  ASSERT_TRUE(ahead.ok());
  EXPECT_TRUE(ahead->need_snapshot);
  auto common = new_active->changes_after({3, 1}, 100);
  ASSERT_TRUE(common.ok());
  EXPECT_FALSE(common->need_snapshot);
  ASSERT_EQ(common->changes.size(), 1u);
  EXPECT_EQ(common->changes[0].epoch(), 2u);

  // And the old active, fenced by the new epoch, can no longer record in its old one.
  ASSERT_TRUE(old_active->set_epoch(2).ok());
  auto fenced = old_active->record_upsert(record(5, "x"), 1, true);
  ASSERT_FALSE(fenced.ok());
  EXPECT_EQ(fenced.error().rfind("fenced", 0), 0u) << fenced.error();
}

TEST(SessionStore, EpochAndNextIndexPersistAndNeverGoBack) {
  TempDir tmp;
  {
    auto store = open_store(tmp.db());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->epoch(), 0u);
    EXPECT_EQ(store->next_session_index(), 1u);
    ASSERT_TRUE(store->set_epoch(5).ok());
    ASSERT_TRUE(store->set_next_session_index(40).ok());
  }
  auto store = open_store(tmp.db());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->epoch(), 5u);
  EXPECT_EQ(store->next_session_index(), 40u);
  EXPECT_FALSE(store->set_epoch(4).ok());
  EXPECT_FALSE(store->set_next_session_index(39).ok());
  EXPECT_TRUE(store->set_epoch(5).ok());
  EXPECT_EQ(store->epoch(), 5u);
}

TEST(SessionStore, RemoveDeletesTheRowOnBothSides) {
  TempDir tmp;
  auto active = open_store(tmp.sub("a"));
  auto standby = open_store(tmp.sub("b"));
  ASSERT_TRUE(active && standby);
  for (std::uint64_t i = 1; i <= 2; ++i)
    ASSERT_TRUE(standby->apply(*active->record_upsert(record(i, "u"), 1, true)).ok());
  auto rm = active->record_remove(1, 1, true);
  ASSERT_TRUE(rm.ok()) << rm.error();
  ASSERT_TRUE(standby->apply(*rm).ok());
  for (auto* s : {active.get(), standby.get()}) {
    auto rows = s->load_sessions();
    ASSERT_TRUE(rows.ok());
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0].index(), 2u);
  }
  auto missing = active->record_remove(1, 1, true);
  EXPECT_FALSE(missing.ok());
  EXPECT_EQ(active->last_sequence(), 3u);  // a refused change takes no sequence number
}

// One bad record never keeps a node down: unreadable rows are set aside with their reason, every
// reader skips them, and the log still serves a peer (as a snapshot past a bad entry).
TEST(SessionStore, CorruptRowsAreQuarantinedNotFatal) {
  TempDir tmp;
  {
    auto store = open_store(tmp.db());
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->record_upsert(record(1, "ok"), 1, true).ok());
    ASSERT_TRUE(store->record_upsert(record(2, "ok"), 1, true).ok());
    ASSERT_TRUE(store->record_upsert(record(3, "ok"), 1, true).ok());
    ASSERT_TRUE(store->record_upsert(record(4, "ok"), 1, true).ok());
  }
  {
    RawDb raw(tmp.db());
    raw.put(RawDb::kSessions, be64(7), "\xff\xff\xff");
    raw.put(RawDb::kSessions, be64(3), record(8, "moved").SerializeAsString());
    raw.put(RawDb::kSessions, "odd-key", "x");
    raw.put(RawDb::kChangelog, be64(2), "\xff\xff\xff");
  }
  auto store = open_store(tmp.db());
  ASSERT_TRUE(store);
  auto rows = store->load_sessions();
  ASSERT_TRUE(rows.ok()) << rows.error();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0].index(), 1u);
  EXPECT_EQ((*rows)[1].index(), 2u);
  EXPECT_EQ((*rows)[2].index(), 4u);
  auto bad = store->quarantined();
  ASSERT_EQ(bad.size(), 2u);
  EXPECT_EQ(bad[0].index, 3u);
  EXPECT_NE(bad[0].reason.find("carries index 8"), std::string::npos) << bad[0].reason;
  EXPECT_EQ(bad[1].index, 7u);
  EXPECT_NE(bad[1].reason.find("not a SessionRecord"), std::string::npos) << bad[1].reason;

  auto snap = store->snapshot();
  ASSERT_TRUE(snap.ok()) << snap.error();
  EXPECT_EQ(snap->sessions.size(), 3u);
  // Past the unreadable log entry a peer is sent a snapshot instead.
  auto log = store->changes_after({0, 0}, 10);
  ASSERT_TRUE(log.ok()) << log.error();
  EXPECT_TRUE(log->need_snapshot);
  EXPECT_TRUE(log->changes.empty());
  EXPECT_NE(log->why.find("changelog/2"), std::string::npos) << log->why;
  // A peer positioned on the unreadable entry cannot be checked against it: a snapshot too.
  auto on_bad = store->changes_after({2, 1}, 10);
  ASSERT_TRUE(on_bad.ok());
  EXPECT_TRUE(on_bad->need_snapshot);
  // Past it, the log serves as before.
  auto tail = store->changes_after({3, 1}, 10);
  ASSERT_TRUE(tail.ok());
  EXPECT_FALSE(tail->need_snapshot);
  EXPECT_EQ(tail->changes.size(), 1u);

  // An active records a removal for a quarantined index: the row goes, the copy stays.
  ASSERT_TRUE(store->record_remove(7, 1, true).ok());
  bad = store->quarantined();
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0].index, 3u);
  // An upsert from the active replaces the bad row with a good one.
  ASSERT_TRUE(store->record_upsert(record(3, "again"), 1, true).ok());
  EXPECT_TRUE(store->quarantined().empty());
  rows = store->load_sessions();
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(rows->size(), 4u);

  store.reset();
  RawDb raw(tmp.db());
  auto copies = raw.rows(RawDb::kQuarantine);
  EXPECT_EQ(copies["row/" + be64(7)], "\xff\xff\xff");
  EXPECT_EQ(copies["why/" + be64(7)], "not a SessionRecord");
  EXPECT_EQ(copies["row/odd-key"], "x");
  EXPECT_TRUE(raw.rows(RawDb::kSessions).count("odd-key") == 0);  // never an index: moved out
}

// A snapshot replaces every row: nothing stays quarantined after it.
TEST(SessionStore, SnapshotClearsTheQuarantine) {
  TempDir tmp;
  auto active = open_store(tmp.sub("a"));
  ASSERT_TRUE(active);
  ASSERT_TRUE(active->record_upsert(record(1, "u"), 1, true).ok());
  {
    auto standby = open_store(tmp.sub("b"));
    ASSERT_TRUE(standby->apply(*active->changes_after({0, 0}, 1)->changes.begin()).ok());
  }
  {
    RawDb raw(tmp.sub("b"));
    raw.put(RawDb::kSessions, be64(1), "\x01");
  }
  auto standby = open_store(tmp.sub("b"));
  ASSERT_TRUE(standby);
  EXPECT_EQ(standby->quarantined().size(), 1u);
  ASSERT_TRUE(standby->install_snapshot(*active->snapshot()).ok());
  EXPECT_TRUE(standby->quarantined().empty());
  auto rows = standby->load_sessions();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].username(), "u");
}

}  // namespace
}  // namespace tandem::replication
