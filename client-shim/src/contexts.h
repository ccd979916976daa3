// Client-side contexts: one primary context per device and the contexts made by cuCtxCreate,
// plus each thread's current-context stack. Contexts exist only in the client: on the server,
// every context of a device is the session's one context of that device (the worker switches
// devices when the shim sends SetDevice), so a created context shares memory, modules and
// streams with the device's primary context (docs/architecture.md, "Client shim").
//
// A CUcontext handed to the application points at a Context record. Primary contexts live in a
// fixed table (kMaxDevices entries; stable for the process lifetime, as cudart requires of
// primary-context handles). Created contexts are heap records, valid until cuCtxDestroy.
//
// Thread safety: every function may be called from any thread; the stack is per thread.
#pragma once

#include <cuda.h>

#include <cstdint>

namespace gpool::shim {

inline constexpr int kMaxDevices = 256;  // devices across all servers

// The primary-context handle of global device ordinal `dev` (0 <= dev < kMaxDevices), whether
// or not it is retained.
CUcontext primary_context(int dev);
// The primary context of the calling thread's current device (device 0 without a context).
CUcontext primary_context();

// The device of a live context, or -1 for NULL, a destroyed or an unknown handle.
int context_device(CUcontext ctx);
bool is_primary(CUcontext ctx);
unsigned context_flags(CUcontext ctx);
bool set_context_flags(CUcontext ctx, unsigned flags);
unsigned long long context_id(CUcontext ctx);

// Primary-context retain counts and flags of a device. REQUIRES: 0 <= dev < kMaxDevices.
int primary_retain(int dev);             // returns the new count
int primary_release(int dev);            // the new count, or -1 when it was not retained
int primary_retains(int dev);
void primary_reset(int dev);             // count and flags back to 0
void primary_set_flags(int dev, unsigned flags);

// A new created context on `dev` (not made current).
CUcontext create_context(int dev, unsigned flags);
// Forgets a created context and pops it from the calling thread's stack wherever it appears
// there. Returns false for a primary, unknown or already destroyed context.
bool destroy_context(CUcontext ctx);

// The calling thread's stack.
CUcontext current_context();               // top, or NULL
bool push_context(CUcontext ctx);          // REQUIRES: ctx is live; false when the stack is full (64)
CUcontext pop_context();                   // NULL when empty
void set_current_context(CUcontext ctx);   // replaces the top (NULL pops it)

// The global device ordinal calls of this thread are routed to: the device of a ScopedDevice
// if one is active, else that of the current context, else -1.
int current_device();

// Routes this thread's calls to device `dev` while it lives (e.g. to synchronise a device whose
// context is not current). Nestable.
class ScopedDevice {
 public:
  explicit ScopedDevice(int dev);
  ~ScopedDevice();
  ScopedDevice(const ScopedDevice&) = delete;
  ScopedDevice& operator=(const ScopedDevice&) = delete;

 private:
  int saved_;
};

// Tests only: destroys every created context, zeroes the primary contexts and empties the
// calling thread's stack.
void reset_contexts_for_testing();

}  // namespace gpool::shim
