#include "smi.h"

#include <cstdio>

#include <fmt/format.h>

#include "pool_servers.h"
#include "status_client.h"
#include "status_table.h"

namespace gpool::tools {
namespace {

std::string json_text(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string bus_id(const client::DeviceView& d) {
  return fmt::format("{:08X}:{:02X}:{:02X}.0", d.pci_domain, d.pci_bus, d.pci_device);
}

// The tenant's memory ceiling on a device: its quota, or the device without one.
uint64_t limit(const client::DeviceView& d) {
  return d.quota_bytes > 0 && d.quota_bytes < d.total_bytes ? d.quota_bytes : d.total_bytes;
}

struct Row {
  size_t server;
  const client::DeviceView* dev;
};

}  // namespace

int run_smi(const std::vector<std::string>& server_list, const std::string& token, bool json) {
  client::ServerList list;
  {
    std::string error;
    if (!client::resolve_servers(server_list, list, error)) {
      std::fprintf(stderr, "gpool smi: %s\n", error.c_str());
      return 1;
    }
  }
  std::vector<std::string> servers;
  std::vector<client::StatusView> views;
  size_t refused = 0;
  for (const std::string& url : list.urls) {
    std::string error;
    client::StatusView view;
    client::Failure f = client::Failure::kNone;
    if (!client::fetch_view(url, token, "gpool smi", view, error, &f)) {
      // A pool's registered server that no longer answers (its record outlives it until its
      // lease ends) or does not know the token is skipped, as the CUDA shim's placement skips
      // it; a named server must answer.
      if (list.pooled && (f == client::Failure::kUnreachable || f == client::Failure::kRefused)) {
        refused += f == client::Failure::kRefused ? 1 : 0;
        std::fprintf(stderr, "gpool smi: skipping the pool's server %s: %s\n", url.c_str(), error.c_str());
        continue;
      }
      std::fprintf(stderr, "gpool smi: server %s: %s\n", url.c_str(), error.c_str());
      return 1;
    }
    servers.push_back(url);
    views.push_back(std::move(view));
  }
  if (servers.empty() && refused > 0) {
    std::fprintf(stderr, "gpool smi: every server of the pool refused the token\n");
    return 1;
  }
  std::vector<Row> rows;
  for (size_t i = 0; i < views.size(); ++i) {
    for (const client::DeviceView& d : views[i].devices) rows.push_back({i, &d});
  }
  // Processes: the viewer's sessions, on each device where they hold memory.
  struct Proc {
    size_t device;
    const client::SessionView* s;
    uint64_t bytes;
  };
  std::vector<Proc> procs;
  for (size_t r = 0; r < rows.size(); ++r) {
    const auto& sessions = views[rows[r].server].sessions;
    const size_t at = static_cast<size_t>(rows[r].dev->index);
    for (const client::SessionView& s : sessions) {
      const uint64_t here = at < s.device_bytes.size() ? s.device_bytes[at] : 0;
      if (here > 0) procs.push_back({r, &s, here});
    }
  }
  if (json) {
    std::string out = "{\"devices\":[";
    for (size_t r = 0; r < rows.size(); ++r) {
      const client::DeviceView& d = *rows[r].dev;
      const client::StatusView& v = views[rows[r].server];
      out += fmt::format(
          "{}{{\"index\":{},\"server\":{},\"tenant\":{},\"name\":{},\"uuid\":{},\"pci_bus_id\":\"{}\","
          "\"memory_total_bytes\":{},\"memory_used_bytes\":{},\"quota_bytes\":{},\"utilization_percent\":{},"
          "\"cuda_driver_version\":{}}}",
          r ? "," : "", r, json_text(servers[rows[r].server]), json_text(v.tenant), json_text(d.name),
          json_text(d.uuid), bus_id(d), limit(d), d.bytes_held, d.quota_bytes,
          d.utilization >= 0 ? std::to_string(d.utilization) : "null", v.driver_version);
    }
    out += "],\"processes\":[";
    for (size_t p = 0; p < procs.size(); ++p) {
      out += fmt::format("{}{{\"device\":{},\"session\":{},\"pid\":{},\"program\":{},\"peer\":{},\"memory_bytes\":{}}}",
                         p ? "," : "", procs[p].device, procs[p].s->id, procs[p].s->client_pid,
                         json_text(procs[p].s->program), json_text(procs[p].s->peer), procs[p].bytes);
    }
    out += "]}";
    std::printf("%s\n", out.c_str());
    return 0;
  }
  const client::StatusView& first = views.front();
  std::printf("gpool smi   tenant %s   CUDA driver %d.%d   gpool server %s\n",
              first.tenant.empty() ? "(admin: every tenant)" : first.tenant.c_str(),
              first.driver_version / 1000, first.driver_version % 1000 / 10,
              first.server_version.empty() ? "?" : first.server_version.c_str());
  std::vector<std::vector<std::string>> table{{"GPU", "NAME", "UUID", "BUS-ID", "MEMORY USED", "OF", "UTIL", "SERVER"}};
  for (size_t r = 0; r < rows.size(); ++r) {
    const client::DeviceView& d = *rows[r].dev;
    table.push_back({std::to_string(r), d.name, d.uuid, bus_id(d), format_bytes(static_cast<double>(d.bytes_held)),
                     format_bytes(static_cast<double>(limit(d))) + (d.quota_bytes > 0 ? " (quota)" : ""),
                     d.utilization >= 0 ? std::to_string(d.utilization) + " %" : "n/a", servers[rows[r].server]});
  }
  std::printf("\n%s", format_table(table).c_str());
  if (rows.empty()) std::printf("no devices (the server has not described them yet, or the token may use none)\n");
  std::vector<std::vector<std::string>> ptable{{"GPU", "PID", "PROGRAM", "SESSION", "MEMORY", "PEER"}};
  for (const Proc& p : procs) {
    ptable.push_back({std::to_string(p.device), std::to_string(p.s->client_pid), p.s->program,
                      std::to_string(p.s->id), format_bytes(static_cast<double>(p.bytes)), p.s->peer});
  }
  std::printf("\nPROCESSES\n%s", procs.empty() ? "no processes hold device memory\n" : format_table(ptable).c_str());
  return 0;
}

}  // namespace gpool::tools
