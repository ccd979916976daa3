// Encoding and decoding of gpool's remote driver calls (shared by client-shim/ and server/).
//
// Calls travel in the generic `Call` / `Reply` messages of protocol/schema/gpool.fbs; the
// opcodes and each call's argument layout are specified in protocol/calls/calls.toml (generated
// at build time into calls_generated.h by gen_calls.py, DO NOT EDIT). This header adds the few helpers both
// sides need: building a Call or Reply envelope and the attach record of a device.
//
// Errors: decode_devices() returns false for malformed input (never reads out of bounds).
// Thread safety: pure functions; a FlatBufferBuilder is used by one thread at a time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "calls_generated.h"
#include "gpool/common/sha256.h"
#include "gpool/protocol/message.h"

namespace gpool::remote {

using protocol::calls::Op;
using protocol::wire::HandleKind;
using protocol::wire::HandleRef;
inline constexpr HandleKind HandleKind_Context = protocol::wire::HandleKind_Context;
inline constexpr HandleKind HandleKind_Stream = protocol::wire::HandleKind_Stream;
inline constexpr HandleKind HandleKind_Event = protocol::wire::HandleKind_Event;
inline constexpr HandleKind HandleKind_Module = protocol::wire::HandleKind_Module;
inline constexpr HandleKind HandleKind_Library = protocol::wire::HandleKind_Library;
inline constexpr HandleKind HandleKind_Kernel = protocol::wire::HandleKind_Kernel;
inline constexpr HandleKind HandleKind_Function = protocol::wire::HandleKind_Function;

// Number of CUdevice_attribute values fetched at attach (attributes 1 .. kAttrCount-1).
inline constexpr int kAttrCount = 160;

// Builds `fbb` into an Envelope{Call}. `segment_count` segments follow the message (their
// indices 0..n-1 are listed in Call.segments).
void build_call(flatbuffers::FlatBufferBuilder& fbb, uint64_t call_id, uint64_t seq, Op op,
                bool async, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                std::span<const std::byte> inline_data, uint32_t segment_count);

// Builds `fbb` into an Envelope{Reply}.
void build_reply(flatbuffers::FlatBufferBuilder& fbb, uint64_t call_id, int32_t status,
                 uint64_t completed_seq, int32_t sticky_status, uint64_t sticky_seq,
                 std::span<const uint64_t> results, std::span<const std::byte> inline_data,
                 uint32_t segment_count);

// What a client learns about one device at attach.
struct DeviceInfo {
  std::string name;
  uint64_t total_mem = 0;
  std::array<uint8_t, 16> uuid{};
  std::array<int32_t, kAttrCount> attrs{};  // attrs[a] = cuDeviceGetAttribute(a); 0 if unknown
};

// Appends the encoding of `devices` to `out` / decodes it (false on malformed input).
void encode_devices(std::span<const DeviceInfo> devices, std::vector<std::byte>& out);
bool decode_devices(std::span<const std::byte> in, std::vector<DeviceInfo>& out);

// SHA-256 and hex live in common/ (gpool/common/sha256.h); named here for existing callers.
using hash::sha256;
using hash::to_hex;

inline std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

}  // namespace gpool::remote
