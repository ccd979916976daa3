#include "gpool/transport/url.h"

#include <fmt/format.h>

#include <charconv>

namespace gpool::transport {
namespace {

Status bad(std::string_view text, std::string_view why) {
  return Status::make(Code::kInvalidArgument,
                      fmt::format("bad transport url '{}': {}; expected scheme://host:port, e.g. "
                                  "tcp://127.0.0.1:7000 or tcp://[::1]:7000",
                                  text, why));
}

}  // namespace

std::string Url::to_string() const {
  if (host.find(':') != std::string::npos) return fmt::format("{}://[{}]:{}", scheme, host, port);
  return fmt::format("{}://{}:{}", scheme, host, port);
}

Status parse_url(std::string_view text, Url& out) {
  const size_t sep = text.find("://");
  if (sep == std::string_view::npos) return bad(text, "missing '://'");
  Url u;
  u.scheme = std::string(text.substr(0, sep));
  if (u.scheme.empty()) return bad(text, "empty scheme");
  for (char c : u.scheme) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return bad(text, "scheme must be lowercase letters and digits");
  }
  std::string_view rest = text.substr(sep + 3);
  std::string_view host;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad(text, "'[' without ']'");
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (rest.empty() || rest.front() != ':') return bad(text, "missing ':port' after ']'");
    port = rest.substr(1);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad(text, "missing ':port'");
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad(text, "an IPv6 address must be in brackets");
  }
  if (host.empty()) return bad(text, "empty host");
  for (char c : host) {
    if (c == '/' || c == '?' || c == '#' || c == '@' || c == ' ' || c == '[' || c == ']') {
      return bad(text, fmt::format("character '{}' not allowed in host", c));
    }
  }
  if (port.empty()) return bad(text, "empty port");
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size()) return bad(text, "port is not a number");
  if (value > 65535) return bad(text, "port above 65535");
  u.host = std::string(host);
  u.port = static_cast<uint16_t>(value);
  out = std::move(u);
  return Status::success();
}

}  // namespace gpool::transport
