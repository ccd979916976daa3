// Shim: user objects (cuUserObject*, cuGraph{Retain,Release}UserObject) counted in the client
// (docs/architecture.md, "Graphs through the pool": user objects).
//
// The server never sees a user object: its destructor is a function of the program, so the
// references are counted here, per graph id and per exec id, and the graph calls report what
// happens to their graphs and execs through the hooks below. An exec's references must outlive
// the work of its launches: when an exec is destroyed or updated after launches, the references
// it gives up are held by a host function queued on each stream it was launched on (the
// host-function mechanism, hostfn.h), which drops them once the stream reaches it, after the
// launched work. Destructors run on this file's one destructor thread, never in the frame of the
// call that dropped the last reference.
//
// Thread safety: every function may be called from any thread; one mutex of user_object.cc.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpool::shim::user_objects {

// True when graph `g` holds references (a child graph node cloning it cannot carry them through
// the pool: graph.cc refuses it).
bool graph_has_refs(uint64_t g);
// cuGraphClone made `clone` from `original`: the clone owns copies of original's references.
void graph_cloned(uint64_t original, uint64_t clone);
// cuGraphDestroy: the graph's references go.
void graph_destroyed(uint64_t g);
// An exec was instantiated from `g` (copies of g's references), or updated from it (its old
// references go once its launches are done).
void exec_made(uint64_t exec, uint64_t g);
void exec_updated(uint64_t exec, uint64_t g);
// cuGraphLaunch of `exec` on `stream` was sent.
void exec_launched(uint64_t exec, CUstream stream);
// cuGraphExecDestroy: the exec's references go once its launches are done.
void exec_destroyed(uint64_t exec);

}  // namespace gpool::shim::user_objects
