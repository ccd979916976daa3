// The UCX entry points the ucx:// transport uses, loaded with dlopen the first time a ucx://
// connection or listener needs them (internal).
//
// Why not link UCX: loading libucp/libucs/libuct runs UCX's initialisation (configuration
// files, /proc and /sys topology, clock calibration): about 5 ms in every process, before
// main(). The client shim is loaded by every CUDA program it serves, most of which use tcp://,
// and serverless clients pay that start-up on each invocation; so the transport is built
// against UCX's headers only and the libraries are opened here, once per process.
//
// Errors: api() returns nullptr with a message naming the library or symbol that is missing
// (Debian: install libucx0) and what to do; callers turn that into kUnavailable.
// Thread safety: api() may be called from any thread; the table is constant once loaded.
#pragma once

#include <ucp/api/ucp.h>

#include <string>

namespace gpool::transport::ucx {

#define GPOOL_UCP_FUNCS(X)                                                                   \
  X(ucp_config_read) X(ucp_config_modify) X(ucp_config_release) X(ucp_init_version)         \
  X(ucp_get_version_string) X(ucp_ep_create) X(ucp_ep_close_nbx) X(ucp_request_cancel)      \
  X(ucp_request_check_status) X(ucp_request_free) X(ucp_tag_msg_recv_nbx) X(ucp_tag_probe_nb) \
  X(ucp_tag_recv_nbx) X(ucp_tag_recv_request_test) X(ucp_tag_send_nbx) X(ucp_worker_arm)    \
  X(ucp_worker_create) X(ucp_worker_destroy) X(ucp_worker_get_address) X(ucp_worker_get_efd) \
  X(ucp_worker_progress) X(ucp_worker_release_address)
#define GPOOL_UCS_FUNCS(X) X(ucs_status_string)

struct Api {
#define GPOOL_UCX_MEMBER(name) decltype(&::name) name = nullptr;
  GPOOL_UCP_FUNCS(GPOOL_UCX_MEMBER)
  GPOOL_UCS_FUNCS(GPOOL_UCX_MEMBER)
#undef GPOOL_UCX_MEMBER
};

// The loaded table, or nullptr (and `error`, when given, says why). Loads on the first call.
const Api* api(std::string* error = nullptr);

// The table. REQUIRES: api() returned non-null before (context() in ucx_worker.h checks it).
inline const Api& U() { return *api(); }

}  // namespace gpool::transport::ucx
