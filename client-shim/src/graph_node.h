// Shim: what graph.cc needs from graph_node.cc (the generic node API and conditional nodes).
//
// Thread safety: may be called from any thread.
#pragma once

#include <cuda.h>

namespace gpool::shim {

// True when `g` is a conditional node's body graph this process was handed. A body belongs to
// its node: cuGraphDestroy refuses it in the shim (CUDA_ERROR_INVALID_VALUE, as the driver),
// because GraphDestroy is async and the server's refusal would become the session's sticky error.
bool is_conditional_body(CUgraph g);

}  // namespace gpool::shim
