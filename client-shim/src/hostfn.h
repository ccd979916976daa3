// Shim: host functions without blocking (cuLaunchHostFunc, cuStreamAddCallback, graph host
// nodes; calls.toml 365-371, server/src/worker_hostfn.h).
//
// The program's function pointer and data stay here, under an id the server knows them by.
// The call returns at once (LaunchHostFunc is async and flushed: the server must see it now,
// not with the next sync call); the server holds the stream at that point and, when the
// stream reaches it, sends HostFnReady. The session's side thread (Session::start_host_fns)
// or a sync call that happens to be receiving hands the note to ready(), which queues it for
// the process's one host-function thread: that thread runs the functions one at a time, in
// the order their notes came (so two host functions of one stream run in stream order), and
// answers HostFnDone after each, which lets the server's stream go on.
//
// A host function must not call CUDA (the driver's rule): every forwarded call made on the
// host-function thread returns CUDA_ERROR_NOT_PERMITTED without being sent (Session), since
// the call could wait for the very stream the function holds. Calls the shim answers locally
// (device queries, the current context) still work.
//
// Thread safety: every function may be called from any thread.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace gpool::shim {
class Session;
}
namespace gpool::shim::hostcopy {
struct HostSide;  // graph_host_copy.h
}

namespace gpool::shim::hostfn {

// True on the host-function thread while it runs a program's function.
bool on_host_fn_thread();

// True once the process has registered any host function, stream callback or host node
// (one relaxed load): a graph launch is then sent at once instead of with the next sync call.
bool any_registered();

// The server reached host function `id` (firing `firing`); `last`: the id is then released;
// `status`: what a stream callback is given (the stream's error, from the server's driver);
// `data`: a device-to-host copy node's bytes (graph_host_copy.h). Queues the function; never
// blocks on the network.
void ready(Session& s, uint64_t id, uint64_t firing, bool last, CUresult status,
           std::span<const std::byte> data = {});

// A graph copy node's host side (graph_host_copy.h), registered under a new id: when the
// server fires it, the host-function thread runs hostcopy::serve (sends the bytes, or writes
// the bytes HostFnReady and the HostCopyPartToClient notes before it carried).
uint64_t add_copy(std::shared_ptr<const hostcopy::HostSide> side);
void forget_copy(uint64_t id);
// The host side registered under `id` by add_copy, or null.
std::shared_ptr<const hostcopy::HostSide> copy_side(uint64_t id);

// A part (not the last) of a device-to-host copy node's bytes for `firing`
// (HostCopyPartToClient): kept until the firing's HostFnReady brings the rest.
void part(uint64_t firing, uint64_t offset, std::span<const std::byte> data);

}  // namespace gpool::shim::hostfn
