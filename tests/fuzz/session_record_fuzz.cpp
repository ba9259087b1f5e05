// The session record as the store and the standby read it (proto/session.proto, S16): bytes from
// disk or from the peer, parsed into a SessionRecord and turned into a Session.
//
// The input is a serialized SessionRecord (or any bytes). Invariants:
//  - whatever parses, session::from_record gives text that is valid UTF-8, free of control
//    characters and within its bound (usernames 64 bytes, other client text 256), and does so
//    idempotently: from_record of to_record of the result changes nothing;
//  - a record written through the store comes back from load_sessions and snapshot unchanged,
//    and is never quarantined (one SessionStore stays open for the whole process; each input's
//    row is removed again, so every input meets an empty store);
//  - the store never loads a row that does not parse or whose index is not its key: for one
//    input in kPlantEvery (picked by the input's hash, so the choice reproduces), the input is
//    planted as a raw row in a second store directory, with a mismatched-index copy, a row under
//    a key that is not an index, and one good row; SessionStore::open, load_sessions and
//    snapshot must return exactly the good rows, unchanged, and quarantine exactly the bad
//    indexed ones. The rows are planted with RocksDB directly (the store has no API that writes
//    a bad row); opening RocksDB twice costs about 0.2 s under ASan, hence the sampling.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/text.hpp"
#include "node/session/session_record.hpp"
#include "replication/session_store.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using tandem::proto::SessionRecord;
namespace text = tandem::text;

constexpr std::uint64_t kPlantEvery = 128;
constexpr std::uint64_t kEpoch = 5;
// The store's column families, in its order (replication/session_store.cpp).
const std::vector<std::string> kFamilies = {rocksdb::kDefaultColumnFamilyName, "sessions",
                                            "changelog", "meta", "quarantine"};

std::string be64(std::uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i, v >>= 8)
    s[static_cast<std::size_t>(i)] = static_cast<char>(v & 0xff);
  return s;
}

void check_text(const std::string& s, std::size_t max, const char* field) {
  FUZZ_CHECK(text::is_valid_utf8(s), std::string(field) + " is not valid UTF-8");
  FUZZ_CHECK(s.size() <= max, std::string(field) + " has " + std::to_string(s.size()) + " bytes");
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const bool c1 =
        c == 0xc2 && i + 1 < s.size() && (static_cast<unsigned char>(s[i + 1]) & 0xe0) == 0x80;
    FUZZ_CHECK(c >= 0x20 && c != 0x7f && !c1, std::string(field) + " holds a control character");
  }
}

void check_session(const tandem::session::Session& s) {
  check_text(s.user, text::kMaxUsername, "user");
  check_text(s.tunnel_group, text::kMaxClientText, "tunnel_group");
  check_text(s.policy, text::kMaxClientText, "policy");
  check_text(s.public_ip, text::kMaxClientText, "public_ip");
  check_text(s.client_type, text::kMaxClientText, "client_type");
  check_text(s.ssl_info.public_ip, text::kMaxClientText, "ssl public_ip");
  check_text(s.ssl_info.encapsulation, text::kMaxClientText, "ssl encapsulation");
  check_text(s.ssl_info.cipher, text::kMaxClientText, "ssl cipher");
}

void check_record(const SessionRecord& r) {
  const auto s = tandem::session::from_record(r);
  check_session(s);
  FUZZ_CHECK(s.index == r.index() && s.ip == r.assigned_ipv4() && s.resumes == r.resumes());
  const std::string& h = r.token_hash();
  const std::size_t n = std::min(h.size(), s.token_hash.size());
  FUZZ_CHECK(std::equal(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(n), s.token_hash.begin(),
                        [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; }),
             "token hash not copied");
  // Sanitising what is already clean changes nothing.
  const auto again = tandem::session::from_record(tandem::session::to_record(s));
  FUZZ_CHECK(again.user == s.user && again.tunnel_group == s.tunnel_group &&
                 again.policy == s.policy && again.public_ip == s.public_ip &&
                 again.client_type == s.client_type && again.token_hash == s.token_hash,
             "from_record is not idempotent");
  FUZZ_CHECK(again.counters.bytes_tx == s.counters.bytes_tx &&
             again.counters.drops_rx == s.counters.drops_rx && again.public_port == s.public_port);
}

tandem::fuzz::ScratchDir& scratch() {
  static tandem::fuzz::ScratchDir dir;  // removed at exit
  return dir;
}

// Never destroyed: closing RocksDB from a static destructor runs after RocksDB's own statics are
// gone (a crash at exit). The directory goes with scratch().
struct Stores {
  std::unique_ptr<tandem::replication::SessionStore> open_store;
  std::string planted_dir() const { return scratch().path() + "/planted"; }
  Stores() {
    auto s = tandem::replication::SessionStore::open(scratch().path() + "/open");
    FUZZ_CHECK(s.ok(), s.error());
    open_store = std::move(*s);
    FUZZ_CHECK(open_store->set_epoch(kEpoch).ok());
  }
};
Stores& stores() {
  static Stores* s = new Stores();
  return *s;
}

// The record written through the API reads back unchanged, everywhere.
void check_round_trip(const SessionRecord& r) {
  auto& st = *stores().open_store;
  auto change = st.record_upsert(r, kEpoch, /*durable=*/false);
  FUZZ_CHECK(change.ok(), "record_upsert: " + change.error());
  const std::string expected = r.SerializeAsString();
  auto rows = st.load_sessions();
  FUZZ_CHECK(rows.ok(), rows.error());
  FUZZ_CHECK(rows->size() == 1 && (*rows)[0].SerializeAsString() == expected,
             "a stored record did not come back unchanged");
  auto snap = st.snapshot();
  FUZZ_CHECK(
      snap.ok() && snap->sessions.size() == 1 && snap->sessions[0].SerializeAsString() == expected,
      "the snapshot does not hold the stored record unchanged");
  FUZZ_CHECK(st.quarantined().empty(), "a record the store wrote itself was quarantined");
  FUZZ_CHECK(st.record_remove(r.index(), kEpoch, /*durable=*/false).ok());
  auto after = st.load_sessions();
  FUZZ_CHECK(after.ok() && after->empty(), "a removed row is still loaded");
}

rocksdb::Status with_raw_db(
    const std::string& dir,
    const std::function<void(rocksdb::DB&, std::vector<rocksdb::ColumnFamilyHandle*>&)>& f) {
  rocksdb::Options opts;
  opts.create_if_missing = true;
  opts.create_missing_column_families = true;
  std::vector<rocksdb::ColumnFamilyDescriptor> descs;
  for (const auto& name : kFamilies) descs.emplace_back(name, rocksdb::ColumnFamilyOptions(opts));
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(rocksdb::DBOptions(opts), dir, descs, &cfs, &db);
  if (!s.ok()) return s;
  f(*db, cfs);
  for (auto* h : cfs) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  s = db->Close();
  delete db;
  return s;
}

void check_planted(std::string_view input, const std::optional<SessionRecord>& parsed) {
  const std::string dir = stores().planted_dir();
  std::filesystem::remove_all(dir);  // a fresh store for each planting

  // key -> value of every row planted under the sessions family.
  std::map<std::string, std::string> planted;
  const std::uint64_t index = parsed && parsed->index() != 0 ? parsed->index() : 7;
  planted[be64(index)] = std::string(input);
  if (parsed) {
    SessionRecord other = *parsed;
    other.set_index(index + 1);  // stored under `index`+2: a record that names another index
    planted[be64(index + 2)] = other.SerializeAsString();
  }
  const std::string odd_key(input.substr(0, std::min<std::size_t>(input.size(), 12)));
  if (odd_key.size() != 8) planted[odd_key] = std::string(input);
  SessionRecord good;
  good.set_index(std::uint64_t{1} << 40);
  good.set_username("good");
  good.set_token_hash(std::string(32, 'g'));
  planted[be64(good.index())] = good.SerializeAsString();

  auto s = with_raw_db(dir, [&](rocksdb::DB& db, auto& cfs) {
    for (const auto& [k, v] : planted) FUZZ_CHECK(db.Put({}, cfs[1], k, v).ok());
  });
  FUZZ_CHECK(s.ok(), "planting rows: " + s.ToString());

  // What a correct store loads: rows under an 8-byte key whose value parses to that index.
  std::map<std::uint64_t, std::string> good_rows;
  std::set<std::uint64_t> bad_rows;
  for (const auto& [k, v] : planted) {
    if (k.size() != 8) continue;
    std::uint64_t i = 0;
    for (unsigned char c : k) i = (i << 8) | c;
    SessionRecord r;
    if (r.ParseFromString(v) && r.index() == i)
      good_rows[i] = r.SerializeAsString();
    else
      bad_rows.insert(i);
  }

  auto opened = tandem::replication::SessionStore::open(dir);
  FUZZ_CHECK(opened.ok(), "the store refused to open over bad rows: " + opened.error());
  auto& st = **opened;
  auto check_rows = [&](const std::vector<SessionRecord>& rows, const char* what) {
    FUZZ_CHECK(rows.size() == good_rows.size(),
               std::string(what) + ": " + std::to_string(rows.size()) + " rows, expected " +
                   std::to_string(good_rows.size()));
    for (const auto& r : rows) {
      auto it = good_rows.find(r.index());
      FUZZ_CHECK(it != good_rows.end(), std::string(what) + " loaded a row that should not load");
      FUZZ_CHECK(it->second == r.SerializeAsString(), std::string(what) + " changed a row");
      check_record(r);
    }
  };
  auto rows = st.load_sessions();
  FUZZ_CHECK(rows.ok(), rows.error());
  check_rows(*rows, "load_sessions");
  auto snap = st.snapshot();
  FUZZ_CHECK(snap.ok(), snap.error());
  check_rows(snap->sessions, "snapshot");
  std::set<std::uint64_t> quarantined;
  for (const auto& q : st.quarantined()) {
    quarantined.insert(q.index);
    FUZZ_CHECK(!q.reason.empty());
  }
  FUZZ_CHECK(quarantined == bad_rows, "quarantined " + std::to_string(quarantined.size()) +
                                          " rows, expected " + std::to_string(bad_rows.size()));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  tandem::fuzz::quiet_logs();
  (void)scratch();
  (void)stores();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = tandem::fuzz::as_chars(data, size);
  std::optional<SessionRecord> parsed;
  SessionRecord r;
  if (r.ParseFromArray(data, static_cast<int>(size))) {
    check_record(r);
    check_round_trip(r);
    parsed = std::move(r);
  }
  if (tandem::fuzz::Rng(input).next() % kPlantEvery == 0) check_planted(input, parsed);
  return 0;
}
