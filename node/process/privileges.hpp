#pragma once
// Least privilege (docs/privileges.md). tandemd starts as root, does what only root may do
// (binds its ports, creates the TUN device, reads its keys, installs the SYN guard, hands its
// state directory to the service user), then becomes [process] user keeping only the
// capabilities it still uses at run time: CAP_NET_ADMIN (service and inside addresses, the TUN
// link on a role change) and CAP_NET_RAW (gratuitous ARP, TCP tickles). The keeper keeps only
// CAP_NET_ADMIN.
//
// Capabilities belong to each thread, so the drop must happen while the process has one thread:
// drop_privileges() refuses otherwise, and checks the result in /proc/self/status.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"

namespace tandem::process {

// A capability set as /proc/<pid>/status shows it: bit N is capability N (capabilities(7)).
using CapabilityMask = std::uint64_t;

constexpr CapabilityMask capability_bit(int cap) { return CapabilityMask{1} << cap; }

// What the daemon keeps after the drop, and what the keeper keeps.
CapabilityMask daemon_capabilities();
CapabilityMask keeper_capabilities();

// "cap_net_admin,cap_net_raw" in bit order (capabilities(7) names, lower case; a bit without a
// name as its number), "none" for an empty set. Pure.
std::string format_capabilities(CapabilityMask mask);

// The lines of /proc/<pid>/status the drop is checked against. Pure parsing.
struct ProcessStatus {
  uid_t uid[4] = {};  // real, effective, saved, filesystem
  gid_t gid[4] = {};
  std::vector<gid_t> groups;  // supplementary
  CapabilityMask inheritable = 0, permitted = 0, effective = 0, bounding = 0, ambient = 0;
  int no_new_privs = -1;
  int threads = 0;
};
Result<ProcessStatus> parse_process_status(std::string_view text);

// The state a drop to uid/gid keeping `keep` must leave: every uid and gid the target's (so
// root cannot be taken back), no supplementary groups, exactly `keep` permitted, effective and
// bounding, nothing inheritable or ambient, no_new_privs set. The first difference, named. Pure.
Result<void> check_dropped(const ProcessStatus& s, uid_t uid, gid_t gid, CapabilityMask keep);

// [process] user and group, looked up. An empty group means the user's primary group. Root
// (uid 0) is refused: leaving `user` empty is how to stay root.
struct Identity {
  std::string user;
  std::string group;
  uid_t uid = 0;
  gid_t gid = 0;
};
Result<Identity> resolve_identity(const std::string& user, const std::string& group);

// Becomes `who` with only `keep`, drops every other capability from the bounding set and sets
// no_new_privs; then reads /proc/self/status back and checks it (check_dropped). Refuses to
// start when the process has more than one thread. An error means the caller must not go on.
Result<void> drop_privileges(const Identity& who, CapabilityMask keep);

// Reads and parses /proc/self/status.
Result<ProcessStatus> own_status();

// Gives `path` (not following a symbolic link) to uid:gid; with `recursive`, everything under
// it too. Used before the drop for the state directory.
Result<void> give_to(const std::string& path, uid_t uid, gid_t gid, bool recursive);

// The admin socket's directory, made the service user's before the drop so that the daemon can
// create its socket there: made (mode 0700) when missing; taken over when it is root's and
// closed to everyone else (mode 0700, like systemd's RuntimeDirectory); left alone when it is
// already uid's. Anything else (a shared directory such as /run or /tmp) is refused.
Result<void> give_private_directory(const std::string& dir, uid_t uid, gid_t gid);

}  // namespace tandem::process
