// Writes the binary seed corpora of fuzz_frame, fuzz_call and fuzz_hello (fuzz/corpus/): real
// frames as the shim sends them, built with the same builders. Not run by CI; rerun when the
// schema changes:  build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gpool/protocol/frame.h"
#include "gpool/protocol/message.h"
#include "gpool/remote/call_codec.h"

namespace {

namespace wire = gpool::protocol::wire;
using gpool::protocol::finished_bytes;

void write(const std::string& path, std::span<const std::byte> bytes, std::span<const std::byte> prefix = {}) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(prefix.data()), static_cast<std::streamsize>(prefix.size()));
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::byte> frame(const flatbuffers::FlatBufferBuilder& fbb, std::vector<std::vector<std::byte>> segs = {}) {
  std::vector<std::span<const std::byte>> spans(segs.begin(), segs.end());
  std::vector<std::byte> out;
  if (!gpool::protocol::encode_frame(finished_bytes(fbb), spans, out).ok()) std::abort();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_make_seeds CORPUS_DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  {  // Hello (fuzz_hello's first byte is the piece size; fuzz_call's the segment count)
    flatbuffers::FlatBufferBuilder fbb;
    auto info = wire::CreateClientInfo(fbb, fbb.CreateString("node1"), 4242, fbb.CreateString("vector_add"),
                                       fbb.CreateString("0.1.0"));
    auto h = wire::CreateHello(fbb, gpool::protocol::kProtocolVersion, fbb.CreateString("tok-user"), info);
    gpool::protocol::finish_envelope(fbb, h);
    const auto f = frame(fbb);
    const std::byte big[] = {std::byte{63}}, seven[] = {std::byte{6}}, zero[] = {std::byte{0}};
    write(dir + "/hello/hello_pieces64.bin", f, big);
    write(dir + "/hello/hello_pieces7.bin", f, seven);
    write(dir + "/frame/hello.bin", f);
    write(dir + "/call/hello.bin", finished_bytes(fbb), zero);
  }
  {  // A Call with args, handles, inline data and one segment (a MemcpyHtoD-like call)
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<uint64_t> args{0x7f0000001000, 4096, 1};
    const std::vector<uint8_t> inl{1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<uint32_t> segs{0};
    std::vector<wire::HandleRef> handles{wire::HandleRef(7, static_cast<wire::HandleKind>(1))};
    auto c = wire::CreateCall(fbb, 11, 3, 20, wire::CallFlags_NONE, fbb.CreateVector(args), fbb.CreateVectorOfStructs(handles),
                              fbb.CreateVector(inl), fbb.CreateVector(segs));
    gpool::protocol::finish_envelope(fbb, c);
    std::vector<std::byte> payload(64, std::byte{0x5a});
    write(dir + "/frame/call_segment.bin", frame(fbb, {payload}));
    const std::byte one[] = {std::byte{1}};
    write(dir + "/call/call_segment.bin", finished_bytes(fbb), one);
  }
  {  // A Reply with a device list (what Attach returns) and a Ping
    std::vector<gpool::remote::DeviceInfo> devices(1);
    std::vector<std::byte> enc;
    gpool::remote::encode_devices(devices, enc);
    flatbuffers::FlatBufferBuilder fbb;
    const std::vector<uint8_t> inl(reinterpret_cast<const uint8_t*>(enc.data()),
                                   reinterpret_cast<const uint8_t*>(enc.data()) + enc.size());
    auto c = wire::CreateCall(fbb, 1, 1, 1, wire::CallFlags_NONE, 0, 0, fbb.CreateVector(inl), 0);
    gpool::protocol::finish_envelope(fbb, c);
    const std::byte zero[] = {std::byte{0}};
    write(dir + "/call/call_devices.bin", finished_bytes(fbb), zero);
    flatbuffers::FlatBufferBuilder ping;
    gpool::protocol::finish_envelope(ping, wire::CreatePing(ping, 99));
    write(dir + "/frame/ping.bin", frame(ping));
  }
  return 0;
}
