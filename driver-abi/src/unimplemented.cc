// gpool::abi::unimplemented: the single place that answers entry points nobody implements.
#include <mutex>
#include <set>
#include <string>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"

namespace gpool::abi {

CUresult unimplemented(const char* name) {
  static std::mutex* mu = new std::mutex();                  // leaked: usable during exit
  static std::set<std::string, std::less<>>* seen = new std::set<std::string, std::less<>>();
  const char* shown = name != nullptr ? name : "(unnamed entry point)";
  bool first = false;
  {
    std::lock_guard lock(*mu);
    first = seen->emplace(shown).second;
  }
  if (first) {
    gpool::log::logger("abi").warn("{} is not supported by the gpool {} backend", shown,
                                   gpool_backend_name());
  }
  return CUDA_ERROR_NOT_SUPPORTED;
}

}  // namespace gpool::abi
