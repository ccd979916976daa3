// Prometheus metrics and the per-tenant figures of the status endpoint, from the shared tables.
//
// Served by a child process of the supervisor (start_metrics_process): the supervisor forks
// workers, so it must never run a thread; the child serves HTTP from one poll loop
// (metrics_http.h: idle clients cost a descriptor, never a thread) and never forks. It reads only shared memory (TenantTable, SessionTable, PoolStats),
// so every figure is live without any message from the supervisor.
//
// Series (docs/operations.md, "Metrics"), all prefixed gpool_:
//   tenant_sessions{tenant}                     gauge    sessions open now
//   tenant_calls_total{tenant}                  counter  calls executed
//   tenant_bytes_in_total{tenant}               counter  bulk bytes received with calls
//   tenant_bytes_out_total{tenant}              counter  bulk bytes sent with replies
//   tenant_errors_total{tenant}                 counter  calls that returned an error
//   tenant_oom_refusals_total{tenant}           counter  allocations refused by the quota
//   tenant_image_upload_bytes_total{tenant}     counter  module image bytes sent by clients
//   tenant_public_image_loads_total{tenant}     counter  images served from the public index
//   tenant_memory_held_bytes{tenant,device}     gauge    device memory held now
//   tenant_memory_quota_bytes{tenant,device}    gauge    memory quota (0 = unlimited)
//   tenant_device_time_seconds_total{tenant,device} counter device time used
//   sessions                                    gauge    sessions open now, all tenants
//   pool_warm_target / pool_warm_alive / pool_warm_ready   gauges
//   pool_sessions_total{start="warm"|"cold"}    counter  how sessions were started
//   pool_failures_total                         counter  pool workers that died unused
//   auth_failures_total, preauth_refused_total{reason}, preauth_timeouts_total,
//   preauth_errors_total (counters), preauth_pending (gauge): handshakes (preauth.h)
// Devices are 0 .. n-1 where n is the device count a worker reported (1 before any did).
//
// Thread safety: the format functions only read atomics. Errors: start_metrics_process returns
// -1 with `error` (bad address, port in use, fork failure).
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "preauth.h"
#include "session_table.h"
#include "tenant_table.h"
#include "worker_pool.h"

namespace gpool::server {

struct MetricsSources {
  const TenantTable* tenants = nullptr;
  SessionTable* sessions = nullptr;
  const PoolStats* pool = nullptr;
  const PreauthStats* preauth = nullptr;  // optional
};

// The Prometheus text exposition (format 0.0.4) of everything above.
std::string format_metrics(const MetricsSources& src);

// `s` as a JSON string literal, quotes included (", \\ and control characters escaped).
std::string json_string(std::string_view s);

// JSON of the tenant table for the status endpoint: [{"name","sessions","calls","bytes_in",
// "bytes_out","errors","oom_refusals","devices":[{"device","bytes_held","quota_bytes",
// "device_time_s"}]}]; `device_count` 0 is shown as 1. A non-empty `only_tenant` shows only that
// tenant (a non-admin's own status).
std::string tenants_json(const TenantTable& tenants, uint32_t device_count,
                         std::string_view only_tenant = {});
// {"target","alive","ready","warm_sessions","cold_sessions","failures","device_count"}.
std::string pool_json(const PoolStats& pool);

// Splits "host:port" or "[v6]:port". False when malformed or the port is not 0..65535.
bool parse_host_port(const std::string& text, std::string& host, int& port);

// Forks the metrics process listening on `listen` ("host:port"; port 0 picks one). The child
// runs `child_setup()` first (to close the supervisor's sockets), binds, reports back, and
// serves GET /metrics until killed (it dies with the supervisor). Returns the child's pid and
// the bound "host:port" in `bound`, or -1 with `error` once the child reported a failure.
pid_t start_metrics_process(const std::string& listen, const MetricsSources& src,
                            const std::function<void()>& child_setup, std::string& bound,
                            std::string& error);

}  // namespace gpool::server
