// A session worker: the process that serves one client session after the supervisor has
// authenticated it (one worker per session, ARCHITECTURE.md decision 7).
//
// The worker loads the driver backend, retains the primary context of device 0 (the session's
// one context), then executes the client's calls in the order they arrive (gpool.fbs,
// "Ordering and errors"; calls.toml for each call). It keeps the session's own tables:
//   streams, events, modules, libraries, functions/kernels  (client id -> driver object)
//   allocations                                             (device address -> bytes)
//   globals                                                 (ranges of module variables)
// and checks every handle and every pointer range of a copy, memset or free against them, so a
// forged id or an address outside the session gets CUDA_ERROR_INVALID_HANDLE /
// CUDA_ERROR_INVALID_VALUE and never reaches the driver. Async calls that fail set the sticky
// error reported in the next Reply. Device printf and assert output (the backend's stdout and
// stderr, captured in memory files) is sent to the client before each Reply.
//
// A malformed frame, an Abort or a lost connection ends the worker; everything the session
// held goes with the process. Ownership: the worker owns the connection it is given.
// Thread safety: single-threaded.
#pragma once

#include <cuda.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "gpool/remote/call_codec.h"
#include "gpool/transport/receive_handoff.h"
#include "gpool/transport/transport.h"
#include "image_cache.h"
#include "launch_meter.h"
#include "session_table.h"
#include "staging_ring.h"
#include "tenant_table.h"

namespace gpool::server {

class Scheduler;
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
    bool fatal = false;  // the connection broke while reading the call's segments
    uint64_t bytes_sent = 0;  // bulk bytes sent before the Reply (D2H chunk notes), for counters

    uint64_t arg(size_t i) const;
    size_t arg_count() const;
    size_t handle_count() const;
    uint64_t handle_id(size_t i) const;
    remote::HandleKind handle_kind(size_t i) const;
    std::string_view inline_text() const;
  };

  struct Function {
    CUfunction fn = nullptr;
    std::string name;
    std::vector<uint32_t> offsets, sizes;
    uint32_t param_bytes = 0;
    size_t device = 0;  // devices_ index of the module or library it came from
    CUkernel kernel = nullptr;  // a library's kernel (context-independent); null for a module's
  };

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
  CUresult op_memcpy_dtoh(Ctx& c);
  CUresult dtoh_chunked(Ctx& c, CUdeviceptr src, uint64_t bytes, CUstream stream);
  CUresult op_memcpy_dtod(Ctx& c);
  CUresult op_memset(Ctx& c);
  bool range_ok(CUdeviceptr p, uint64_t bytes) const;
  // worker_memory.cc: allocation paths beyond cuMemAlloc and the tenant's quota (tenant_table.h)
  CUresult op_mem_alloc_pitch(Ctx& c);
  CUresult op_mem_alloc_async(Ctx& c);
  CUresult op_mem_free_async(Ctx& c);
  CUresult op_mem_alloc_managed(Ctx& c);  // page-aligned, padded when the driver's is not
  int current_device();                              // physical ordinal of the current context
  bool charge(int device, uint64_t bytes);           // false: over the tenant's quota
  void uncharge(int device, uint64_t bytes);
  void record_allocation(CUdeviceptr p, uint64_t bytes, int device);
  // Charges `bytes` on `device`, lets `alloc` ask the driver, records the allocation and answers
  // its address (results[0]); the charge is returned when the driver fails.
  // CUDA_ERROR_OUT_OF_MEMORY over the quota, before the driver is asked.
  CUresult alloc_charged(Ctx& c, int device, uint64_t bytes,
                         const std::function<CUresult(CUdeviceptr&)>& alloc);
  // Removes the allocation from the session's table. With `keep_charge` (a stream-ordered
  // free) its bytes stay charged to the tenant as `freeing_` until settle_frees(): a pool gives
  // freed memory back to the device only at the next synchronization, so the quota is returned
  // then, never while the driver may still hold the memory.
  void forget_allocation(std::map<CUdeviceptr, uint64_t>::iterator it, bool keep_charge = false);
  // Returns the charge of the stream-ordered frees on physical device `device` (after a
  // synchronization of that device).
  void settle_frees(int device);
  // When an allocation on `device` does not fit: if stream-ordered frees are still charged
  // there, synchronizes that device (so its pools give the memory back) and settles them.
  // True when anything was settled (the caller retries the charge).
  bool reclaim_frees(int device);
  std::array<uint64_t, kMaxDevices> freeing_{};  // per physical device, bytes (see above)
  uint64_t tenant_total(int device, uint64_t physical_total) const;  // min(quota, physical)
  // worker_vmm.cc: virtual memory management on the session's own tables
  struct VmmHandle {
    uint64_t size = 0;
    int device = 0;     // physical ordinal charged
    bool released = false;
  };
  struct VmmMapping {
    uint64_t size = 0;
    uint64_t handle = 0;
    bool accessible = false;  // READWRITE set: usable by copies and memsets
  };
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
  bool vmm_range_ok(CUdeviceptr p, uint64_t bytes) const;
  bool vmm_mapped(uint64_t handle) const;  // some mapping of this session still uses it
  void vmm_free_physical(std::map<uint64_t, VmmHandle>::iterator it);
  std::vector<std::map<CUdeviceptr, VmmMapping>::iterator> vmm_whole_mappings(CUdeviceptr p, uint64_t size);
  // worker_mempool.cc: memory pools (created ones, and the devices' default pools as ids 1 + d)
  struct MemPool {
    CUmemoryPool pool = nullptr;
    size_t device = 0;               // devices_ index
    uint64_t release_threshold = 0;  // what the client set; the driver's stays 0 (quota)
    bool created = false;            // by MemPoolCreate (false: a device's default pool)
  };
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
    // Reads [count, (option, value) x count] from args[first..]; *next = the arg after them.
    CUresult decode(const Ctx& c, size_t first, size_t* next);
    void encode(Ctx& c) const;  // appends the jit_wire.h answer to c.results / c.inline_out
  };
  struct LinkSession {
    CUlinkState state = nullptr;
    JitCall jit;                    // options and the log buffers the driver writes into
    uint64_t inputs = 0;
    std::vector<std::byte> image;   // LinkComplete's output, until LinkFetch / LinkDestroy
  };
  LinkSession* link_of(const Ctx& c);  // args[0] names a live link of this session, else nullptr
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
  CUresult op_get_global(Ctx& c, bool library);
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
  bool memset_node_ok(const CUDA_MEMSET_NODE_PARAMS& p) const;  // sizes sane, range in the session's memory
  CUresult graph_kernel_params(Ctx& c, size_t at, std::vector<uint64_t>& storage, std::vector<void*>& argv,
                               CUDA_KERNEL_NODE_PARAMS& p);
  uint64_t graph_id(CUgraph g);          // the id of `g`, made on first use
  uint64_t node_id(CUgraphNode n);       // the id of `n`, made on first use
  CUgraph graph_of(uint64_t id) const;   // nullptr (logged) for an id not in this session
  CUgraphNode graph_node_of(uint64_t id) const;
  CUgraphExec graph_exec_of(uint64_t id) const;
  CUresult refuse_host_copy_in_capture(CUstream stream);  // worker_copy.cc's host copies

  std::unique_ptr<transport::Connection> conn_;
  const WorkerParams params_;
  SessionSlot& slot_;
  Attachment* attached_ = nullptr;  // pre-attached backend (pool or cold start), or null
  Driver drv_;
  CUcontext ctx_ = nullptr;  // the current device's context (devices_[current_].ctx)
  std::vector<VisibleDevice> devices_;
  size_t current_ = 0;
  std::unordered_map<CUstream, size_t> stream_device_;  // created streams -> devices_ index
  std::unordered_map<CUevent, size_t> event_device_;
  ImageCache images_;
  transport::FrameHead head_;
  flatbuffers::FlatBufferBuilder fbb_;
  transport::Connection* in_ = nullptr;  // conn_.get()

  // Session tables (client id -> driver object).
  std::unordered_map<uint64_t, CUstream> streams_;
  std::unordered_map<uint64_t, CUevent> events_;
  std::unordered_map<uint64_t, CUmodule> modules_;
  std::unordered_map<uint64_t, CUlibrary> libraries_;
  std::unordered_map<uint64_t, Function> functions_;
  std::map<CUdeviceptr, uint64_t> allocations_;
  std::map<CUdeviceptr, uint64_t> globals_;
  // Device memory of each loaded module's/library's globals, charged to the tenant before the
  // load (image_globals.h) and returned on unload: client id -> (physical device, bytes).
  std::unordered_map<uint64_t, std::pair<int, uint64_t>> module_charges_;
  void uncharge_module(uint64_t id);
  bool charge_images(uint64_t bytes);  // host memory of uploads (TenantSlot::image_bytes)
  void uncharge_images(uint64_t bytes);
  // The devices_ index each module, library and global was loaded on (a device reset drops them).
  std::unordered_map<uint64_t, size_t> module_device_, library_device_;
  std::map<CUdeviceptr, size_t> global_device_;
  std::map<CUdeviceptr, int> alloc_device_;
  // Managed allocations whose driver address was not page-aligned: aligned address (the one
  // the client uses) -> the driver's address, for MemFree (worker_memory.cc).
  std::map<CUdeviceptr, CUdeviceptr> managed_base_;  // device each allocation was charged on (worker_memory.cc)
  std::map<CUdeviceptr, uint64_t> vmm_reserved_;   // reservations: base -> size (worker_vmm.cc)
  std::map<uint64_t, VmmHandle> vmm_handles_;      // driver allocation handle -> what it holds
  std::map<CUdeviceptr, VmmMapping> vmm_maps_;     // mappings: base -> what is mapped there
  std::unordered_map<uint64_t, MemPool> pools_;    // client pool id -> pool (worker_mempool.cc)
  std::unordered_map<uint64_t, CUgraph> graphs_;   // graph id -> graph (worker_graph.cc)
  std::unordered_map<uint64_t, CUgraphNode> graph_nodes_;
  std::unordered_map<CUgraphNode, uint64_t> graph_node_ids_;
  std::unordered_map<uint64_t, CUgraphExec> graph_execs_;
  std::set<CUgraph> capture_graphs_;  // graphs still being captured (not destroyable by id)
  uint64_t graph_counter_ = 0;
  uint64_t bytes_held_ = 0;
  // Arrays, mipmapped arrays, texture and surface objects of this session (worker_texture.cc),
  // keyed by the driver's handle value the client holds.
  struct ArrayEntry {
    CUarray arr = nullptr;
    uint64_t bytes = 0;   // charged to the quota (0 for a mipmapped array's level)
    int device = 0;
    uint64_t mipmap = 0;  // the mipmapped array this is a level of (0: none)
  };
  struct MipmapEntry {
    CUmipmappedArray m = nullptr;
    uint64_t bytes = 0;
    int device = 0;
    unsigned levels = 0;
  };
  std::unordered_map<uint64_t, ArrayEntry> arrays_;
  std::unordered_map<uint64_t, MipmapEntry> mipmaps_;
  std::set<uint64_t> tex_objects_, surf_objects_;

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
  CUresult op_graph_add_host_node(Ctx& c);
  CUresult op_graph_host_node_get(Ctx& c);
  CUresult op_graph_host_node_set(Ctx& c);
  CUresult op_graph_exec_host_node_set(Ctx& c);
  bool host_node_ours(CUgraphNode n);  // a host node whose function is this session's marker
  // worker_graph_event.cc: event record and wait nodes (calls 372-374)
  CUresult op_graph_add_event_node(Ctx& c);
  CUresult op_graph_event_node_get(Ctx& c);
  CUresult op_graph_event_node_set(Ctx& c);
  HostFnHub* hostfn_ = nullptr;                // never freed (worker_hostfn.h)
  WorkerConnection* wrapped_ = nullptr;        // conn_, as its wrapper
  std::atomic<int32_t> hostfn_refused_{0};     // a forged HostFnDone, for the next sticky error
  std::unique_ptr<transport::ReceiveHandoff> rx_;  // over the unwrapped connection
};

}  // namespace gpool::server
