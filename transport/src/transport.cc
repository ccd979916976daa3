// Connection's backend-independent halves (limits, verification) and the table of schemes.
#include "gpool/transport/transport.h"

#include <unistd.h>

#include <fmt/format.h>

#include "gpool/transport/url.h"
#include "src/ucx_transport.h"
#include "tcp/tcp_transport.h"
#include "tls/tls_transport.h"

namespace gpool::transport {
namespace {

// One row per URL scheme. A new transport adds a row here (no global registration).
struct Scheme {
  std::string_view name;
  Status (*connect)(const Url&, const Options&, std::unique_ptr<Connection>&);
  Status (*listen)(const Url&, const Options&, std::unique_ptr<Listener>&);
};

constexpr Scheme kSchemes[] = {
    {"tcp", &tcp::connect, &tcp::listen},
    {"ucx", &ucx::connect, &ucx::listen},
    {"tls", &tls::connect, &tls::listen},
};

Status find_scheme(std::string_view text, Url& url, const Scheme*& out) {
  if (Status s = parse_url(text, url); !s.ok()) return s;
  for (const Scheme& s : kSchemes) {
    if (s.name == url.scheme) {
      out = &s;
      return Status::success();
    }
  }
  std::string known;
  for (const Scheme& s : kSchemes) known += fmt::format("{}{}://", known.empty() ? "" : ", ", s.name);
  return Status::make(Code::kInvalidArgument,
                      fmt::format("transport url '{}' has unknown scheme '{}'; this build supports {}",
                                  text, url.scheme, known));
}

}  // namespace

// The header of a frame to send, after checking the protocol limits.
static Status header_for(ConstBytes control, std::span<const ConstBytes> segments,
                         protocol::FrameHeader& header) {
  uint64_t lengths[protocol::kMaxSegments];
  if (segments.size() > protocol::kMaxSegments) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("frame with {} segments exceeds the limit of {}",
                                    segments.size(), protocol::kMaxSegments));
  }
  for (size_t i = 0; i < segments.size(); ++i) lengths[i] = segments[i].size();
  if (protocol::Error e = protocol::make_header(control.size(), std::span(lengths, segments.size()), header);
      !e.ok()) {
    return Status::make(Code::kInvalidArgument, "cannot send frame: " + e.text);
  }
  return Status::success();
}

Status Connection::send(ConstBytes control, std::span<const ConstBytes> segments, Timeout timeout) {
  protocol::FrameHeader header;
  if (Status s = header_for(control, segments, header); !s.ok()) return s;
  return do_send(header, control, segments, timeout);
}

Status Connection::queue(ConstBytes control, std::span<const ConstBytes> segments) {
  protocol::FrameHeader header;
  if (Status s = header_for(control, segments, header); !s.ok()) return s;
  return do_queue(header, control, segments);
}

Status Connection::recv_head(FrameHead& head, Timeout timeout) {
  head.envelope = nullptr;
  if (Status s = do_recv_head(head, timeout); !s.ok()) return s;
  const protocol::wire::Envelope* env = nullptr;
  if (protocol::Error e = protocol::verify_envelope(head.control_bytes(), head.header.segment_count, env);
      !e.ok()) {
    Status s = Status::make(Code::kProtocol,
                            fmt::format("frame from {} rejected ({}): {}", peer(),
                                        protocol::error_code_name(e.code), e.text));
    mark_broken(s);
    return s;
  }
  head.envelope = env;
  return Status::success();
}

Status Connection::recv_frame(Frame& frame, Timeout timeout) {
  if (Status s = recv_head(frame.head, timeout); !s.ok()) return s;
  frame.segments.resize(frame.head.segment_count());
  for (uint32_t i = 0; i < frame.head.segment_count(); ++i) {
    frame.segments[i].resize(frame.head.segment_lengths[i]);
    if (Status s = recv_segment(frame.segments[i], timeout); !s.ok()) return s;
  }
  return Status::success();
}

Status connect(std::string_view url, const Options& options, std::unique_ptr<Connection>& out) {
  Url u;
  const Scheme* scheme = nullptr;
  if (Status s = find_scheme(url, u, scheme); !s.ok()) return s;
  return scheme->connect(u, options, out);
}

Status adopt(std::string_view scheme, int fd, const Options& options, std::unique_ptr<Connection>& out) {
  if (scheme == "tcp") return tcp::adopt(fd, options, out);
  if (scheme == "ucx") return ucx::adopt(fd, options, out);
  if (fd >= 0) ::close(fd);
  return Status::make(Code::kInvalidArgument,
                      fmt::format("cannot adopt a connection of scheme '{}': only tcp and ucx support it", scheme));
}

Status listen(std::string_view url, const Options& options, std::unique_ptr<Listener>& out) {
  Url u;
  const Scheme* scheme = nullptr;
  if (Status s = find_scheme(url, u, scheme); !s.ok()) return s;
  return scheme->listen(u, options, out);
}

}  // namespace gpool::transport
