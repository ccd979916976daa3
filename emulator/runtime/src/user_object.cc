// User objects and graph references to them (user_object.h): cuUserObjectCreate/Retain/Release,
// cuGraphRetainUserObject/ReleaseUserObject, and the destructor thread.
#include "user_object.h"

#include <climits>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

#include "graph.h"

namespace gpool::emu::rt {
namespace {

std::mutex& uo_mu() {
  static std::mutex* mu = new std::mutex();  // leaked: usable during exit
  return *mu;
}

// The destructor thread: started at the first user object's death, runs each queued destructor
// in order. Leaked and detached, so destructors queued at exit may not run (as with the driver,
// whose destructors are not synchronised with anything).
class Reaper {
 public:
  void push(UserObject* o) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(o);
      if (!started_) {
        started_ = true;
        std::thread([this] { run(); }).detach();
      }
    }
    cv_.notify_one();
  }

 private:
  void run() {
    for (;;) {
      UserObject* o = nullptr;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !queue_.empty(); });
        o = queue_.front();
        queue_.pop_front();
      }
      o->destroy(o->ptr);
      delete o;
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<UserObject*> queue_;
  bool started_ = false;
};

Reaper& reaper() {
  static Reaper* r = new Reaper();  // leaked: usable during exit
  return *r;
}

// REQUIRES: uo_mu held, o live with at least n references.
void drop_locked(UserObject* o, uint64_t n) {
  o->refs -= n;
  if (o->refs == 0) {
    registry().remove(o);
    reaper().push(o);
  }
}

UserObject* live_locked(CUuserObject h) { return lookup<UserObject>(h); }

}  // namespace

bool user_object_retain(CUuserObject h, uint64_t n) {
  std::lock_guard lock(uo_mu());
  UserObject* o = live_locked(h);
  if (o == nullptr) return false;
  o->refs += n;
  return true;
}

bool user_object_release(CUuserObject h, uint64_t n) {
  std::lock_guard lock(uo_mu());
  UserObject* o = live_locked(h);
  if (o == nullptr || o->refs < n) return false;
  drop_locked(o, n);
  return true;
}

UserRefs::UserRefs(const UserRefs& other) { merge(other); }

UserRefs& UserRefs::operator=(const UserRefs& other) {
  if (this == &other) return *this;
  UserRefs copy(other);  // retain the new before releasing the old (they may share objects)
  release_all();
  held_.swap(copy.held_);
  return *this;
}

UserRefs::~UserRefs() { release_all(); }

void UserRefs::release_all() {
  if (held_.empty()) return;
  std::lock_guard lock(uo_mu());
  for (const auto& [o, n] : held_) drop_locked(o, n);
  held_.clear();
}

bool UserRefs::add(CUuserObject h, uint64_t n, bool take) {
  std::lock_guard lock(uo_mu());
  UserObject* o = live_locked(h);
  if (o == nullptr) return false;
  if (take && o->refs < n) return false;  // cannot move more references than exist
  if (!take) o->refs += n;
  held_[o] += n;
  return true;
}

bool UserRefs::remove(CUuserObject h, uint64_t n) {
  std::lock_guard lock(uo_mu());
  auto it = held_.find(reinterpret_cast<UserObject*>(h));
  if (it == held_.end() || it->second < n) return false;
  UserObject* o = it->first;
  if ((it->second -= n) == 0) held_.erase(it);
  drop_locked(o, n);
  return true;
}

void UserRefs::merge(const UserRefs& other) {
  if (other.held_.empty()) return;
  std::lock_guard lock(uo_mu());
  for (const auto& [o, n] : other.held_) {
    o->refs += n;
    held_[o] += n;
  }
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

constexpr unsigned kMaxCount = INT_MAX;  // "nonzero and not larger than INT_MAX"

bool count_ok(unsigned count) { return count != 0 && count <= kMaxCount; }

}  // namespace

extern "C" CUresult gpool_impl_cuUserObjectCreate(CUuserObject* object_out, void* ptr, CUhostFn destroy,
                                                  unsigned int initialRefcount, unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (object_out == nullptr || destroy == nullptr || !count_ok(initialRefcount) ||
      flags != CU_USER_OBJECT_NO_DESTRUCTOR_SYNC) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto* o = new UserObject();
  o->ptr = ptr;
  o->destroy = destroy;
  o->refs = initialRefcount;
  registry().add(o);
  *object_out = reinterpret_cast<CUuserObject>(o);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuUserObjectRetain(CUuserObject object, unsigned int count) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  return user_object_retain(object, count) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuUserObjectRelease(CUuserObject object, unsigned int count) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  return user_object_release(object, count) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count,
                                                       unsigned int flags) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (!count_ok(count) || (flags & ~unsigned{CU_GRAPH_USER_OBJECT_MOVE}) != 0) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return g->user_refs.add(object, count, (flags & CU_GRAPH_USER_OBJECT_MOVE) != 0) ? CUDA_SUCCESS
                                                                                    : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard lock(graph_mu());
  Graph* g = lookup<Graph>(graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return g->user_refs.remove(object, count) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
