#include "gpool/remote/call_codec.h"

#include <cstring>

namespace gpool::remote {
namespace {

template <typename T>
void put(std::vector<std::byte>& out, const T& v) {
  const auto* p = reinterpret_cast<const std::byte*>(&v);
  out.insert(out.end(), p, p + sizeof v);
}

template <typename T>
bool get(std::span<const std::byte>& in, T& v) {
  if (in.size() < sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  in = in.subspan(sizeof v);
  return true;
}

std::vector<uint32_t> segment_indices(uint32_t n) {
  std::vector<uint32_t> v(n);
  for (uint32_t i = 0; i < n; ++i) v[i] = i;
  return v;
}

}  // namespace

void build_call(flatbuffers::FlatBufferBuilder& fbb, uint64_t call_id, uint64_t seq, Op op,
                bool async, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                std::span<const std::byte> inline_data, uint32_t segment_count) {
  fbb.Clear();
  auto a = fbb.CreateVector(args.data(), args.size());
  auto h = fbb.CreateVectorOfStructs(handles.data(), handles.size());
  auto d = fbb.CreateVector(reinterpret_cast<const uint8_t*>(inline_data.data()), inline_data.size());
  auto s = fbb.CreateVector(segment_indices(segment_count));
  auto call = protocol::wire::CreateCall(
      fbb, call_id, seq, static_cast<uint32_t>(op),
      async ? protocol::wire::CallFlags_Async : protocol::wire::CallFlags_NONE, a, h, d, s);
  protocol::finish_envelope(fbb, call);
}

void build_reply(flatbuffers::FlatBufferBuilder& fbb, uint64_t call_id, int32_t status,
                 uint64_t completed_seq, int32_t sticky_status, uint64_t sticky_seq,
                 std::span<const uint64_t> results, std::span<const std::byte> inline_data,
                 uint32_t segment_count) {
  fbb.Clear();
  auto r = fbb.CreateVector(results.data(), results.size());
  auto d = fbb.CreateVector(reinterpret_cast<const uint8_t*>(inline_data.data()), inline_data.size());
  auto s = fbb.CreateVector(segment_indices(segment_count));
  auto reply = protocol::wire::CreateReply(fbb, call_id, status, completed_seq, sticky_status,
                                           sticky_seq, r, d, s);
  protocol::finish_envelope(fbb, reply);
}

void encode_devices(std::span<const DeviceInfo> devices, std::vector<std::byte>& out) {
  put(out, static_cast<uint32_t>(devices.size()));
  for (const DeviceInfo& d : devices) {
    put(out, static_cast<uint32_t>(d.name.size()));
    const auto* p = reinterpret_cast<const std::byte*>(d.name.data());
    out.insert(out.end(), p, p + d.name.size());
    put(out, d.total_mem);
    put(out, d.uuid);
    put(out, d.attrs);
  }
}

bool decode_devices(std::span<const std::byte> in, std::vector<DeviceInfo>& out) {
  uint32_t n = 0;
  if (!get(in, n) || n > 64) return false;
  std::vector<DeviceInfo> devices(n);
  for (DeviceInfo& d : devices) {
    uint32_t len = 0;
    if (!get(in, len) || len > 256 || in.size() < len) return false;
    d.name.assign(reinterpret_cast<const char*>(in.data()), len);
    in = in.subspan(len);
    if (!get(in, d.total_mem) || !get(in, d.uuid) || !get(in, d.attrs)) return false;
  }
  if (!in.empty()) return false;
  out = std::move(devices);
  return true;
}

}  // namespace gpool::remote
