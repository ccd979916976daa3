#include "gpool/common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace gpool::log {
namespace {

spdlog::level::level_enum level_from_env() {
  const char* v = std::getenv("GPOOL_LOG_LEVEL");
  if (v == nullptr || *v == '\0') return spdlog::level::warn;
  auto lvl = spdlog::level::from_str(v);
  // from_str returns "off" for unknown names; only accept "off" when asked for.
  if (lvl == spdlog::level::off && std::string(v) != "off") return spdlog::level::warn;
  return lvl;
}

struct Registry {
  std::mutex mu;
  std::map<std::string, spdlog::logger*, std::less<>> loggers;  // never freed
  spdlog::sink_ptr sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  spdlog::level::level_enum level = level_from_env();
};

Registry& registry() {
  static Registry* r = new Registry();  // intentionally leaked: usable during exit
  return *r;
}

}  // namespace

spdlog::logger& logger(std::string_view component) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  auto it = r.loggers.find(component);
  if (it != r.loggers.end()) return *it->second;
  auto* l = new spdlog::logger("gpool " + std::string(component), r.sink);
  l->set_level(r.level);
  l->set_pattern("[%n %l] %v");
  l->flush_on(spdlog::level::warn);
  r.loggers.emplace(std::string(component), l);
  return *l;
}

}  // namespace gpool::log
