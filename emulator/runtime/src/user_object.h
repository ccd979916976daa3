// User objects (cuUserObjectCreate, cuUserObjectRetain/Release) and the references to them that
// graphs own (cuGraphRetainUserObject/ReleaseUserObject).
//
// Ownership: a UserObject lives while its reference count is above zero. References are owned
// by the program (create, retain, release), by graphs (Graph::user_refs; a clone of a graph,
// including the private clone an executable graph runs, owns copies of them) and by launches of
// an executable graph (graph_exec_launch takes a snapshot of its graph's references and drops it
// in the launch's last stream task, so an object outlives the launched work that may use it).
// When the last reference goes the object leaves the handle registry at once and its destructor
// runs on the emulator's one destructor thread, never in the frame of the call (or stream task)
// that dropped the reference, as the driver runs it on an internal thread. Destructors run in
// the order their objects died; one that blocks holds up the later ones (the driver asks that
// they do not block and make no CUDA calls).
//
// Thread safety: everything here may be called from any thread; reference counts are guarded by
// one mutex of this file (taken after graph_mu(), never before).
#pragma once

#include <cuda.h>

#include <cstdint>
#include <map>

#include "runtime.h"

namespace gpool::emu::rt {

struct UserObject final : Object {
  static constexpr Kind kKind = Kind::UserObject;
  UserObject() : Object(Kind::UserObject) {}
  void* ptr = nullptr;
  CUhostFn destroy = nullptr;
  uint64_t refs = 0;  // guarded by this file's mutex
};

// Adds `n` references to `o`. False when `o` is not a live user object.
bool user_object_retain(CUuserObject o, uint64_t n);
// Drops `n` references; at zero the destructor is queued. False when `o` is not live or holds
// fewer than `n` references.
bool user_object_release(CUuserObject o, uint64_t n);

// References a graph (or a launch) owns: object -> count. Copies retain, destruction releases.
class UserRefs {
 public:
  UserRefs() = default;
  UserRefs(const UserRefs& other);
  UserRefs& operator=(const UserRefs& other);
  ~UserRefs();
  // Records `n` references to `o`; `take`: they are the caller's own, moved here (no new
  // reference). False when `o` is not a live user object.
  bool add(CUuserObject o, uint64_t n, bool take);
  // Drops `n` of the references held to `o`. False when fewer are held.
  bool remove(CUuserObject o, uint64_t n);
  // Adds a copy of every reference of `other` (retained).
  void merge(const UserRefs& other);
  bool empty() const { return held_.empty(); }

 private:
  void release_all();
  std::map<UserObject*, uint64_t> held_;
};

}  // namespace gpool::emu::rt
