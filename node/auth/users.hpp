#pragma once
// The users file: one line per user, `name:hash`, with `#` comments. The hash is a crypt(3)
// string (yescrypt "$y$" by default, "$6$" accepted) made and checked through libxcrypt.
#include <map>
#include <string>
#include <string_view>

#include "node/common/result.hpp"

namespace tandem::auth {

// Slow, salted hash of a password (libxcrypt's default method).
Result<std::string> hash_password(std::string_view password);
// Constant-time-ish verification through crypt_r; false for malformed hashes.
bool verify_password(std::string_view password, const std::string& hash);

class UserDb {
 public:
  static Result<UserDb> load(const std::string& path);  // missing file = error naming it
  static Result<UserDb> parse(std::string_view text, const std::string& source);

  // True only for a known user with the right password. An unknown user still costs one
  // hash computation, so timing does not tell which of the two was wrong.
  bool check(std::string_view user, std::string_view password) const;
  bool has(std::string_view user) const;
  std::size_t size() const { return users_.size(); }

  void set(const std::string& user, const std::string& hash);
  std::string serialize() const;

 private:
  std::map<std::string, std::string, std::less<>> users_;
};

// Add or replace a user in the file at `path` (created if missing), atomically (rename).
Result<bool> set_user_password(const std::string& path, const std::string& user,
                               std::string_view password);

bool valid_username(std::string_view user);

}  // namespace tandem::auth
