#include "session_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "gpool/common/log.h"

namespace gpool::server {

SessionTable::SessionTable(size_t capacity) : capacity_(capacity) {
  void* p = ::mmap(nullptr, capacity * sizeof(SessionSlot), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    log::logger("server").critical("mmap of the session table failed: {}", std::strerror(errno));
    throw std::bad_alloc();
  }
  slots_ = static_cast<SessionSlot*>(p);
  for (size_t i = 0; i < capacity; ++i) new (&slots_[i]) SessionSlot();
}

SessionTable::~SessionTable() { ::munmap(slots_, capacity_ * sizeof(SessionSlot)); }

int SessionTable::acquire() {
  for (size_t i = 0; i < capacity_; ++i) {
    if (slots_[i].in_use.load() == 0) {
      slots_[i].bytes_held = 0;
      slots_[i].allocations = 0;
      slots_[i].calls = 0;
      slots_[i].replies = 0;
      slots_[i].bytes_in = 0;
      slots_[i].bytes_out = 0;
      slots_[i].errors = 0;
      slots_[i].warm = 0;
      slots_[i].tenant = -1;
      for (auto& b : slots_[i].dev_bytes) b = 0;
      slots_[i].image_bytes = 0;
      slots_[i].heartbeat_ns = 0;
      slots_[i].phase = kPhaseIdle;
      slots_[i].kernel_since_ns = 0;
      slots_[i].in_use = 1;
      return static_cast<int>(i);
    }
  }
  return -1;
}

void SessionTable::release(int index) {
  if (tenants_ != nullptr) settle_session(*tenants_, slots_[index]);
  slots_[index].bytes_held = 0;
  slots_[index].allocations = 0;
  slots_[index].tenant = -1;
  for (auto& b : slots_[index].dev_bytes) b = 0;
  slots_[index].image_bytes = 0;
  slots_[index].in_use = 0;
}

}  // namespace gpool::server
