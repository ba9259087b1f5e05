#include "node/profile/profile_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tandem::profile {

Result<std::shared_ptr<const XmlProfile>> load_profile_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("cannot read " + path + ": " + std::strerror(errno));
  std::string bytes;
  char buf[8192];
  // One byte past the limit is enough to know the file is too large: never read more.
  while (bytes.size() <= kMaxProfileBytes) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string why = std::strerror(errno);
      ::close(fd);
      return fail("cannot read " + path + ": " + why);
    }
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (bytes.size() > kMaxProfileBytes)
    return fail(path + ": larger than the profile limit of " + std::to_string(kMaxProfileBytes) +
                " bytes");
  auto summary = check_profile(bytes);
  if (!summary) return fail(path + ": " + summary.error());
  auto p = std::make_shared<XmlProfile>();
  p->path = path;
  p->sha1 = sha1_hex(bytes);
  p->bytes = std::move(bytes);
  p->summary = std::move(*summary);
  if (p->sha1.size() != 40) return fail(path + ": SHA-1 not available from OpenSSL");
  return std::shared_ptr<const XmlProfile>(std::move(p));
}

}  // namespace tandem::profile
