// ucx:// in a build without UCX: every entry point says so.
#include <unistd.h>

#include "ucx_transport.h"

namespace gpool::transport::ucx {
namespace {

Status unavailable() {
  return Status::make(Code::kUnavailable,
                      "this gpool was built without UCX (pkg-config found no 'ucx'; install "
                      "libucx-dev and rebuild), so ucx:// cannot be used; use tcp://");
}

}  // namespace

Status connect(const Url&, const Options&, std::unique_ptr<Connection>&) { return unavailable(); }
Status listen(const Url&, const Options&, std::unique_ptr<Listener>&) { return unavailable(); }
Status adopt(int fd, const Options&, std::unique_ptr<Connection>&) {
  if (fd >= 0) ::close(fd);
  return unavailable();
}

}  // namespace gpool::transport::ucx
