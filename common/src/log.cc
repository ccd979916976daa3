#include "gpool/common/log.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <cerrno>

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

// Writes each formatted record to a file descriptor with write(2) (no stdio buffering).
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(int fd) : fd_(fd) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    const char* p = buf.data();
    size_t left = buf.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // nowhere left to report a failing log sink
      p += n;
      left -= static_cast<size_t>(n);
    }
  }
  void flush_() override {}

 private:
  const int fd_;
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

void set_output_fd(int fd) {
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  r.sink = std::make_shared<FdSink>(fd);
  for (auto& [name, l] : r.loggers) {
    l->sinks().clear();
    l->sinks().push_back(r.sink);
    l->set_pattern("[%n %l] %v");  // formats the new sink like the old one
  }
}

}  // namespace gpool::log
