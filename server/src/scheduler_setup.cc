// The supervisor's side of the scheduler: options from the config and the environment, and the
// tenants' shares (scheduler.h).
#include <algorithm>
#include <string>

#include "config.h"
#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "scheduler.h"
#include "tenant_table.h"

namespace gpool::server {

void apply_shares(Scheduler& sched, const Config& config, const TenantTable& tenants) {
  for (const Tenant& t : config.tenants) {
    if (t.admin) continue;
    const int index = tenants.find(t.name);
    if (index < 0) continue;
    uint32_t mask = 0;
    for (int d : t.devices) {
      if (d >= 0 && d < 32) mask |= 1u << d;
    }
    const auto prio = t.priority == Tenant::Priority::high  ? sched::Priority::high
                      : t.priority == Tenant::Priority::low ? sched::Priority::low
                                                            : sched::Priority::normal;
    sched.set_share(static_cast<uint32_t>(index), t.weight, prio, mask);
  }
}

namespace {

sched::Metering metering_of(const Config& config) {
  std::string name = env::get("GPOOL_SCHED_METERING").value_or(config.scheduler_metering);
  if (name != "auto" && name != "wall" && name != "events") {
    log::logger("sched").warn("GPOOL_SCHED_METERING={} is not auto, wall or events; using {}", name,
                              config.scheduler_metering);
    name = config.scheduler_metering;
  }
  if (name == "auto") name = config.backend == "emulator" ? "wall" : "events";
  return name == "events" ? sched::Metering::events : sched::Metering::wall;
}

unsigned batch_of(const Config& config, sched::Metering metering) {
  int64_t batch = env::get_int("GPOOL_SCHED_BATCH", config.scheduler_batch);
  if (batch < 0 || batch > 256) {
    log::logger("sched").warn("GPOOL_SCHED_BATCH={} is outside 0..256; using {}", batch,
                              config.scheduler_batch);
    batch = config.scheduler_batch;
  }
  if (batch == 0) batch = metering == sched::Metering::events ? 8 : 1;
  return static_cast<unsigned>(batch);
}

}  // namespace

std::unique_ptr<Scheduler> make_scheduler(const Config& config, const TenantTable& tenants) {
  Scheduler::Options o;
  o.tenants = kMaxTenants;
  o.waiters = config.max_sessions + config.warm_workers + 1;
  o.enabled = env::get_bool("GPOOL_SCHED", config.scheduler);
  int64_t window_us = env::get_int("GPOOL_SCHED_WINDOW_US", config.scheduler_window_us);
  if (window_us < 0 || window_us > 1'000'000) {
    log::logger("sched").warn("GPOOL_SCHED_WINDOW_US={} is outside 0..1000000; using {}", window_us,
                              config.scheduler_window_us);
    window_us = config.scheduler_window_us;
  }
  o.window_ns = window_us * 1000;
  o.metering = metering_of(config);
  o.batch = batch_of(config, o.metering);
  if (o.enabled) {
    log::logger("sched").info(
        "compute-share scheduler on (turn kept {} us for a tenant between launches; metering by {}, "
        "up to {} launches a turn)",
        window_us, o.metering == sched::Metering::events ? "timing events" : "wall time", o.batch);
  }
  auto sched = std::make_unique<Scheduler>(o);
  apply_shares(*sched, config, tenants);
  return sched;
}

}  // namespace gpool::server
