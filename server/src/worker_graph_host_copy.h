// Worker: graph copy nodes with a host side (calls.toml CaptureHostCopy/GraphAddHostCopyNode,
// 490-491; docs/architecture.md "Graphs through the pool").
//
// The program's host buffer is in the client. In the program's graph (what node queries, clones
// and updates see) such a node is one ordinary memcpy node whose host side is a "tag" buffer of
// the worker: the tag names the copy (direction, bytes, the client's host-function id for the
// buffer). At instantiation the worker instantiates a private clone instead, in which each tagged
// node copies to or from a staging buffer of that exec and has a marker host node next to it
// (HostFnHub::Copy): before a host-to-device copy the marker pulls the client's bytes, after a
// device-to-host copy it pushes them, both while the stream is held at the marker. So the host
// buffer is read and written when the node runs, at every launch, in stream order.
//
// Owned by the Worker; worker thread only (the markers run on the backend's threads but touch
// only their own Reg and staging buffer, which live until the session ends).
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace gpool::server {

struct HostCopyTag {
  bool to_device = true;   // host to device (the marker pulls) or device to host (pushes)
  uint64_t client_id = 0;  // the client's host-function id for its buffer
  uint64_t bytes = 0;
  std::unique_ptr<std::byte[]> tag;  // the node's host side in the program's graph
};

struct HostCopyExec {
  CUgraph clone = nullptr;  // what the exec was instantiated from (node lookups go through it)
  std::vector<std::unique_ptr<std::byte[]>> staging;  // the exec's buffers (updates add more)
};

struct HostCopies {
  static constexpr uint64_t kMaxBytes = 64 * 1024;         // one node (inline in one note)
  static constexpr uint64_t kMaxTotal = 64ull << 20;       // all tags of a session
  std::unordered_map<const std::byte*, HostCopyTag> tags;  // tag buffer -> copy
  uint64_t total = 0;
  std::unordered_map<uint64_t, HostCopyExec> execs;        // exec id -> (only execs with copies)
  // Staging of execs already destroyed: a marker of theirs may still be returning.
  std::vector<std::unique_ptr<std::byte[]>> retired;
};

}  // namespace gpool::server
