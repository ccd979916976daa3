// Worker: graph copy nodes with a host side (calls.toml CaptureHostCopy .. GraphHostCopyNodeSetParams,
// 490-496; docs/architecture.md "Graphs through the pool").
//
// The program's host buffer is in the client. In the program's graph (what node queries, clones
// and updates see) such a node is one ordinary memcpy node whose host side is a "tag" buffer of
// the worker: the tag names the copy (direction, shape, the client's host-function id for the
// buffer). The host side is dense here (width x height x depth bytes, rows in order, pitch =
// width); the client gathers or scatters its own pitched buffer. The device side is the
// program's: device memory (its whole strided extent checked against the session's allocations)
// or an array of the session. At instantiation the worker instantiates a private clone instead,
// in which each tagged node (top level or inside child graphs, at any depth) copies to or from a
// staging buffer of that exec and has a marker host node next to it (HostFnHub::Copy): before a
// host-to-device copy the marker pulls the client's bytes, after a device-to-host copy it pushes
// them, both while the stream is held at the marker. So the host buffer is read and written when
// the node runs, at every launch, in stream order. Bytes over one note's inline limit travel in
// parts (HostCopyPartToClient / HostCopyPartToServer notes before the HostFnReady / HostFnDone).
//
// Memory: tags are zeroed and never written (a large one costs address space only); tags and staging count against
// one per-session bound (kMaxTotal). Staging of destroyed execs is kept (a marker of theirs may
// still be returning) and still counts until a context synchronisation of every device the exec
// was launched on shows no marker of it can run.
//
// Owned by the Worker; worker thread only (the markers run on the backend's threads but touch
// only their own Reg and staging buffer, which live until the session ends).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <vector>

#include "gpool/transport/transport.h"

namespace gpool::server {

// The copy a host copy node makes, as the client described it (its host side dense).
struct HostCopyShape {
  bool to_device = true;  // host to device (the marker pulls) or device to host (pushes)
  CUmemorytype dev_type = CU_MEMORYTYPE_DEVICE;  // or CU_MEMORYTYPE_ARRAY
  CUdeviceptr dev = 0;
  CUarray array = nullptr;
  size_t x = 0, y = 0, z = 0, pitch = 0, height = 0;  // device side
  size_t width = 0, rows = 1, depth = 1;               // the copy
  uint64_t bytes() const { return static_cast<uint64_t>(width) * rows * depth; }
  // The node's parameters with `host` as its dense host side.
  CUDA_MEMCPY3D params(void* host) const;
};

struct HostCopyTag {
  struct Free {
    void operator()(std::byte* p) const;
  };
  HostCopyShape shape;
  uint64_t client_id = 0;  // the client's host-function id for its buffer
  // The node's host side in the program's graph: zeroed pages from calloc, never touched here.
  std::unique_ptr<std::byte[], Free> tag;
  bool to_device() const { return shape.to_device; }
  uint64_t bytes() const { return shape.bytes(); }
};

// A staging buffer of an exec (a marker's bytes) and its size.
struct HostCopyStaging {
  std::unique_ptr<std::byte[]> buf;
  uint64_t bytes = 0;
};

struct HostCopyExec {
  CUgraph clone = nullptr;  // what the exec was instantiated from (node lookups go through it)
  std::vector<HostCopyStaging> staging;  // the exec's buffers (updates add more)
  // A top-level copy node of the clone -> its marker (cuGraphExecMemcpyNodeSetParams).
  std::map<CUgraphNode, CUgraphNode> markers;
  std::set<int> launched_on;  // physical devices of the streams it was launched into
};

// The staging of a destroyed exec: kept until every device it was launched on has been
// synchronised (a marker of a launch still running writes or reads it).
struct HostCopyRetired {
  std::vector<HostCopyStaging> staging;
  std::set<int> pending;
};

struct HostCopies {
  static constexpr uint64_t kMaxTotal = 64ull << 20;       // tags and staging of a session
  std::unordered_map<const std::byte*, HostCopyTag> tags;  // tag buffer -> copy
  uint64_t total = 0;
  std::unordered_map<uint64_t, HostCopyExec> execs;        // exec id -> (only execs with copies)
  // Staging of execs already destroyed (or never used: freed at once).
  std::vector<HostCopyRetired> retired;
};

// Sends HostFnReady for a firing, with `data` (a device-to-host node's bytes) in parts:
// HostCopyPartToClient notes for all but the last part. False when the connection is gone.
bool send_host_fn_ready(transport::Connection& out, uint64_t id, uint64_t firing, bool last, CUresult status,
                        std::span<const std::byte> data);

}  // namespace gpool::server
