// Shim: managed memory (cuMemAllocManaged) with the semantics of a device whose
// CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS is 0: the host and the device never use the
// memory at the same time, and the shim keeps the two copies coherent at call boundaries.
//
// Each allocation has a server address D (calls.toml MemAllocManaged: page-aligned, pages of its
// own) and a host copy mapped at exactly [D, D + bytes rounded up to pages) in this process, so
// the program uses one value on the host and in kernels.
//   - Clean pages are PROT_READ. A write faults; the SIGSEGV handler (installed once, chaining
//     to the previous handler for every other fault) marks the page dirty and makes it
//     read-write. The handler only uses atomics, a fixed table published with atomics, and
//     mprotect (async-signal-safe).
//   - Before a session forwards any call, the dirty pages of its allocations go to the server as
//     H2D copies ordered before that call, and become PROT_READ again (Session::managed_before_locked).
//   - After a sync call of a session that follows device work (a launch, copy or memset since
//     the last pull; stream and event queries excepted), the context is synchronised and every
//     managed allocation of the session is copied back to the host (Session::
//     managed_after_locked): O(managed bytes) per such synchronisation.
//   - From a kernel launch until the next pull, every allocation of the session that the launch
//     may use is PROT_NONE (lock_out; cuStreamAttachMemAsync narrows which: host-attached
//     memory stays accessible, memory attached to one stream is locked by its launches only): a device without concurrent managed access makes managed memory
//     inaccessible to the host while kernels may run, and a program that touches it then gets
//     SIGSEGV (after a line on stderr saying why) instead of a silently lost update (the next
//     push would overwrite the kernel's writes, or the pull the host's). A stream or event
//     query does not pull, so the pages stay locked until a synchronisation.
// System calls that write into clean managed pages (read(2) into them) fail with EFAULT.
//
// Three kinds of entry share the mechanism (docs/architecture.md "Managed memory"):
//   - allocations (cuMemAllocManaged, cuMemHostAlloc with DEVICEMAP; add()): the server's
//     address is page-aligned on pages of its own, and the host copy is a mapping of the shim's
//     at the same address;
//   - __managed__ variables of libraries (cuLibraryGetManaged; add_variable()): a module global
//     on the server, at any alignment, sharing its first and last page with other globals. The
//     host copy is mapped at the same address, page by page, a page shared by several variables
//     mapped once (and unmapped with the last of them); pushes and pulls move exactly the
//     variable's bytes, never the neighbours' (which the host copy does not hold);
//   - registered host memory (cuMemHostRegister with DEVICEMAP; add_registered()): the program's
//     own bytes at H, an arbitrary, possibly unaligned range, mirrored into a server allocation
//     D (the device pointer). Only the pages wholly inside [H, H + bytes) are protected and
//     locked out (the partial first and last page may hold the program's other data); the bytes
//     on those partial pages are compared with a shadow copy at every call boundary and pushed
//     when the host changed them. A host access to them while kernels run is not made to fault.
//
// Ownership: a process-wide table, never destroyed. Thread safety: every function may be called
// from any thread; table changes and page protection changes are serialised on one mutex.
#pragma once

#include <cuda.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace gpool::shim::managed {

// The managed allocation or __managed__ variable containing p (a device address, which is also
// the host address of its copy): its base, requested size and session. False if none.
// Registered host memory is not found here (find_registered()). `allocation`: false for a
// variable (which cuMemFree, prefetch, advice and attachment do not accept).
bool find(uintptr_t p, uintptr_t* base, size_t* bytes, uint32_t* session = nullptr,
          bool* allocation = nullptr);

// Whether a session has managed allocations (one atomic load: the cost every call pays).
bool any(uint32_t session);

// Installs the SIGSEGV handler once. False (logged, with what to do) when it cannot be
// installed or another runtime keeps it from taking effect (ASan without
// allow_user_segv_handler=1).
bool install_handler();

// Maps the host copy at [base, base + bytes rounded up) and records it (all pages clean).
// CUDA_ERROR_OUT_OF_MEMORY (logged) when that range is taken in this process or the table is
// full; nothing is recorded then.
CUresult add(uint32_t session, uintptr_t base, size_t bytes);

// A library's __managed__ variable at server address `dev` (any alignment): maps every page of
// [dev, dev + bytes) that no other variable's copy maps yet (MAP_FIXED_NOREPLACE, PROT_READ) and
// records it with `library` (the client's library id, for remove_library()). The host copy's
// bytes are not fetched here: the caller pulls them (pull_one()). Already recorded (the same
// variable asked for again): CUDA_SUCCESS, `added` false. A page taken by anything else in
// this process, or a full table: CUDA_ERROR_OUT_OF_MEMORY (logged), nothing recorded or mapped.
CUresult add_variable(uint32_t session, uintptr_t dev, size_t bytes, uint64_t library, bool* added);
// Forgets every variable of `library` and unmaps the pages no other variable shares.
void remove_library(uint64_t library);

// Registered host memory: the program's range [host, host + bytes) mirrored into the server
// allocation `dev`. The first push sends all of it (the device copy starts empty); from then on
// whole pages inside the range are tracked like managed pages and the partial end pages by
// comparison (see above). CUDA_ERROR_OUT_OF_MEMORY (logged) when the table is full.
CUresult add_registered(uint32_t session, uintptr_t host, size_t bytes, uintptr_t dev);
// Forgets the registration starting at `host` and gives the program its pages back read-write;
// `dev` (may be null) gets the server allocation to free. False if none starts there.
bool remove_registered(uintptr_t host, uintptr_t* dev);
// The device address of [p, p + n) when it lies inside one registered range, and its session.
bool find_registered(uintptr_t p, size_t n, uintptr_t* dev, uint32_t* session = nullptr);

// Forgets the entry whose device address is `base` (an allocation, a variable or a
// registration) and unmaps what the shim mapped for it. False if none starts there.
bool remove(uintptr_t base);

// For the session's use under its own lock. `send(dst, host, bytes)` forwards an H2D copy of the
// dirty run (dst the device address, host where its bytes are); pages go PROT_READ before it is
// called. Stops at the first error and returns it.
CUresult push_dirty(uint32_t session,
                    const std::function<CUresult(uintptr_t, const void*, size_t)>& send);
// Makes every entry of the session writable, calls `fetch(dev, host, bytes)` (D2H into the host
// copy), then makes it PROT_READ and clean. Returns the first error (after restoring protection).
// pull_all() also ends a lock_out().
CUresult pull_all(uint32_t session, const std::function<CUresult(uintptr_t, void*, size_t)>& fetch);
// pull_all() for the one entry whose device address is `dev` (a variable just added).
CUresult pull_one(uintptr_t dev, const std::function<CUresult(uintptr_t, void*, size_t)>& fetch);

// After a launch on `stream` (the client's stream id): every allocation of the session that
// the launch may use becomes PROT_NONE until the next pull_all() or unlock(); a host access in
// between faults (see above). Which ones: those attached globally (the default), and those
// attached to `stream` alone; host-attached ones stay accessible (attach()).
void lock_out(uint32_t session, uint64_t stream);

// cuStreamAttachMemAsync: records the association of the session's allocation starting at
// `base` (flags CU_MEM_ATTACH_GLOBAL, _HOST or _SINGLE with the client's stream id). It takes
// effect at once, not in stream order: a launch already locked keeps its lock until the next
// pull. CUDA_ERROR_INVALID_VALUE if no allocation of the session starts at `base` or `length`
// is neither 0 nor its size.
CUresult attach(uint32_t session, uintptr_t base, size_t length, unsigned flags, uint64_t stream);
// Ends a lock_out() without pulling (the device copies cannot be fetched: a sticky context
// error); the pages become PROT_READ with the host's last contents.
void unlock(uint32_t session);

}  // namespace gpool::shim::managed
