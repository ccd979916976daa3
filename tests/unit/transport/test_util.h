// Shared helpers of the transport tests: the transport cases, connected pairs, frame builders.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "gpool/transport/transport.h"

namespace gpool::transport::test {

// One transport implementation under test.
struct TransportCase {
  std::string name;        // test name suffix
  std::string listen_url;  // e.g. "tcp://127.0.0.1:0"
  Options options;
  // Round trips make_pair() runs before handing the pair out (ucx:// moves a connection from
  // its TCP bootstrap socket to UCX during the first exchanges; see ucx_connection.h).
  int warmup_round_trips = 0;
  // backend() of both ends once the pair is ready; empty: not checked.
  std::string backend;
  // Options of the connecting side when they differ from the listener's (tls:// client
  // certificates).
  std::optional<Options> client_options;
};

// gtest prints a case by its name.
inline void PrintTo(const TransportCase& c, std::ostream* os) { *os << c.name; }

// Every transport of this build (the conformance suite runs each).
std::vector<TransportCase> all_cases();
// all_cases() without tls:// (for tests that talk to a listener with raw TCP bytes).
std::vector<TransportCase> plain_cases();

// Options with test-friendly timeouts (no call may hang for ever).
Options test_options();

// A connected pair: client from connect(), server from the listener's accept().
struct Pair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Connection> client;
  std::unique_ptr<Connection> server;
};

// Listens and connects. On kUnavailable sets `skip` to the reason (the case cannot run here).
Status make_pair(const TransportCase& c, Pair& out, std::string& skip);

// Finished Envelopes.
std::vector<std::byte> ping(uint64_t nonce);
std::vector<std::byte> pong(uint64_t nonce);
std::vector<std::byte> call(uint64_t call_id, uint32_t segments);

// Deterministic payload bytes for (frame, segment).
void fill_pattern(std::span<std::byte> buf, uint64_t seed);
bool check_pattern(std::span<const std::byte> buf, uint64_t seed);

}  // namespace gpool::transport::test
