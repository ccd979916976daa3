// The metrics process's HTTP server: GET /metrics from one thread and one poll loop.
//
// Every client costs a descriptor and a small buffer, never a thread, so idle or slow clients
// cannot hold back a scrape: each must send its whole request head (at most kMaxRequestBytes)
// within kRequestTimeout, and when kMaxClients are open the oldest is closed to make room for
// a new one. Each connection serves one request (Connection: close). Answers: 200 with the
// body for GET (or HEAD) /metrics, 404 for another path, 405 for another method, 400 for a
// request that is not HTTP.
//
// Ownership: bind_http() returns a listening socket the caller owns; serve_http() takes it and
// never returns except on a poll failure (logged; the supervisor restarts the process).
// Thread safety: one thread. Errors: bind_http returns -1 with `error`.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace gpool::server {

inline constexpr size_t kMaxHttpClients = 256;
inline constexpr size_t kMaxRequestBytes = 8192;
inline constexpr std::chrono::milliseconds kRequestTimeout{2000};

// A listening TCP socket on host:port (port 0 picks one; `bound_port` says which).
int bind_http(const std::string& host, int port, int& bound_port, std::string& error);

// Serves on `listen_fd`, calling `metrics_body()` for each GET /metrics.
void serve_http(int listen_fd, const std::function<std::string()>& metrics_body);

// The response to one request head (exposed for tests): status line, headers and body.
std::string http_response(std::string_view request_head, const std::function<std::string()>& metrics_body);

}  // namespace gpool::server
