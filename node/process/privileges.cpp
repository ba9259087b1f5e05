#include "node/process/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace tandem::process {
namespace {

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

// Fields of a status line after "Name:\t", split on blanks.
std::vector<std::string_view> fields(std::string_view rest) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < rest.size()) {
    while (at < rest.size() && (rest[at] == ' ' || rest[at] == '\t')) ++at;
    std::size_t end = at;
    while (end < rest.size() && rest[end] != ' ' && rest[end] != '\t') ++end;
    if (end > at) out.push_back(rest.substr(at, end - at));
    at = end;
  }
  return out;
}

template <typename T>
bool number(std::string_view s, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc() && p == s.data() + s.size();
}

// The highest capability this kernel knows (e.g. 40 for CAP_CHECKPOINT_RESTORE).
int last_capability() {
  std::ifstream f("/proc/sys/kernel/cap_last_cap");
  int last = CAP_LAST_CAP;
  if (!(f >> last) || last < 0 || last > 63) last = CAP_LAST_CAP;
  return last;
}

}  // namespace

CapabilityMask daemon_capabilities() {
  return capability_bit(CAP_NET_ADMIN) | capability_bit(CAP_NET_RAW);
}

CapabilityMask keeper_capabilities() { return capability_bit(CAP_NET_ADMIN); }

std::string format_capabilities(CapabilityMask mask) {
  std::string out;
  for (int cap = 0; cap < 64; ++cap) {
    if ((mask & capability_bit(cap)) == 0) continue;
    if (!out.empty()) out += ',';
    char* name = cap_to_name(static_cast<cap_value_t>(cap));  // a number when it has no name
    out += name != nullptr ? name : std::to_string(cap);
    cap_free(name);
  }
  return out.empty() ? "none" : out;
}

Result<ProcessStatus> parse_process_status(std::string_view text) {
  ProcessStatus s;
  bool seen_uid = false, seen_gid = false;
  int caps_seen = 0;
  std::size_t at = 0;
  while (at < text.size()) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    auto f = fields(line.substr(colon + 1));
    auto ids = [&](auto(&out)[4]) -> Result<void> {
      if (f.size() != 4) return fail(std::string(key) + ": expected 4 ids");
      for (int i = 0; i < 4; ++i) {
        if (!number(f[static_cast<std::size_t>(i)], out[i]))
          return fail(std::string(key) + ": not a number");
      }
      return {};
    };
    auto mask = [&](CapabilityMask& out) -> Result<void> {
      if (f.size() != 1 || !number(f[0], out, 16))
        return fail(std::string(key) + ": not a hexadecimal mask");
      ++caps_seen;
      return {};
    };
    Result<void> r;
    if (key == "Uid") {
      r = ids(s.uid);
      seen_uid = true;
    } else if (key == "Gid") {
      r = ids(s.gid);
      seen_gid = true;
    } else if (key == "Groups") {
      for (auto g : f) {
        gid_t id = 0;
        if (!number(g, id)) return fail("Groups: not a number");
        s.groups.push_back(id);
      }
    } else if (key == "CapInh") {
      r = mask(s.inheritable);
    } else if (key == "CapPrm") {
      r = mask(s.permitted);
    } else if (key == "CapEff") {
      r = mask(s.effective);
    } else if (key == "CapBnd") {
      r = mask(s.bounding);
    } else if (key == "CapAmb") {
      r = mask(s.ambient);
    } else if (key == "NoNewPrivs") {
      if (f.size() != 1 || !number(f[0], s.no_new_privs)) return fail("NoNewPrivs: not a number");
    } else if (key == "Threads") {
      if (f.size() != 1 || !number(f[0], s.threads)) return fail("Threads: not a number");
    }
    if (!r) return fail(r.error());
  }
  if (!seen_uid || !seen_gid || caps_seen != 5 || s.no_new_privs < 0 || s.threads < 1)
    return fail("status lacks Uid, Gid, a Cap line, NoNewPrivs or Threads");
  return s;
}

Result<void> check_dropped(const ProcessStatus& s, uid_t uid, gid_t gid, CapabilityMask keep) {
  static constexpr const char* kWhich[] = {"real", "effective", "saved", "filesystem"};
  for (int i = 0; i < 4; ++i) {
    if (s.uid[i] != uid)
      return fail(std::string(kWhich[i]) + " uid is " + std::to_string(s.uid[i]) + ", not " +
                  std::to_string(uid));
    if (s.gid[i] != gid)
      return fail(std::string(kWhich[i]) + " gid is " + std::to_string(s.gid[i]) + ", not " +
                  std::to_string(gid));
  }
  if (!s.groups.empty()) return fail("supplementary groups remain");
  struct Set {
    const char* name;
    CapabilityMask have, want;
  };
  for (const Set& set : {Set{"effective", s.effective, keep}, Set{"permitted", s.permitted, keep},
                         Set{"bounding", s.bounding, keep}, Set{"inheritable", s.inheritable, 0},
                         Set{"ambient", s.ambient, 0}}) {
    if (set.have != set.want)
      return fail(std::string(set.name) + " capabilities are " + format_capabilities(set.have) +
                  ", not " + format_capabilities(set.want));
  }
  if (s.no_new_privs != 1) return fail("no_new_privs is not set");
  return {};
}

Result<Identity> resolve_identity(const std::string& user_name, const std::string& group_name) {
  Identity who;
  who.user = user_name;
  errno = 0;
  const passwd* pw = ::getpwnam(user_name.c_str());
  if (pw == nullptr)
    return fail(errno != 0 && errno != ENOENT
                    ? errno_text("[process] user '" + user_name + "'")
                    : "[process] user '" + user_name +
                          "' does not exist (deploy/install.sh "
                          "creates 'tandem': useradd --system --no-create-home "
                          "--shell /usr/sbin/nologin tandem)");
  who.uid = pw->pw_uid;
  who.gid = pw->pw_gid;
  if (who.uid == 0)
    return fail("[process] user '" + user_name +
                "' is root: name an unprivileged user, or leave it "
                "empty to run as root");
  if (!group_name.empty()) {
    errno = 0;
    const struct group* gr = ::getgrnam(group_name.c_str());
    if (gr == nullptr)
      return fail(errno != 0 && errno != ENOENT
                      ? errno_text("[process] group '" + group_name + "'")
                      : "[process] group '" + group_name + "' does not exist");
    who.gid = gr->gr_gid;
  }
  if (who.gid == 0)
    return fail("[process] group of '" + user_name +
                "' is root's: name another with [process] group");
  errno = 0;
  const struct group* gr = ::getgrgid(who.gid);
  who.group = gr != nullptr ? gr->gr_name : std::to_string(who.gid);
  return who;
}

Result<ProcessStatus> own_status() {
  std::ifstream f("/proc/self/status");
  if (!f) return fail("cannot read /proc/self/status");
  std::stringstream text;
  text << f.rdbuf();
  return parse_process_status(text.str());
}

Result<void> drop_privileges(const Identity& who, CapabilityMask keep) {
  auto before = own_status();
  if (!before) return fail(before.error());
  // Capabilities are per thread: one thread left behind with root's would keep them.
  if (before->threads != 1)
    return fail("the process has " + std::to_string(before->threads) +
                " threads: the drop must come before any thread starts");

  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes below.
  const int last = last_capability();
  for (int cap = 0; cap <= last; ++cap) {
    if (keep & capability_bit(cap)) continue;
    if (::prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1) continue;
    if (::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0)
      return fail(
          errno_text("dropping capability " + std::to_string(cap) + " from the bounding set"));
  }
  // Keep the permitted set across the change of uid (the kernel clears it otherwise).
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) return fail(errno_text("PR_SET_KEEPCAPS"));
  if (::setgroups(0, nullptr) != 0) return fail(errno_text("setgroups"));
  if (::setresgid(who.gid, who.gid, who.gid) != 0) return fail(errno_text("setresgid"));
  if (::setresuid(who.uid, who.uid, who.uid) != 0) return fail(errno_text("setresuid"));
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0) return fail(errno_text("PR_SET_KEEPCAPS off"));

  cap_t caps = cap_init();  // everything clear
  if (caps == nullptr) return fail(errno_text("cap_init"));
  std::vector<cap_value_t> values;
  for (int cap = 0; cap <= last; ++cap) {
    if (keep & capability_bit(cap)) values.push_back(static_cast<cap_value_t>(cap));
  }
  bool ok = values.empty() || (cap_set_flag(caps, CAP_PERMITTED, static_cast<int>(values.size()),
                                            values.data(), CAP_SET) == 0 &&
                               cap_set_flag(caps, CAP_EFFECTIVE, static_cast<int>(values.size()),
                                            values.data(), CAP_SET) == 0);
  if (ok) ok = cap_set_proc(caps) == 0;
  int saved = errno;
  cap_free(caps);
  if (!ok) {
    errno = saved;
    return fail(errno_text("cap_set_proc"));
  }
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return fail(errno_text("PR_SET_NO_NEW_PRIVS"));

  auto after = own_status();
  if (!after) return fail(after.error());
  if (auto r = check_dropped(*after, who.uid, who.gid, keep); !r)
    return fail("after the drop: " + r.error());
  return {};
}

Result<void> give_to(const std::string& path, uid_t uid, gid_t gid, bool recursive) {
  if (::lchown(path.c_str(), uid, gid) != 0) return fail(errno_text("chown " + path));
  if (!recursive) return {};
  namespace fs = std::filesystem;
  std::error_code ec;
  // Symbolic links are given, not followed, and a file with a second name is refused: neither
  // kind of link inside may hand out a file from elsewhere (the directory is the user's, who
  // could plant one).
  for (fs::recursive_directory_iterator it(path, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string p = it->path().string();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return fail(errno_text(p));
    if (st.st_uid == uid && st.st_gid == gid) continue;
    if (S_ISREG(st.st_mode) && st.st_nlink > 1)
      return fail(p + " has " + std::to_string(st.st_nlink) + " names: not handed over");
    if (::lchown(p.c_str(), uid, gid) != 0) return fail(errno_text("chown " + p));
  }
  if (ec) return fail("walking " + path + ": " + ec.message());
  return {};
}

Result<void> give_private_directory(const std::string& dir, uid_t uid, gid_t gid) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(errno_text(dir));
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fail(dir + ": " + ec.message());
    if (::chmod(dir.c_str(), 0700) != 0) return fail(errno_text("chmod " + dir));
    return give_to(dir, uid, gid, false);
  }
  if (!S_ISDIR(st.st_mode)) return fail(dir + " is not a directory");
  if (st.st_uid == uid) return {};
  if (st.st_uid == 0 && (st.st_mode & 077) == 0) return give_to(dir, uid, gid, false);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return fail(dir + " is not private to tandemd (owner uid " + std::to_string(st.st_uid) +
              ", mode " + mode +
              "): put the admin socket in a directory of its own, e.g. /run/tandem");
}

}  // namespace tandem::process
