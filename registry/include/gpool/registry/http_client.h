// A minimal HTTP/1.1 client for etcd's v3 JSON gateway: one POST per connection
// ("Connection: close"), plain TCP (http:// only), a response with Content-Length, chunked
// encoding or read to the end of the connection.
//
// Every step (resolve, connect, send, each read) is bounded by `timeout`: a stalled or silent
// peer costs at most about that long per call, never a hang. Responses larger than
// kMaxResponse are refused (a gateway answer for a pool is a few KiB per server).
//
// Errors: post() returns false with `error` naming the address and what failed ("connect to
// 127.0.0.1:2379: Connection refused", "timed out after 2000 ms waiting for the answer",
// "malformed status line"). An HTTP status other than 2xx is not an error here: the caller reads
// HttpResponse::status (etcd answers errors as JSON with status 4xx/5xx).
// Thread safety: free functions without shared state; any thread.
#pragma once

#include <chrono>
#include <string>

namespace gpool::registry {

inline constexpr size_t kMaxResponse = 16u << 20;

struct HttpResponse {
  int status = 0;
  std::string body;
};

// POSTs `body` (Content-Type: application/json) to http://host:port`path`.
bool http_post(const std::string& host, int port, const std::string& path, const std::string& body,
               std::chrono::milliseconds timeout, HttpResponse& out, std::string& error);

// Decodes a chunked transfer-encoded body; false when it is malformed or truncated.
bool decode_chunked(const std::string& in, std::string& out);

}  // namespace gpool::registry
