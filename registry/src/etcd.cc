#include "gpool/registry/etcd.h"

#include <cctype>

#include <fmt/format.h>

#include "gpool/registry/http_client.h"
#include "gpool/registry/json.h"

namespace gpool::registry {
namespace {

constexpr std::string_view kScheme = "etcd://";

bool pool_name_ok(std::string_view p) {
  if (p.empty() || p.size() > 63) return false;
  for (const char c : p) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

// The smallest key greater than every key starting with `prefix` (etcd's range_end).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xFF) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // the whole key space
}

bool parse_answer(const std::string& text, Json& out, std::string& error) {
  if (!Json::parse(text, out, error) || !out.is_object()) {
    if (error.empty()) error = "not a JSON object";
    error = "etcd answered with unexpected text (" + error + ")";
    return false;
  }
  return true;
}

}  // namespace

bool is_pool_url(std::string_view url) { return url.substr(0, kScheme.size()) == kScheme; }

bool parse_pool_url(std::string_view url, PoolUrl& out, std::string& error) {
  const auto form = [&](const std::string& why) {
    error = fmt::format("\"{}\": {}; expected etcd://HOST[:PORT][,HOST[:PORT]...]/POOL", url, why);
    return false;
  };
  if (!is_pool_url(url)) return form("not an etcd:// URL");
  std::string_view rest = url.substr(kScheme.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return form("no /POOL after the endpoints");
  const std::string_view hosts = rest.substr(0, slash);
  const std::string_view pool = rest.substr(slash + 1);
  if (!pool_name_ok(pool)) return form("the pool name must be 1 to 63 of A-Z a-z 0-9 . _ -");
  PoolUrl result;
  result.pool = std::string(pool);
  size_t pos = 0;
  while (pos <= hosts.size()) {
    size_t comma = hosts.find(',', pos);
    if (comma == std::string_view::npos) comma = hosts.size();
    std::string_view item = hosts.substr(pos, comma - pos);
    pos = comma + 1;
    if (item.empty()) return form("an empty endpoint");
    std::string host;
    int port = kDefaultEtcdPort;
    std::string_view port_text;
    if (item.front() == '[') {  // [v6]:port
      const size_t close = item.find(']');
      if (close == std::string_view::npos) return form("unclosed [ in an IPv6 address");
      host = std::string(item.substr(1, close - 1));
      if (close + 1 < item.size()) {
        if (item[close + 1] != ':') return form("text after ]");
        port_text = item.substr(close + 2);
      }
    } else {
      const size_t colon = item.rfind(':');
      host = std::string(item.substr(0, colon));
      if (colon != std::string_view::npos) port_text = item.substr(colon + 1);
    }
    if (host.empty()) return form("an endpoint without a host");
    if (!port_text.empty() || (item.back() == ':')) {
      port = 0;
      for (const char c : port_text) {
        if (!std::isdigit(static_cast<unsigned char>(c)) || port > 65535) return form("a bad port");
        port = port * 10 + (c - '0');
      }
      if (port_text.empty() || port < 1 || port > 65535) return form("a port must be 1..65535");
    }
    result.endpoints.emplace_back(std::move(host), port);
  }
  out = std::move(result);
  return true;
}

std::string pool_prefix(const std::string& pool) { return "/gpool/pools/" + pool + "/servers/"; }

Etcd::Etcd(std::vector<std::pair<std::string, int>> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout) {}

bool Etcd::call(const std::string& path, const std::string& body, std::string& out, std::string& error) {
  if (endpoints_.empty()) {
    error = "no etcd endpoint";
    return false;
  }
  std::string errors;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t at = (current_ + i) % endpoints_.size();
    const auto& [host, port] = endpoints_[at];
    HttpResponse r;
    std::string e;
    if (!http_post(host, port, path, body, timeout_, r, e)) {
      errors += (errors.empty() ? "" : "; ") + e;
      continue;
    }
    current_ = at;
    if (r.status < 200 || r.status > 299) {
      // etcd's gateway answers errors as {"error": "...", "code": N, "message": "..."}.
      Json j;
      std::string ignored, message;
      if (Json::parse(r.body, j, ignored) && j.is_object()) {
        if (const Json* m = j.get("message"); m != nullptr && !m->str().empty()) message = m->str();
        else if (const Json* m2 = j.get("error"); m2 != nullptr) message = m2->str();
      }
      if (message.empty()) message = r.body.substr(0, 200);
      error = fmt::format("etcd at {}:{} answered {} to {}: {}", host, port, r.status, path, message);
      if (r.status >= 500 && i + 1 < endpoints_.size()) {  // e.g. a member without a leader
        errors += (errors.empty() ? "" : "; ") + error;
        continue;
      }
      return false;
    }
    out = std::move(r.body);
    return true;
  }
  error = "etcd unreachable: " + errors;
  return false;
}

bool Etcd::put(const std::string& key, const std::string& value, int64_t lease, std::string& error) {
  std::string body = fmt::format("{{\"key\":\"{}\",\"value\":\"{}\"", base64_encode(key), base64_encode(value));
  if (lease != 0) body += fmt::format(",\"lease\":\"{}\"", lease);
  body += "}";
  std::string answer;
  if (!call("/v3/kv/put", body, answer, error)) return false;
  Json j;
  return parse_answer(answer, j, error);
}

bool Etcd::range_prefix(const std::string& prefix, std::vector<KeyValue>& out, std::string& error) {
  // Serializable: any member answers from its own copy, without a quorum round trip. A record
  // may be a heartbeat old; placement tolerates that (the server's own handshake decides).
  const std::string body = fmt::format("{{\"key\":\"{}\",\"range_end\":\"{}\",\"serializable\":true}}",
                                       base64_encode(prefix), base64_encode(prefix_end(prefix)));
  std::string answer;
  if (!call("/v3/kv/range", body, answer, error)) return false;
  Json j;
  if (!parse_answer(answer, j, error)) return false;
  out.clear();
  const Json* kvs = j.get("kvs");  // absent when nothing matches
  if (kvs == nullptr) return true;
  if (!kvs->is_array()) {
    error = "etcd's range answer has a kvs that is not an array";
    return false;
  }
  for (const Json& kv : kvs->items()) {
    KeyValue item;
    const Json* k = kv.get("key");
    const Json* v = kv.get("value");
    if (k == nullptr || !base64_decode(k->str(), item.key) ||
        (v != nullptr && !base64_decode(v->str(), item.value))) {
      error = "etcd's range answer has a key or value that is not base64";
      return false;
    }
    if (const Json* l = kv.get("lease")) item.lease = l->as_int(0);
    out.push_back(std::move(item));
  }
  return true;
}

bool Etcd::lease_grant(int64_t ttl_s, int64_t& id, std::string& error) {
  std::string answer;
  if (!call("/v3/lease/grant", fmt::format("{{\"TTL\":\"{}\"}}", ttl_s), answer, error)) return false;
  Json j;
  if (!parse_answer(answer, j, error)) return false;
  const Json* i = j.get("ID");
  id = i != nullptr ? i->as_int(0) : 0;
  if (id == 0) {
    const Json* e = j.get("error");
    error = "etcd granted no lease" + (e != nullptr ? ": " + e->str() : std::string());
    return false;
  }
  return true;
}

bool Etcd::lease_keepalive(int64_t id, bool& alive, std::string& error) {
  std::string answer;
  if (!call("/v3/lease/keepalive", fmt::format("{{\"ID\":\"{}\"}}", id), answer, error)) return false;
  // A streaming call: the gateway sends {"result": {...,"TTL":"N"}} (TTL absent = 0 once the
  // lease is gone) or {"error": {...}}.
  Json j;
  if (!parse_answer(answer, j, error)) return false;
  if (const Json* e = j.get("error")) {
    const Json* m = e->get("message");
    error = "etcd refused the keepalive: " + (m != nullptr ? m->str() : std::string("no message"));
    return false;
  }
  const Json* r = j.get("result");
  if (r == nullptr) {
    error = "etcd's keepalive answer has no result";
    return false;
  }
  const Json* ttl = r->get("TTL");
  alive = ttl != nullptr && ttl->as_int(0) > 0;
  return true;
}

bool Etcd::lease_revoke(int64_t id, std::string& error) {
  std::string answer;
  if (!call("/v3/lease/revoke", fmt::format("{{\"ID\":\"{}\"}}", id), answer, error)) return false;
  Json j;
  return parse_answer(answer, j, error);
}

}  // namespace gpool::registry
