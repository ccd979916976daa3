// ModuleTable: the session's modules, libraries and functions/kernels under client-chosen ids,
// with the quota charge of each module's globals.
//
// Modules and libraries share one id space; functions (a module's CUfunction or a library's
// CUkernel with its function) have their own. Created ids are above 2, each used once while it
// lives. A module or library belongs to the session device (devices_ index) that was current
// when it was loaded; its functions run there. Libraries and their kernels are
// context-independent: a device reset drops the device's modules and their functions, not
// libraries (drop_device()); the worker looks the kernels' functions up again (refetch()).
//
// Quota contract: own_charge() takes over a charge of a module's or library's globals that the
// caller made (Quota::charge) before the load; the table holds those bytes (Quota::hold) and
// returns them when the module or library is erased or dropped.
//
// Errors: module()/library()/function() answer nullptr for a forged, unloaded or wrong-kind
// id; add_*() of an id that is not free and erase_*() of an unknown id answer false and change
// nothing. Ownership: the driver handles stay the caller's to load and unload. Thread safety:
// the worker's one thread.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "quota.h"

namespace gpool::server {

class ModuleTable {
 public:
  struct Function {
    CUfunction fn = nullptr;
    std::string name;
    std::vector<uint32_t> offsets, sizes;
    uint32_t param_bytes = 0;
    size_t device = 0;          // devices_ index of the module or library it came from
    CUkernel kernel = nullptr;  // a library's kernel (context-independent); null for a module's
  };

  explicit ModuleTable(Quota& quota) : quota_(quota) {}

  static bool valid_new_id(uint64_t id) { return id > 2; }
  bool image_id_free(uint64_t id) const {
    return valid_new_id(id) && modules_.count(id) == 0 && libraries_.count(id) == 0;
  }
  bool add_module(uint64_t id, CUmodule m, size_t device);
  bool add_library(uint64_t id, CUlibrary l, size_t device);
  CUmodule module(uint64_t id) const;
  CUlibrary library(uint64_t id) const;
  size_t module_device(uint64_t id, size_t fallback) const;
  size_t library_device(uint64_t id, size_t fallback) const;
  void own_charge(uint64_t id, int device, uint64_t bytes);
  bool erase_module(uint64_t id);   // and return its charge
  bool erase_library(uint64_t id);  // and return its charge

  bool function_id_free(uint64_t id) const { return valid_new_id(id) && functions_.count(id) == 0; }
  bool add_function(uint64_t id, Function f);
  Function* function(uint64_t id);
  // The session's function whose CUfunction is `fn` or whose kernel is `k` (either may be null);
  // *id receives its client id.
  const Function* function_by_handle(CUfunction fn, CUkernel k, uint64_t* id) const;

  // A device reset of session device `index`: its modules (charges returned) and their
  // functions go; libraries and kernel functions stay.
  void drop_device(size_t index);
  // For each kernel function on `index`, `refetch(f)` looks its function up in the new context;
  // those it answers false for are dropped.
  template <typename Refetch>
  void refetch(size_t index, Refetch refetch) {
    for (auto it = functions_.begin(); it != functions_.end();) {
      Function& f = it->second;
      if (f.device == index && f.kernel != nullptr && !refetch(f)) {
        it = functions_.erase(it);
      } else {
        ++it;
      }
    }
  }

 private:
  template <typename H>
  struct Image {
    H handle = nullptr;
    size_t device = 0;
  };
  void uncharge(uint64_t id);

  Quota& quota_;
  std::unordered_map<uint64_t, Image<CUmodule>> modules_;
  std::unordered_map<uint64_t, Image<CUlibrary>> libraries_;
  std::unordered_map<uint64_t, Function> functions_;
  // Device memory of each loaded module's/library's globals: id -> (physical device, bytes).
  std::unordered_map<uint64_t, std::pair<int, uint64_t>> charges_;
};

}  // namespace gpool::server
