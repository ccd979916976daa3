#include "gpool/common/token_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace gpool::token_file {

bool read(const std::string& path, std::string& token, std::string& error, std::string& warning) {
  constexpr size_t kMax = 4096;
  warning.clear();
  // O_NONBLOCK: a FIFO or device named by mistake must not hang the caller.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    error = fmt::format("cannot read token file '{}': {}", path, std::strerror(errno));
    return false;
  }
  struct stat st{};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    error = fmt::format("token file '{}' is not a regular file", path);
    return false;
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    warning = fmt::format("token file '{}' is readable by other users (mode {:o}); chmod 600 it",
                          path, st.st_mode & 0777);
  }
  std::string text;
  char buf[1024];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMax) break;
  }
  ::close(fd);
  if (text.size() > kMax) {
    error = fmt::format("token file '{}' is longer than {} bytes; it must hold one token", path, kMax);
    return false;
  }
  const size_t eol = text.find('\n');
  std::string first = text.substr(0, eol);
  if (!first.empty() && first.back() == '\r') first.pop_back();
  if (eol != std::string::npos &&
      text.find_first_not_of("\r\n \t", eol) != std::string::npos) {
    error = fmt::format("token file '{}' has more than one line; it must hold one token", path);
    return false;
  }
  if (first.empty()) {
    error = fmt::format("token file '{}' is empty", path);
    return false;
  }
  token = std::move(first);
  return true;
}

}  // namespace gpool::token_file
