// GPOOL_SERVER=etcd://HOST:PORT/POOL: choosing the servers of a pool at cuInit
// (docs/architecture.md, "A pool of servers on etcd").
//
// place_in_pool() reads the pool's records from etcd (registry/etcd.h), orders them by free
// capacity (registry/placement.h) and connects in that order until it holds the devices the
// program asks for (ties between equal servers broken in a per-process random order):
// GPOOL_DEVICES=N devices, taken from as many servers as needed (each
// server's first devices), or, without GPOOL_DEVICES, every device of the best server. A server
// that is down is skipped (its error is logged); one that refuses the session as busy is
// skipped at once (Session::set_busy_final) and the next tried. Servers already full by their
// record are not tried. When the servers that are left cannot give the devices, it waits
// (backoff 200 ms to 1 s, one warning) and reads the pool again, for up to GPOOL_BUSY_WAIT_MS
// (default 10 s), then fails.
//
// Results: CUDA_SUCCESS with `sessions` (connected, attached; indices 0..) and `take[i]`, the
// number of devices of sessions[i] the program gets. Errors, each logged with the reason:
//   bad pool URL or GPOOL_DEVICES                   CUDA_ERROR_INVALID_VALUE
//   etcd unreachable, empty pool, too few devices   CUDA_ERROR_NO_DEVICE
//   every server refused the token                  CUDA_ERROR_NOT_PERMITTED
//   still full or down when the wait ends           CUDA_ERROR_DEVICE_UNAVAILABLE
// On an error no session is kept (those opened are shut down).
// Thread safety: called by Pool::init under its lock.
#pragma once

#include <cuda.h>

#include <memory>
#include <string>
#include <vector>

#include "gpool/transport/options.h"

namespace gpool::shim {

class Session;

CUresult place_in_pool(const std::string& url, const std::string& token,
                       std::vector<std::unique_ptr<Session>>& sessions, std::vector<size_t>& take,
                       const transport::TlsOptions& tls = {});

}  // namespace gpool::shim
