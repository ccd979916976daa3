// A session worker: the process that serves one client session after the supervisor has
// authenticated it (one worker per session, ARCHITECTURE.md decision 7).
//
// The worker loads the driver backend, retains the primary context of every device, then
// executes the client's calls in the order they arrive (gpool.fbs, "Ordering and errors";
// calls.toml for each call). It is the session: it owns the connection, the backend, the
// session's devices, the sticky error, the staging ring and the launch meter, and the session's
// tables, one small class per kind of object, each with its own contract:
//   quota_     the tenant's quota and the session's held bytes          (quota.h)
//   allocs_    allocations, module globals, the range check              (allocation_table.h)
//   streams_   streams and events                                        (stream_table.h)
//   modules_   modules, libraries, functions/kernels, globals' charges   (module_table.h)
//   vmm_       reservations, physical handles, mappings                  (vmm_table.h)
//   pools_     memory pools                                              (pool_table.h)
//   graphs_    graphs, graph nodes, executable graphs                    (graph_table.h)
//   arrays_    arrays, mipmapped arrays, texture and surface objects     (array_table.h)
//   links_     JIT link states (worker_link.cc)
// Handlers (worker_*.cc) check every handle and every pointer range of a copy, memset or free
// against them before the driver is asked, so a forged id or an address outside the session gets
// CUDA_ERROR_INVALID_HANDLE / CUDA_ERROR_INVALID_VALUE and never reaches the driver; the helpers
// below (range_ok, charge, stream_of, graph_of, ...) forward to the tables. Async calls that
// fail set the sticky error reported in the next Reply. Device printf and assert output (the
// backend's stdout and stderr, captured in memory files) is sent to the client before each Reply.
//
// A malformed frame, an Abort or a lost connection ends the worker; everything the session
// held goes with the process. Ownership: the worker owns the connection it is given and its
// tables. Thread safety: single-threaded.
#pragma once

#include <cuda.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "allocation_table.h"
#include "array_table.h"
#include "backend.h"
#include "gpool/remote/call_codec.h"
#include "gpool/transport/receive_handoff.h"
#include "gpool/transport/transport.h"
#include "graph_table.h"
#include "worker_graph_host_copy.h"
#include "image_cache.h"
#include "launch_meter.h"
#include "module_table.h"
#include "pool_table.h"
#include "quota.h"
#include "session_table.h"
#include "staging_ring.h"
#include "stream_table.h"
#include "tenant_table.h"
#include "vmm_table.h"

namespace gpool::server {

class Scheduler;
class PublicImageIndex;
class HostFnHub;
class WorkerConnection;

struct WorkerParams {
  std::string backend_path;
  std::string image_cache_dir;
  uint64_t image_cache_max_bytes = uint64_t{4} << 30;
  uint64_t session_id = 0;
  std::string tenant;
  int tenant_index = -1;            // the tenant's slot in *tenants (-1: no quota accounting)
  TenantTable* tenants = nullptr;   // shared tenant table (tenant_table.h); owned by the supervisor
  Scheduler* scheduler = nullptr;  // compute shares and device masks (scheduler.h); supervisor's
  const PublicImageIndex* public_images = nullptr;  // shared index (public_images.h), or none
};

// The expensive part of a worker's start: the backend dlopened, cuInit, the primary context of
// every device retained and device 0's made current. The worker pool (worker_pool.h) does it
// before the session is known; a cold start does it right before serving.
struct Attachment {
  Driver drv;
  std::vector<CUcontext> contexts;  // index = device ordinal
  bool ok = false;
  std::string error;  // why not ok, for the log and the client's Abort
};
void attach_backend(const std::string& backend_path, Attachment& out);

// Runs the session to its end; returns the process exit code (0 = client left normally).
// With `attached` (ok or not) the backend is not attached again; without it, run() attaches.
int run_worker(std::unique_ptr<transport::Connection> conn, const WorkerParams& params,
               SessionSlot& slot, Attachment* attached = nullptr);

class Worker {
 public:
  Worker(std::unique_ptr<transport::Connection> conn, const WorkerParams& params,
         SessionSlot& slot, Attachment* attached = nullptr);
  int run();

 private:
  int run_session();
  // The call being executed and what its reply will carry.
  struct Ctx {
    const protocol::wire::Call* call = nullptr;
    remote::Op op = remote::Op::Invalid;
    std::vector<uint64_t> results;
    std::vector<std::byte> inline_out;
    std::vector<transport::ConstBytes> segments_out;
    std::span<const uint64_t> segments;  // the call's segment lengths (its FrameHead), none read yet
    bool fatal = false;  // the connection broke while reading the call's segments
    uint64_t bytes_sent = 0;  // bulk bytes sent before the Reply (D2H chunk notes), for counters

    uint64_t arg(size_t i) const;
    size_t arg_count() const;
    std::span<const uint64_t> args() const;  // the whole args[] (empty when absent)
    size_t handle_count() const;
    uint64_t handle_id(size_t i) const;
    remote::HandleKind handle_kind(size_t i) const;
    std::string_view inline_text() const;
    std::span<const std::byte> inline_bytes() const;  // inline_data (empty when absent)
  };

  using Function = ModuleTable::Function;

  bool attach_backend(std::string& error);
  void redirect_logs();
  void capture_output();
  void count_call(const transport::FrameHead& head, const Ctx& c, CUresult st);
  bool send_output();
  bool handle_call(const protocol::wire::Call* call, const transport::FrameHead& head);
  // Generated from the call table (calls_server.cc): runs the row's hook or generated handler;
  // `known` = false for an opcode no row serves here.
  CUresult dispatch(Ctx& c, bool& known);
  // The generated pass-through handlers, gen_<row name>(Ctx&).
#include "calls_worker_decls.inc"

  // worker.cc
  CUresult op_attach(Ctx& c);
  CUresult op_goodbye(Ctx& c);
  // worker_device.cc: the session's visible devices (client ordinal = index into devices_).
  struct VisibleDevice {
    int physical = 0;  // the backend's ordinal (scheduler and quota index)
    CUdevice dev = 0;
    CUcontext ctx = nullptr;  // its retained primary context
  };
  // Makes the current device `index` for the life of the scope, then restores the previous one.
  class DeviceScope {
   public:
    DeviceScope(Worker& w, size_t index);
    ~DeviceScope();
    DeviceScope(const DeviceScope&) = delete;
    DeviceScope& operator=(const DeviceScope&) = delete;
    CUresult status = CUDA_SUCCESS;  // of the switch

   private:
    Worker& w_;
    size_t saved_;
  };
  bool open_devices(const std::vector<CUcontext>& contexts, std::string& error);
  CUresult use_device(size_t index);
  CUresult op_set_device(Ctx& c);
  // The backend device of session ordinal `index` (a "device" parameter of a generated row);
  // CUDA_ERROR_INVALID_DEVICE when the session has no such device.
  CUresult device_at(uint64_t index, CUdevice& out) const;
  size_t device_of(CUstream s) const;  // the device a created stream belongs to, else current
  size_t device_of(CUevent e) const;
  int current_physical() const { return devices_.empty() ? 0 : devices_[current_].physical; }
  // worker_memory.cc
  CUresult op_mem_alloc(Ctx& c);
  CUresult op_mem_free(Ctx& c);
  CUresult op_mem_get_info(Ctx& c);
  CUresult op_memcpy_htod(Ctx& c);
  // The rest of an H2D copy whose next staging slot waits for a held stream (worker_copy.cc).
  CUresult htod_spill(Ctx& c, CUdeviceptr dst, uint64_t bytes, CUstream stream, bool sync_api);
  uint64_t spill_budget();  // GPOOL_COPY_SPILL, read once
  uint64_t spill_budget_ = UINT64_MAX;  // UINT64_MAX: not read yet
  uint64_t spill_tag_ = 0;              // the hold tag spill_used_ counts for
  uint64_t spill_used_ = 0;             // bytes spilled under spill_tag_
  CUresult op_memcpy_dtoh(Ctx& c);
  CUresult dtoh_chunked(Ctx& c, CUdeviceptr src, uint64_t bytes, CUstream stream);
  CUresult op_memcpy_dtod(Ctx& c);
  CUresult op_memset(Ctx& c);
  // [p, p + bytes) inside one allocation, module global or accessible VMM mapping of the session.
  bool range_ok(CUdeviceptr p, uint64_t bytes) const;
  // worker_memory.cc: allocation paths beyond cuMemAlloc and the tenant's quota (tenant_table.h)
  CUresult op_mem_alloc_pitch(Ctx& c);
  CUresult op_mem_alloc_async(Ctx& c);
  CUresult op_mem_free_async(Ctx& c);
  CUresult op_mem_alloc_managed(Ctx& c);  // page-aligned, padded when the driver's is not
  int current_device();                              // physical ordinal of the current context
  // quota_.charge(), and when that fails, reclaim_frees() and one more try; false (logged):
  // over the tenant's quota.
  bool charge(int device, uint64_t bytes);
  void uncharge(int device, uint64_t bytes) { quota_.uncharge(device, bytes); }
  void record_allocation(CUdeviceptr p, uint64_t bytes, int device) { allocs_.record(p, bytes, device); }
  // Charges `bytes` on `device`, lets `alloc` ask the driver, records the allocation and answers
  // its address (results[0]); the charge is returned when the driver fails.
  // CUDA_ERROR_OUT_OF_MEMORY over the quota, before the driver is asked.
  CUresult alloc_charged(Ctx& c, int device, uint64_t bytes,
                         const std::function<CUresult(CUdeviceptr&)>& alloc);
  // Removes allocation `p` from the session's table (allocation_table.h). With `keep_charge`
  // (a stream-ordered free) its bytes stay charged to the tenant until settle_frees(): a pool
  // gives freed memory back to the device only at the next synchronization, so the quota is
  // returned then, never while the driver may still hold the memory.
  void forget_allocation(CUdeviceptr p, bool keep_charge = false) { allocs_.forget(p, keep_charge); }
  // Returns the charge of the stream-ordered frees on physical device `device` (after a
  // synchronization of that device).
  void settle_frees(int device) {
    // Graph memory freed since is kept by the driver's graph allocator until trimmed: give it
    // back before the quota forgets it (worker_graph_mem.cc).
    if (graph_mem_seen_ && allocs_.freeing(device) != 0) drv_.cuDeviceGraphMemTrim(device);
    allocs_.settle(device);
  }
  // When an allocation on `device` does not fit: if stream-ordered frees are still charged
  // there, synchronizes that device (so its pools give the memory back) and settles them.
  // True when anything was settled (the caller retries the charge).
  bool reclaim_frees(int device);
  uint64_t tenant_total(int device, uint64_t physical_total) const {  // min(quota, physical)
    return quota_.tenant_total(device, physical_total);
  }
  // worker_vmm.cc: virtual memory management on the session's own tables
  CUresult op_mem_granularity(Ctx& c);
  CUresult op_mem_address_reserve(Ctx& c);
  CUresult op_mem_address_free(Ctx& c);
  CUresult op_mem_create(Ctx& c);
  CUresult op_mem_release(Ctx& c);
  CUresult op_mem_map(Ctx& c);
  CUresult op_mem_unmap(Ctx& c);
  CUresult op_mem_set_access(Ctx& c);
  CUresult op_mem_get_access(Ctx& c);
  bool vmm_device(uint64_t index, CUmemLocation& out) const;  // session ordinal -> location
  bool vmm_range_ok(CUdeviceptr p, uint64_t bytes) const { return vmm_.accessible(p, bytes); }
  // worker_mempool.cc: memory pools (created ones, and the devices' default pools as ids 1 + d)
  using MemPool = PoolTable::Pool;
  CUresult op_mem_pool_create(Ctx& c);
  CUresult op_mem_pool_destroy(Ctx& c);
  CUresult op_mem_pool_attribute(Ctx& c, bool set);
  CUresult op_mem_pool_trim(Ctx& c);
  CUresult op_mem_alloc_from_pool(Ctx& c);
  CUresult op_mem_pool_set_access(Ctx& c);
  CUresult op_mem_pool_get_access(Ctx& c);
  CUresult op_device_set_mem_pool(Ctx& c);
  MemPool* pool_of(uint64_t id);  // this session's pool with client id `id`, or nullptr (logged)
  // worker_link.cc: JIT options on the wire (jit_wire.h) turned into a backend option array with
  // server-owned log buffers, and the answer (logs, wall time, threads) encoded into the reply.
  struct JitCall {
    std::vector<CUjit_option> options;
    std::vector<void*> values;
    std::vector<char> info, error;
    int info_slot = -1, error_slot = -1, wall_slot = -1, threads_slot = -1;  // index into values
    // Reads `count` (option, value) pairs; `pairs` must hold exactly 2 x count words.
    CUresult decode(uint64_t count, std::span<const uint64_t> pairs);
    void encode(Ctx& c) const;  // appends the jit_wire.h answer to c.results / c.inline_out
  };
  struct LinkSession {
    CUlinkState state = nullptr;
    JitCall jit;                    // options and the log buffers the driver writes into
    uint64_t inputs = 0;
    std::vector<std::byte> image;   // LinkComplete's output, until LinkFetch / LinkDestroy
  };
  LinkSession* link_of(uint64_t id);  // a live link of this session, else nullptr
  CUresult op_link_create(Ctx& c);
  CUresult op_link_add(Ctx& c);
  CUresult op_link_complete(Ctx& c);
  CUresult op_link_fetch(Ctx& c);
  CUresult op_link_destroy(Ctx& c);
  std::map<uint64_t, std::unique_ptr<LinkSession>> links_;  // client link id -> state
  // worker_module.cc
  CUresult op_load(Ctx& c, bool library);
  CUresult op_unload(Ctx& c, bool library);
  CUresult op_get_function(Ctx& c, bool library);
  CUresult op_get_global(Ctx& c, bool library, bool managed = false);
  CUresult op_func_attribute(Ctx& c, bool set);
  CUresult op_launch(Ctx& c);
  CUresult op_occupancy(Ctx& c);
  Function* function_of(const Ctx& c, size_t i);
  // worker_stream.cc
  CUresult op_stream_create(Ctx& c);
  CUresult op_stream_destroy(Ctx& c);
  CUresult op_stream_sync(Ctx& c, bool query);
  CUresult op_stream_wait_event(Ctx& c);
  CUresult op_event_create(Ctx& c);
  CUresult op_event_destroy(Ctx& c);
  CUresult op_event_record(Ctx& c);
  CUresult op_event_sync(Ctx& c, bool query);
  CUresult op_event_elapsed(Ctx& c);
  CUresult op_ctx_synchronize(Ctx& c);  // and settle the stream-ordered frees of its device
  // worker_reset.cc: cuDevicePrimaryCtxReset of one of the session's devices (calls.toml
  // DeviceReset): the session's objects on it leave its tables, its allocations' quota is
  // returned, and the backend context is reset (which clears its sticky error).
  CUresult op_device_reset(Ctx& c);
  // worker_module_enum.cc: the kernel names of a module or library (calls.toml ModuleEnumerate)
  CUresult op_module_enumerate(Ctx& c);
  // worker_occupancy_cluster.cc: cuOccupancyMaxActiveClusters / MaxPotentialClusterSize
  CUresult op_occupancy_cluster(Ctx& c);
  CUresult stream_of(const Ctx& c, size_t i, CUstream& out) const;
  // worker_texture.cc: arrays, mipmapped arrays, texture and surface objects (calls 430-439)
  CUresult op_array_create(Ctx& c);
  CUresult op_array_destroy(Ctx& c);
  CUresult op_mipmapped_create(Ctx& c);
  CUresult op_mipmapped_get_level(Ctx& c);
  CUresult op_mipmapped_destroy(Ctx& c);
  CUresult op_memcpy_array(Ctx& c);
  CUresult op_tex_object_create(Ctx& c);
  CUresult op_tex_object_destroy(Ctx& c);
  CUresult op_surf_object_create(Ctx& c);
  CUresult op_surf_object_destroy(Ctx& c);
  // worker_texture.cc: memory requirements and sparse properties (calls 460-463)
  CUresult op_array_mem_requirements(Ctx& c);
  CUresult op_mipmapped_mem_requirements(Ctx& c);
  CUresult op_array_sparse_properties(Ctx& c);
  CUresult op_mipmapped_sparse_properties(Ctx& c);
  CUresult event_of(const Ctx& c, size_t i, CUevent& out) const;
  // worker_graph.cc: stream capture and graphs (ids chosen here, returned to the client)
  CUresult op_stream_begin_capture(Ctx& c);
  CUresult op_stream_end_capture(Ctx& c);
  CUresult op_stream_capture_info(Ctx& c);
  CUresult op_stream_is_capturing(Ctx& c);
  CUresult op_graph_create(Ctx& c);
  CUresult op_graph_destroy(Ctx& c);
  CUresult op_graph_list(Ctx& c);
  CUresult op_graph_node_type(Ctx& c);
  CUresult op_graph_instantiate(Ctx& c);
  CUresult op_graph_exec_destroy(Ctx& c);
  CUresult op_graph_launch(Ctx& c, bool upload);
  CUresult op_graph_exec_update(Ctx& c);
  CUresult op_graph_add_node(Ctx& c);
  CUresult op_graph_set_kernel(Ctx& c);
  CUresult op_graph_edges(Ctx& c);
  // worker_graph_query.cc: node queries, removal, clones, exec flags, enabling, memset params
  CUresult op_graph_node_neighbours(Ctx& c);
  CUresult op_graph_destroy_node(Ctx& c);
  CUresult op_graph_clone(Ctx& c);
  CUresult op_graph_node_find_in_clone(Ctx& c);
  CUresult op_graph_exec_flags(Ctx& c);
  CUresult op_graph_node_enabled(Ctx& c);
  CUresult op_graph_memset_params(Ctx& c);
  CUresult op_graph_dot_print(Ctx& c);
  CUresult op_graph_exec_child_set(Ctx& c);
  CUresult op_graph_memcpy_set(Ctx& c);
  CUresult op_graph_kernel_get(Ctx& c);
  // worker_graph_attr.cc: kernel node attributes; launches with attributes (cuLaunchKernelEx)
  CUresult op_graph_kernel_attr(Ctx& c);
  CUresult op_launch_attrs(Ctx& c);
  // The launch of op_launch (worker_module.cc) for `dims` (grid, block, shared bytes) with the
  // row's inline parameter buffer `params` (checked here against the function's layout); with
  // `attrs` (checked) through cuLaunchKernelEx.
  CUresult launch_common(Ctx& c, const uint64_t (&dims)[7], bool cooperative, std::span<const std::byte> params,
                         std::span<const CUlaunchAttribute> attrs);
  // worker_graph_capture.cc: capture into a graph, capture dependencies, child graphs, copy params
  CUresult op_stream_begin_capture_to_graph(Ctx& c);
  CUresult op_stream_update_capture_deps(Ctx& c);
  CUresult op_graph_child_graph(Ctx& c);
  CUresult op_graph_memcpy_get(Ctx& c);
  bool dependency_nodes(std::span<const uint64_t> ids, std::vector<CUgraphNode>& out) const;
  // The nodes and child graphs a graph (or a child-graph node) owns, and dropping their ids.
  void owned_graph_objects(CUgraph g, std::vector<CUgraphNode>& nodes, std::vector<CUgraph>& graphs);
  void owned_child_objects(CUgraphNode node, std::vector<CUgraphNode>& nodes, std::vector<CUgraph>& graphs);
  void forget_graph_objects(const std::vector<CUgraphNode>& nodes, const std::vector<CUgraph>& graphs);
  // worker_graph_mem.cc: graph memory nodes, charged to the tenant while their memory is live
  CUresult op_graph_mem_node(Ctx& c);
  CUresult op_graph_mem_params(Ctx& c);
  CUresult op_device_graph_mem(Ctx& c);
  // The memory nodes of a new exec (op_graph_instantiate): remembered for its launches.
  void graph_mem_instantiated(uint64_t exec_id, const std::vector<CUgraphNode>& nodes, unsigned long long flags);
  // Around a launch of exec `exec_id` (op_graph_launch): charges the allocations the launch makes
  // (CUDA_ERROR_OUT_OF_MEMORY over the quota, nothing charged), then after the driver's launch
  // records them (ok) or returns the charge, and lets the exec's free nodes free (quota returned
  // at the next synchronisation, as cuMemFreeAsync).
  CUresult graph_launch_metered(Ctx& c, CUgraphExec e, CUstream stream, size_t device, CUresult& launched);  // worker_graph.cc
  CUresult graph_mem_before_launch(uint64_t exec_id, std::vector<CUdeviceptr>& charged);
  void graph_mem_after_launch(uint64_t exec_id, const std::vector<CUdeviceptr>& charged, bool ok);
  // cuMemAllocAsync / cuMemAllocFromPoolAsync on a capturing stream: an allocation node, whose
  // address is remembered but not charged until a launch makes it.
  bool stream_capturing(CUstream s);
  CUresult graph_mem_capture_alloc(Ctx& c, int device, uint64_t bytes, const std::function<CUresult(CUdeviceptr&)>& alloc);
  bool graph_mem_range_ok(CUdeviceptr p, uint64_t bytes) const;  // inside an address a graph node reserved
  // worker_graph_node.cc: conditional handles and nodes (their bodies are owned graphs:
  // owned_child_objects)
  CUresult op_graph_cond_handle_create(Ctx& c);
  CUresult op_graph_add_cond_node(Ctx& c);
  bool memset_node_ok(const CUDA_MEMSET_NODE_PARAMS& p) const;  // sizes sane, range in the session's memory
  CUresult graph_kernel_params(Ctx& c, const std::array<uint64_t, 7>& dims, std::span<const std::byte> params,
                               std::vector<uint64_t>& storage, std::vector<void*>& argv, CUDA_KERNEL_NODE_PARAMS& p);
  uint64_t graph_id(CUgraph g);          // the id of `g`, made on first use
  uint64_t node_id(CUgraphNode n);       // the id of `n`, made on first use
  CUgraph graph_of(uint64_t id) const;   // nullptr (logged) for an id not in this session
  CUgraphNode graph_node_of(uint64_t id) const;
  CUgraphExec graph_exec_of(uint64_t id) const;
  CUresult refuse_host_copy_in_capture(CUstream stream);  // worker_copy.cc's host copies
  // worker_graph_host_copy.cc: graph copy nodes with a host side (worker_graph_host_copy.h)
  CUresult op_capture_host_copy(Ctx& c);
  CUresult op_capture_host_copy_3d(Ctx& c);
  CUresult op_graph_add_host_copy_node(Ctx& c);
  CUresult op_graph_add_host_copy_node_3d(Ctx& c);
  CUresult op_graph_host_copy_set(Ctx& c);
  CUresult op_host_copy_part(Ctx& c);
  static void host_copy_part(HostFnHub& hub, std::atomic<int32_t>& refused, uint64_t session,
                             const protocol::wire::Call* call);
  HostCopies& host_copies();
  CUresult host_copy_shape(bool to_device, std::span<const uint64_t> side, uint64_t width, uint64_t rows,
                           uint64_t depth, HostCopyShape& s);
  const HostCopyTag* host_copy_tag(uint64_t client_id, const HostCopyShape& shape, CUresult& st);
  void host_copy_tag_drop(const HostCopyTag* t);
  CUresult capture_host_copy(Ctx& c, uint64_t client_id, const HostCopyShape& shape);
  CUresult add_host_copy_node(Ctx& c, uint64_t graph, std::span<const uint64_t> dep_ids, uint64_t client_id,
                              const HostCopyShape& shape);
  bool host_copy_body_refused(CUgraph g);  // `g` is a conditional body (logged)
  const HostCopyTag* host_copy_of(CUgraphNode n);
  bool graph_has_host_copies(CUgraph g, int depth);
  bool host_copies_in_bodies(CUgraph g, int depth);
  CUresult host_copy_rewrite(CUgraph g, HostCopyExec& out, int depth);
  CUresult host_copy_stage(CUgraph g, CUgraphNode cn, const HostCopyTag& t, HostCopyExec& out, CUgraphNode& marker);
  CUresult exec_host_copy_set(uint64_t exec_id, CUgraphExec e, CUgraphNode n, const HostCopyTag& old,
                              uint64_t client_id, const HostCopyShape& s);
  CUresult host_copy_clone(CUgraph g, HostCopyExec& out, CUgraph& clone);
  CUgraphNode exec_node(uint64_t exec_id, CUgraphNode n);  // the exec's node for a node of its graph
  void host_copy_exec_destroyed(uint64_t exec_id);
  void host_copy_retire(std::vector<HostCopyStaging>&& staging, const std::set<int>& launched_on);
  void host_copy_release_retired(int device);  // after a successful context synchronisation
  void host_copy_launched(uint64_t exec_id, int device);
  std::unique_ptr<HostCopies> host_copies_;  // null until the first host copy node

  std::unique_ptr<transport::Connection> conn_;
  const WorkerParams params_;
  SessionSlot& slot_;
  Attachment* attached_ = nullptr;  // pre-attached backend (pool or cold start), or null
  Driver drv_;
  CUcontext ctx_ = nullptr;  // the current device's context (devices_[current_].ctx)
  std::vector<VisibleDevice> devices_;
  size_t current_ = 0;
  // The tenant's quota and the session's held bytes (quota.h); the session's allocations and
  // module globals, with the range check (allocation_table.h).
  Quota quota_{params_.tenants, params_.tenant_index, slot_};
  AllocationTable allocs_{quota_};
  VmmTable vmm_{quota_};  // reservations, physical handles, mappings (vmm_table.h)
  ImageCache images_;
  transport::FrameHead head_;
  flatbuffers::FlatBufferBuilder fbb_;
  transport::Connection* in_ = nullptr;  // conn_.get()

  // Session tables (client id -> driver object).
  StreamTable streams_;  // streams and events (stream_table.h)
  ModuleTable modules_{quota_};  // modules, libraries, functions/kernels (module_table.h)
  bool charge_images(uint64_t bytes);  // host memory of uploads (TenantSlot::image_bytes)
  // The image `hash` of `bytes` from the server's public index into session memory (charged),
  // `image` then pointing at it; `image` untouched when the hash is not public or the server's
  // copy cannot be read (the client is asked for the bytes). An error for a forged call.
  CUresult load_public(const ImageHash& hash, uint64_t bytes, const std::vector<std::byte>*& image);
  void count_upload(uint64_t bytes);  // an image whose bytes the client sent (TenantSlot counters)
  void uncharge_images(uint64_t bytes);
  std::unordered_map<CUgraphNode, std::vector<uint64_t>> cond_bodies_;  // conditional node -> body graph ids
  std::set<CUgraphConditionalHandle> cond_handles_;  // handles this session made (worker_graph_node.cc)
  // Module ids that name a library's module (cuLibraryGetModule) -> the library's id.
  std::unordered_map<uint64_t, uint64_t> library_modules_;
  CUresult op_library_get_module(Ctx& c);  // worker_module_alias.cc
  CUresult op_stream_attach_mem(Ctx& c);    // worker_managed_attach.cc
  void forget_library_modules(uint64_t lib_id);
  PoolTable pools_;  // client pool id -> pool (pool_table.h, worker_mempool.cc)
  GraphTable graphs_;  // graphs, nodes, executable graphs (graph_table.h, worker_graph.cc)
  // Arrays, mipmapped arrays, texture and surface objects of this session (array_table.h,
  // worker_texture.cc), keyed by the driver's handle value the client holds.
  ArrayTable arrays_{quota_};
  // Graph memory (worker_graph_mem.cc): every address an allocation node of this session
  // reserved (bytes, physical device), and each exec's memory nodes in launch order.
  struct GraphMemRange {
    uint64_t bytes = 0;
    int device = 0;
  };
  struct GraphExecMem {
    std::vector<CUdeviceptr> allocs, frees;
  };
  std::map<CUdeviceptr, GraphMemRange> graph_mem_;
  std::unordered_map<uint64_t, GraphExecMem> graph_exec_mem_;
  bool graph_mem_seen_ = false;  // settle_frees also trims the device's graph memory

  // Sticky async error and progress.
  int32_t sticky_status_ = 0;
  uint64_t sticky_seq_ = 0;
  uint64_t completed_seq_ = 0;

  // Captured backend output: memory files behind fds 1 and 2, and how much was sent.
  int out_fd_[2] = {-1, -1};
  uint64_t out_sent_[2] = {0, 0};
  std::vector<std::byte> out_buf_;
  std::vector<std::byte> staging_;
  StagingRing ring_{drv_};  // pinned chunks that copies flow through (worker_copy.cc)
  // Compute-share turns and launch metering (launch_meter.h); turn_seq_ is the seq of the
  // held turn's last launch, which a failure found when the turn settles is reported against.
  LaunchMeter meter_{drv_, params_.scheduler, params_.tenant_index, params_.tenants};
  uint64_t turn_seq_ = 0;
  void settle_turn();

  // worker_hostfn.cc: host functions and graph host nodes held on the server (worker_hostfn.h).
  // The connection is wrapped (sends serialised with the backend threads' HostFnReady notes)
  // and received through rx_, whose side thread reads HostFnDone while this thread is busy.
  void wrap_connection();
  HostFnHub& hostfn_hub();  // made, and the side thread started, on first use
  void hostfn_close();      // at the session's end: every gate opens, the side thread ends
  static void host_fn_done(HostFnHub& hub, std::atomic<int32_t>& refused, uint64_t session,
                           const protocol::wire::Call* call);
  CUresult op_launch_host_func(Ctx& c);
  CUresult op_host_fn_done(Ctx& c);
  CUresult op_host_fn_settle(Ctx& c);
  // Held streams (worker_hostfn.h, "armed"): a graph launch's tail marker; the tag of work
  // enqueued now (0: nothing armed); whether work with that tag may still wait for the client.
  void hostfn_graph_tail(CUstream stream);
  uint64_t hostfn_tag();
  bool hostfn_held(uint64_t tag);
  CUresult op_graph_add_host_node(Ctx& c);
  CUresult op_graph_host_node_get(Ctx& c);
  CUresult op_graph_host_node_set(Ctx& c);
  CUresult op_graph_exec_host_node_set(Ctx& c);
  bool host_node_ours(CUgraphNode n);  // a host node whose function is this session's marker
  // worker_graph_event.cc: event record and wait nodes (calls 372-374)
  CUresult op_graph_add_event_node(Ctx& c);
  CUresult op_graph_event_node_get(Ctx& c);
  CUresult op_graph_event_node_set(Ctx& c);
  // worker_memop.cc: stream memory operations and batch memory-op nodes (calls 475-478)
  CUresult op_stream_memop(Ctx& c);
  CUresult op_graph_add_memop_node(Ctx& c);
  CUresult op_graph_memop_node_get(Ctx& c);
  CUresult op_graph_memop_node_set(Ctx& c);
  // Decodes `count` wire operations (4 words each) into `out`, each wait/write address checked
  // against the session's memory; false (logged) for a kind it does not know or an address that
  // is not the session's.
  bool memops_from_wire(std::span<const uint64_t> words, uint64_t count, std::vector<CUstreamBatchMemOpParams>& out);
  // Set once the session has sent a wait operation: a stream may be held for ever, so a device
  // reset does not synchronise first (the backend's reset ends such waits; worker_reset.cc).
  bool memop_waits_ = false;
  HostFnHub* hostfn_ = nullptr;                // never freed (worker_hostfn.h)
  WorkerConnection* wrapped_ = nullptr;        // conn_, as its wrapper
  std::atomic<int32_t> hostfn_refused_{0};     // a forged HostFnDone, for the next sticky error
  std::unique_ptr<transport::ReceiveHandoff> rx_;  // over the unwrapped connection
};

}  // namespace gpool::server
