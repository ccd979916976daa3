// Client-chosen handle ids (streams, events, modules, libraries, kernels, functions, the
// allocation handles of cuMemCreate, which name the server's own handle: vmm.cc, and created
// memory pools: mempool.cc).
//
// Layout of an id: bits 63..48 the kind tag (so a stream id is never taken for an event id
// locally), bits 47..40 the index of the session (server) that created it, bits 39..0 a
// process-wide counter. Ids 0, 1 and 2 are the NULL, legacy and per-thread default streams and
// belong to every session. A handle is only valid on its own session: Session checks every
// handle it sends (CUDA_ERROR_INVALID_HANDLE otherwise), and the server checks it against the
// session's own tables anyway.
//
// Thread safety: pure functions and one atomic counter.
#pragma once

#include <cstdint>

namespace gpool::shim {

// Kind tags in the top 16 bits of a client id.
enum class IdKind : uint16_t {
  kStream = 0x5354, kEvent = 0x4556, kModule = 0x4d4f, kLibrary = 0x4c49, kKernel = 0x4b45,
  kFunction = 0x4655, kVmmHandle = 0x564d, kMemPool = 0x4d50,
};

inline constexpr uint32_t kMaxSessions = 256;

// A new id of `kind` owned by session `session` (< kMaxSessions).
uint64_t make_id(IdKind kind, uint32_t session);

inline bool id_is(uint64_t id, IdKind kind) { return (id >> 48) == static_cast<uint16_t>(kind); }

// True when `id` carries one of the kind tags above (a shim-made id, or a forgery of one).
bool id_has_kind(uint64_t id);

inline uint32_t id_session(uint64_t id) { return static_cast<uint32_t>((id >> 40) & 0xff); }

// False only for a shim-made id of another session.
inline bool id_usable_on(uint64_t id, uint32_t session) {
  return !id_has_kind(id) || id_session(id) == session;
}

}  // namespace gpool::shim
