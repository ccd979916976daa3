#include "gpool/registry/server_record.h"

#include <algorithm>

#include <fmt/format.h>

#include "gpool/registry/json.h"

namespace gpool::registry {

uint64_t ServerRecord::best_free() const {
  uint64_t best = 0;
  for (const DeviceRecord& d : devices) best = std::max(best, d.memory_free);
  return best;
}

std::string to_json(const ServerRecord& r) {
  std::string out = fmt::format(
      "{{\"url\":{},\"host\":{},\"version\":{},\"sessions\":{},\"max_sessions\":{},\"load\":{:.4f},"
      "\"updated\":{},\"devices\":[",
      quote(r.url), quote(r.host), quote(r.version), r.sessions, r.max_sessions, r.load, r.updated);
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const DeviceRecord& d = r.devices[i];
    out += fmt::format("{}{{\"name\":{},\"uuid\":{},\"memory_total\":{},\"memory_free\":{}}}",
                       i == 0 ? "" : ",", quote(d.name), quote(d.uuid), d.memory_total, d.memory_free);
  }
  return out + "]}";
}

std::string to_json(const std::vector<ServerRecord>& records) {
  std::string out = "[";
  for (size_t i = 0; i < records.size(); ++i) out += (i == 0 ? "" : ",") + to_json(records[i]);
  return out + "]";
}

bool from_json(std::string_view text, ServerRecord& out, std::string& error) {
  Json j;
  if (!Json::parse(text, j, error)) return false;
  if (!j.is_object()) {
    error = "a server record must be a JSON object";
    return false;
  }
  ServerRecord r;
  const Json* url = j.get("url");
  if (url == nullptr || url->type() != Json::Type::string || url->str().empty()) {
    error = "a server record without a url";
    return false;
  }
  r.url = url->str();
  if (const Json* v = j.get("host")) r.host = v->str();
  if (const Json* v = j.get("version")) r.version = v->str();
  if (const Json* v = j.get("sessions")) r.sessions = static_cast<uint32_t>(v->as_uint(0));
  if (const Json* v = j.get("max_sessions")) r.max_sessions = static_cast<uint32_t>(v->as_uint(0));
  if (const Json* v = j.get("load")) r.load = v->as_double(0);
  if (const Json* v = j.get("updated")) r.updated = v->as_int(0);
  if (const Json* devs = j.get("devices"); devs != nullptr && devs->is_array()) {
    for (const Json& d : devs->items()) {
      DeviceRecord dr;
      if (const Json* v = d.get("name")) dr.name = v->str();
      if (const Json* v = d.get("uuid")) dr.uuid = v->str();
      if (const Json* v = d.get("memory_total")) dr.memory_total = v->as_uint(0);
      if (const Json* v = d.get("memory_free")) dr.memory_free = v->as_uint(0);
      r.devices.push_back(std::move(dr));
    }
  }
  out = std::move(r);
  return true;
}

}  // namespace gpool::registry
