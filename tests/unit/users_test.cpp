#include "node/auth/users.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace tandem::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// yescrypt is slow on purpose: hash once for the whole suite.
const std::string& alice_hash() {
  static const std::string hash = hash_password("correct horse").value();
  return hash;
}

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "tandem_users_test_" + std::to_string(::getpid()) + "_" + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Password, HashIsYescryptAndVerifies) {
  EXPECT_THAT(alice_hash(), StartsWith("$y$"));
  EXPECT_TRUE(verify_password("correct horse", alice_hash()));
  EXPECT_FALSE(verify_password("correct horsE", alice_hash()));
  EXPECT_FALSE(verify_password("", alice_hash()));
  EXPECT_FALSE(verify_password(std::string_view("correct horse\0x", 15), alice_hash()));
}

TEST(Password, Sha512CryptIsAccepted) {
  // openssl passwd -6 -salt tandemsalt 'correct horse'
  const std::string h =
      "$6$tandemsalt$S9q8TgQ54d0qpAMm10u5Y6XZV.kdVCvH2/YINj/Ej5MiAdYAwDD2Gvmfk9lnkTOqvNz2jM/"
      "taCA5xXJV19niB1";
  EXPECT_TRUE(verify_password("correct horse", h));
  EXPECT_FALSE(verify_password("correct horse!", h));
}

TEST(Password, MalformedOrWeakHashesNeverVerify) {
  // Legacy DES would accept any password sharing the first 8 characters; it is refused outright.
  const std::string hashes[] = {"",
                                "*",
                                "!",
                                "!" + alice_hash(),
                                "*0",
                                "ab01FAX.bQRSU",
                                "$1$ab$.ThsTrbyIbEahEdE8LNwj1",
                                "$y$",
                                alice_hash().substr(0, 10),
                                alice_hash() + ":"};
  for (const std::string& h : hashes) {
    EXPECT_FALSE(verify_password("correct horse", h)) << h;
  }
}

TEST(UserDb, ParsesNameHashLinesWithCommentsAndBlanks) {
  const std::string text = "# users\n\n   \nalice:" + alice_hash() + "\r\n  # indented comment\n" +
                           "bob.smith@example.com:" + alice_hash() + "\n";
  auto db = UserDb::parse(text, "users.txt");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(db->size(), 2u);
  EXPECT_TRUE(db->has("alice"));
  EXPECT_TRUE(db->has("bob.smith@example.com"));
  EXPECT_FALSE(db->has("carol"));
}

TEST(UserDb, ErrorsNameFileAndLine) {
  const std::string h = alice_hash();
  struct Case {
    std::string text;
    std::string want;
  };
  for (const Case& c : std::vector<Case>{
           {"# header\nalice " + h + "\n", "users.txt: line 2: expected 'name:hash'"},
           {"alice:\n", "users.txt: line 1: user 'alice': not a supported password hash"},
           {"alice:ab01FAX.bQRSU\n", "line 1: user 'alice': not a supported password hash"},
           {"\n\nal ice:" + h + "\n", "users.txt: line 3: invalid user name 'al ice'"},
           {":" + h + "\n", "line 1: invalid user name ''"},
           {"alice:" + h + "\nbob:" + h + "\nalice:" + h + "\n",
            "users.txt: line 3: duplicate user 'alice' (first on line 1)"},
       }) {
    auto db = UserDb::parse(c.text, "users.txt");
    ASSERT_FALSE(db.ok()) << c.text;
    EXPECT_THAT(db.error(), HasSubstr(c.want));
  }
}

TEST(UserDb, WrongPasswordAndUnknownUserAreBothFalse) {
  UserDb db;
  db.set("alice", alice_hash());
  EXPECT_TRUE(db.check("alice", "correct horse"));
  EXPECT_FALSE(db.check("alice", "wrong"));
  EXPECT_FALSE(db.check("mallory", "correct horse"));
  EXPECT_FALSE(db.check("", ""));
}

TEST(UserDb, ABangBeforeTheHashDisablesTheUser) {
  const std::string h = alice_hash();
  auto db = UserDb::parse("alice:!" + h + "\ncarol:!\nbob:" + h + "\n", "users.txt");
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(db->size(), 3u);
  EXPECT_TRUE(db->has("alice"));
  EXPECT_TRUE(db->disabled("alice"));
  EXPECT_FALSE(db->enabled("alice"));
  EXPECT_FALSE(db->check("alice", "correct horse"));  // the right password, but disabled
  EXPECT_TRUE(db->disabled("carol"));                 // disabled, no password at all
  EXPECT_FALSE(db->check("carol", ""));
  EXPECT_TRUE(db->enabled("bob"));
  EXPECT_TRUE(db->check("bob", "correct horse"));
  EXPECT_FALSE(db->enabled("mallory"));
  EXPECT_FALSE(db->disabled("mallory"));

  // The marker survives a round trip, and enabling gives the old password back.
  auto again = UserDb::parse(db->serialize(), "x");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_TRUE(again->disabled("alice"));
  EXPECT_TRUE(again->disabled("carol"));
  EXPECT_THAT(db->serialize(), HasSubstr("\nalice:!" + h + "\n"));
  EXPECT_THAT(db->serialize(), HasSubstr("\ncarol:!\n"));
  ASSERT_TRUE(again->set_enabled("alice", true));
  EXPECT_TRUE(again->check("alice", "correct horse"));
  EXPECT_FALSE(again->set_enabled("mallory", true));

  for (const std::string& bad :
       std::vector<std::string>{"alice:!!" + h + "\n", "alice:!ab01FAX.bQRSU\n", "alice:!*\n"}) {
    auto r = UserDb::parse(bad, "users.txt");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(r.error(), HasSubstr("line 1: user 'alice': not a supported password hash"));
  }
}

TEST(UserDb, SerializeRoundTripsWithAHeaderComment) {
  UserDb db;
  db.set("bob", alice_hash());
  db.set("alice", alice_hash());
  const std::string text = db.serialize();
  EXPECT_THAT(text, StartsWith("#"));
  EXPECT_THAT(text, HasSubstr("\nalice:" + alice_hash() + "\nbob:"));
  auto again = UserDb::parse(text, "x");
  ASSERT_TRUE(again.ok()) << again.error();
  EXPECT_EQ(again->size(), 2u);
}

TEST(UserDb, LoadNamesAMissingFile) {
  auto db = UserDb::load("/nonexistent/tandem-users");
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.error(), HasSubstr("/nonexistent/tandem-users"));
}

TEST(UsersFile, SetUserPasswordCreatesThenUpdatesAtomically) {
  const std::string path = temp_path("users");
  ::unlink(path.c_str());
  auto created = set_user_password(path, "alice", "s3cret");
  ASSERT_TRUE(created.ok()) << created.error();
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // A second user is added next to the first, which keeps its hash.
  const std::string before = slurp(path);
  ASSERT_TRUE(set_user_password(path, "bob", "hunter2").ok());
  auto db = UserDb::load(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_EQ(db->size(), 2u);
  EXPECT_THAT(slurp(path), HasSubstr(before.substr(before.find("alice:"))));
  EXPECT_TRUE(db->check("bob", "hunter2"));
  EXPECT_FALSE(db->check("alice", "hunter2"));
  EXPECT_NE(::access((path + ".tmp." + std::to_string(::getpid())).c_str(), F_OK), 0);
  ::unlink(path.c_str());
}

TEST(UsersFile, SetUserPasswordRefusesBadInputAndKeepsACorruptFile) {
  const std::string path = temp_path("corrupt");
  std::ofstream(path) << "this is not a users file\n";
  auto r = set_user_password(path, "alice", "pw");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error(), HasSubstr(path + ": line 1"));
  EXPECT_EQ(slurp(path), "this is not a users file\n");
  ::unlink(path.c_str());

  EXPECT_THAT(set_user_password(path, "bad:name", "pw").error(), HasSubstr("invalid user name"));
  EXPECT_THAT(set_user_password(path, "alice", "").error(), HasSubstr("empty password"));
  EXPECT_NE(::access(path.c_str(), F_OK), 0);  // nothing was written
}

TEST(UsersFile, DisableEnableAndRemoveAUser) {
  const std::string path = temp_path("states");
  ::unlink(path.c_str());
  EXPECT_THAT(set_user_state(path, "alice", UserChange::disable).error(),
              HasSubstr("cannot read users file " + path));
  ASSERT_TRUE(set_user_password(path, "alice", "pw-a").ok());
  ASSERT_TRUE(set_user_password(path, "bob", "pw-b").ok());

  auto r = set_user_state(path, "alice", UserChange::disable);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_TRUE(*r);
  EXPECT_THAT(slurp(path), HasSubstr("\nalice:!$y$"));
  auto db = UserDb::load(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_FALSE(db->check("alice", "pw-a"));
  EXPECT_TRUE(db->check("bob", "pw-b"));
  r = set_user_state(path, "alice", UserChange::disable);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(*r);  // already disabled: nothing to write

  // A new password does not enable a disabled user; enabling does, with that password.
  ASSERT_TRUE(set_user_password(path, "alice", "pw-a2").ok());
  EXPECT_TRUE(UserDb::load(path)->disabled("alice"));
  ASSERT_TRUE(set_user_state(path, "alice", UserChange::enable).ok());
  db = UserDb::load(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_TRUE(db->check("alice", "pw-a2"));

  ASSERT_TRUE(set_user_state(path, "bob", UserChange::remove).ok());
  db = UserDb::load(path);
  ASSERT_TRUE(db.ok()) << db.error();
  EXPECT_FALSE(db->has("bob"));
  EXPECT_TRUE(db->has("alice"));
  EXPECT_THAT(set_user_state(path, "bob", UserChange::enable).error(),
              HasSubstr("no user 'bob' in " + path));
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::unlink(path.c_str());
}

TEST(UserName, Validity) {
  for (const char* good : {"a", "alice", "Bob_2", "first.last", "user@example.com", "a+b", "x-y"}) {
    EXPECT_TRUE(valid_username(good)) << good;
  }
  const std::string bad_names[] = {"",     std::string(65, 'a'),  "a:b", "a b", "a/b", "ü",
                                   "a\nb", std::string("a\0b", 3)};
  for (const std::string& bad : bad_names) {
    EXPECT_FALSE(valid_username(bad)) << bad;
  }
  EXPECT_TRUE(valid_username(std::string(64, 'a')));
}

}  // namespace
}  // namespace tandem::auth
