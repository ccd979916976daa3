// Transport URLs: "<scheme>://<host>:<port>", where host is a name, an IPv4 address or a
// bracketed IPv6 address ("tcp://[::1]:9000").
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "gpool/transport/status.h"

namespace gpool::transport {

struct Url {
  std::string scheme;  // "tcp", "ucx"
  std::string host;    // without brackets
  uint16_t port = 0;

  std::string to_string() const;
};

// Parses `text`; kInvalidArgument with a message naming the problem and the expected form.
// Port 0 is accepted (listeners pick a free port; connect rejects it).
Status parse_url(std::string_view text, Url& out);

}  // namespace gpool::transport
