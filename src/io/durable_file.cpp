// Crash-safe file publication; see durable_file.h.
#include "io/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "runtime/error.h"

namespace acerl::io {
namespace {

[[noreturn]] void fail(const char* what, const std::string& path, int error) {
  throw Error(str(what, " '", path, "' failed: ", std::strerror(error)));
}

void fsync_open(const std::string& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) fail("open", path, errno);
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("fsync", path, error);
  }
  if (::close(fd) != 0) fail("close", path, errno);
}

}  // namespace

void fsync_file(const std::string& path) { fsync_open(path, O_RDONLY); }

void fsync_dir(const std::string& dir) {
  fsync_open(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
}

void rename_durably(const std::string& from, const std::string& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) fail("rename to", to, errno);
  fsync_dir(std::filesystem::path(to).parent_path().string());
}

void replace_file_durably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail("create", tmp, errno);
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      fail("write", tmp, error);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    fail("fsync", tmp, error);
  }
  if (::close(fd) != 0) fail("close", tmp, errno);
  rename_durably(tmp, path);
}

}  // namespace acerl::io
