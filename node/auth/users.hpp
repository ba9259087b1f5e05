#pragma once
// The users file: one line per user, `name:hash`, with `#` comments. The hash is a crypt(3)
// string (yescrypt "$y$" by default, "$6$" accepted) made and checked through libxcrypt.
// A `!` before the hash disables the user, as in shadow(5): `name:!$y$...` keeps the password
// for when the user is enabled again, and `name:!` alone is a disabled user without one. A
// disabled user cannot log in, and a reload ends the user's sessions (as it does for a user
// removed from the file).
#include <map>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace tandem::auth {

// Slow, salted hash of a password (libxcrypt's default method).
Result<std::string> hash_password(std::string_view password);
// Constant-time-ish verification through crypt_r; false for malformed hashes.
bool verify_password(std::string_view password, const std::string& hash);

class UserDb {
 public:
  static Result<UserDb> load(const std::string& path);  // missing file = error naming it
  static Result<UserDb> parse(std::string_view text, const std::string& source);

  // True only for an enabled user with the right password. An unknown or disabled user still
  // costs one hash computation, so timing does not tell which of them was wrong.
  bool check(std::string_view user, std::string_view password) const;
  bool has(std::string_view user) const;       // in the file, enabled or not
  bool enabled(std::string_view user) const;   // in the file and not disabled: may log in
  bool disabled(std::string_view user) const;  // in the file with `!`
  std::size_t size() const { return users_.size(); }

  // Sets the hash; a user new to the file is enabled, an existing one keeps its state.
  void set(const std::string& user, const std::string& hash);
  // False for an unknown user.
  bool set_enabled(std::string_view user, bool enabled);
  bool erase(std::string_view user);
  std::string serialize() const;

 private:
  struct Entry {
    std::string hash;  // empty only for a disabled user without a password (`name:!`)
    bool disabled = false;
  };
  std::map<std::string, Entry, std::less<>> users_;
};

// Add or replace a user's password in the file at `path` (created if missing), atomically
// (rename). A disabled user stays disabled.
Result<bool> set_user_password(const std::string& path, const std::string& user,
                               std::string_view password);

// What set_user_state does to a user of the file.
enum class UserChange { enable, disable, remove };
// Enables, disables or removes `user` in the file at `path`, atomically; an unknown user or a
// missing file is an error. True when the file changed (false: it already was that way).
Result<bool> set_user_state(const std::string& path, const std::string& user, UserChange change);

bool valid_username(std::string_view user);

}  // namespace tandem::auth
