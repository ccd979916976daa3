// cuGetExportTable of the test driver: table shapes (slot 0 sizes), refusals, stable pointers,
// and each slot whose behaviour the facts establish (sections 1-3).
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "driver_fixture.h"
#include "gpool/driver_abi/info_table.h"
#include "gpool/driver_abi/integrity_hash.h"

namespace gpool::abi::test {
namespace {

constexpr const char* kCudartInterface = "6bd5fb6c5bf4e74a8987d93912fd9df9";
constexpr const char* kToolsHooks = "a094798c2e742e7493f20800200c0a66";
constexpr const char* kToolsTls = "42d85a8123f6cb478298f6e78a3aecdc";
constexpr const char* kCls = "c693336e1121df11a8c368f355d89593";
constexpr const char* kContextChecks = "263e88607cd2614392f6bbd5006dfa7e";
constexpr const char* kIntegrity = "d4082055bde6704b8d34ba123c66e1f2";
constexpr const char* kCublas = "21318c60971432488ca641ff7324c8f2";
constexpr const char* kCufft = "6e163fbeb958444d835ce182aff1991e";
constexpr const char* kGpoolInfo = "67706f6f6c3a6162693a696e666f3a31";

const void* const* table(const char* uuid) {
  const void* t = nullptr;
  EXPECT_EQ(export_table(uuid, &t), CUDA_SUCCESS) << uuid;
  return static_cast<const void* const*>(t);
}

uintptr_t slot0(const char* uuid) { return reinterpret_cast<uintptr_t>(table(uuid)[0]); }

template <typename F>
F slot(const char* uuid, int index) {
  return reinterpret_cast<F>(const_cast<void*>(table(uuid)[index]));
}

TEST(ExportTables, SlotZeroHoldsTheSizeInBytes) {
  EXPECT_EQ(slot0(kCudartInterface), 13u * 8);
  EXPECT_EQ(slot0(kToolsHooks), 7u * 8);
  EXPECT_EQ(slot0(kToolsTls), 4u * 8);
  EXPECT_EQ(slot0(kContextChecks), 4u * 8);
  EXPECT_EQ(slot0(kIntegrity), 3u * 8);
  EXPECT_EQ(slot0(kCublas), 64u * 8);
  EXPECT_EQ(slot0(kCufft), 16u * 8);  // cuFFT needs at least 56 (it calls slot 7)
}

TEST(ExportTables, ContextLocalStorageHasNoSizeWord) {
  const void* const* cls = table(kCls);
  for (int i = 0; i < 3; ++i) {
    Dl_info info{};
    ASSERT_NE(dladdr(cls[i], &info), 0) << "slot " << i << " is not code of the driver";
    EXPECT_EQ(info.dli_fbase, [] {
      Dl_info self{};
      dladdr(dlsym(driver(), "cuInit"), &self);
      return self.dli_fbase;
    }());
  }
  EXPECT_EQ(cls[3], nullptr);
}

TEST(ExportTables, SamePointerEveryTime) {
  for (const char* uuid : {kCudartInterface, kToolsHooks, kToolsTls, kCls, kContextChecks,
                           kIntegrity, kCublas, kCufft, kGpoolInfo}) {
    const void* a = nullptr;
    const void* b = nullptr;
    EXPECT_EQ(export_table(uuid, &a), CUDA_SUCCESS);
    EXPECT_EQ(export_table(uuid, &b), CUDA_SUCCESS);
    EXPECT_NE(a, nullptr);
    EXPECT_EQ(a, b) << uuid;
  }
}

TEST(ExportTables, RefusesUnknownTables) {
  for (const char* uuid : {"f8cff95121468b4eb9e2fb469e7c0dd9",  // asked first by cudart
                           "0ca50b8c1004929a89a7d0df10e77286",  // CTX_CREATE_BYPASS
                           "6bd5fb6c5bf4e74a8987d93912fd9df8",  // CUDART_INTERFACE, last bit off
                           "00000000000000000000000000000000"}) {
    const void* t = reinterpret_cast<const void*>(0x1);
    EXPECT_EQ(export_table(uuid, &t), CUDA_ERROR_NOT_FOUND) << uuid;
    EXPECT_EQ(t, nullptr) << uuid;
  }
  auto get = entry<CUresult (*)(const void**, const CUuuid*)>("cuGetExportTable");
  CUuuid id{};
  EXPECT_EQ(get(nullptr, &id), CUDA_ERROR_INVALID_VALUE);
  const void* t = reinterpret_cast<const void*>(0x1);
  EXPECT_EQ(get(&t, nullptr), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(t, nullptr);
}

TEST(ExportTables, ToolsHooksHandOutZeroedArrays) {
  using Flags = void (*)(void**, size_t*);
  for (auto [index, minimum] : {std::pair{2, size_t{523}}, std::pair{6, size_t{14}}}) {
    void* buf = nullptr;
    size_t count = 0;
    slot<Flags>(kToolsHooks, index)(&buf, &count);
    ASSERT_NE(buf, nullptr);
    EXPECT_GE(count, minimum);
    const auto* words = static_cast<const uint32_t*>(buf);
    for (size_t i = 0; i < count; ++i) ASSERT_EQ(words[i], 0u) << "slot " << index << " [" << i << "]";
    void* again = nullptr;
    slot<Flags>(kToolsHooks, index)(&again, &count);
    EXPECT_EQ(again, buf);
  }
}

TEST(ExportTables, ToolsTlsAndContextChecksReturnZero) {
  using TlsRecord = int (*)(void*, uintptr_t, void*, void*);
  int record = 0;
  EXPECT_EQ(slot<TlsRecord>(kToolsTls, 2)(&record, 0x37, nullptr, nullptr), 0);

  using Check = CUresult (*)(CUcontext, uint32_t*, void**);
  uint32_t out1 = 7;
  void* out2 = reinterpret_cast<void*>(0x1234);
  EXPECT_EQ(slot<Check>(kContextChecks, 2)(nullptr, &out1, &out2), CUDA_SUCCESS);
  EXPECT_EQ(out1, 0u);
  EXPECT_EQ(out2, reinterpret_cast<void*>(0x1234));
  EXPECT_EQ(slot<uint32_t (*)()>(kContextChecks, 3)(), 0u);
}

TEST(ExportTables, CudartInterfacePrimaryContextMatchesRetain) {
  using Primary = CUresult (*)(CUcontext*, CUdevice);
  using Retain = CUresult (*)(CUcontext*, CUdevice);
  auto retain = entry<Retain>("cuDevicePrimaryCtxRetain");
  for (CUdevice dev : {0, 1}) {
    CUcontext from_table = nullptr;
    CUcontext retained = nullptr;
    EXPECT_EQ(slot<Primary>(kCudartInterface, 2)(&from_table, dev), CUDA_SUCCESS);
    EXPECT_EQ(retain(&retained, dev), CUDA_SUCCESS);
    EXPECT_NE(from_table, nullptr);
    EXPECT_EQ(from_table, retained);
  }
  CUcontext ctx = nullptr;
  EXPECT_NE(slot<Primary>(kCudartInterface, 2)(&ctx, 99), CUDA_SUCCESS);
  EXPECT_EQ(slot<Primary>(kCudartInterface, 2)(nullptr, 0), CUDA_ERROR_INVALID_VALUE);
}

TEST(ExportTables, CudartInterfaceModuleLoaders) {
  // The test backend's loaders return the image pointer as the module handle.
  const char image[] = "image";
  CUmodule m = nullptr;
  using Load1 = CUresult (*)(CUmodule*, const void*);
  EXPECT_EQ(slot<Load1>(kCudartInterface, 1)(&m, image), CUDA_SUCCESS);
  EXPECT_EQ(reinterpret_cast<const void*>(m), image);
  EXPECT_EQ(slot<Load1>(kCudartInterface, 1)(&m, nullptr), CUDA_ERROR_INVALID_VALUE);

  using Load6 = CUresult (*)(CUmodule*, const void*, void*, void*, unsigned);
  m = nullptr;
  EXPECT_EQ(slot<Load6>(kCudartInterface, 6)(&m, image, nullptr, nullptr, 0), CUDA_SUCCESS);
  EXPECT_EQ(reinterpret_cast<const void*>(m), image);
  EXPECT_EQ(slot<Load6>(kCudartInterface, 6)(&m, image, &m, nullptr, 0),
            CUDA_ERROR_NOT_SUPPORTED);

  using Load8 = CUresult (*)(const void*, CUmodule*, void*, void*, unsigned);
  m = nullptr;
  EXPECT_EQ(slot<Load8>(kCudartInterface, 8)(image, &m, nullptr, nullptr, 0), CUDA_SUCCESS);
  EXPECT_EQ(reinterpret_cast<const void*>(m), image);
  EXPECT_EQ(slot<Load8>(kCudartInterface, 8)(image, &m, nullptr, nullptr, 1),
            CUDA_ERROR_NOT_SUPPORTED);

  EXPECT_EQ(slot<CUresult (*)()>(kCudartInterface, 12)(), CUDA_SUCCESS);
  slot<void (*)(size_t)>(kCudartInterface, 7)(42);  // no-op, must not crash
}

TEST(IntegrityCheck, FixedAnswersFor13000And13001) {
  using Slot1 = CUresult (*)(uint32_t, uint64_t, uint64_t*);
  uint64_t out[2] = {0, 0};
  EXPECT_EQ(slot<Slot1>(kIntegrity, 1)(13000, 1795564615, out), CUDA_SUCCESS);
  EXPECT_EQ(out[0], 0x3341181C03CB675CULL);
  EXPECT_EQ(out[1], 0x8ED383AA1F4CD1E8ULL);
  EXPECT_EQ(slot<Slot1>(kIntegrity, 1)(13001, 1795564615, out), CUDA_SUCCESS);
  EXPECT_EQ(out[0], 0x1841181C03CB675CULL);
  EXPECT_EQ(out[1], 0x8ED383AA1F4CD1E8ULL);
  EXPECT_EQ(slot<Slot1>(kIntegrity, 1)(13002, 1, nullptr), CUDA_ERROR_INVALID_VALUE);
}

// The answer the driver must give on the calling thread, computed from explicit inputs: the
// test backend reports driver 13000 and 2 devices (UUID fa ce c0 de 01..0b 0c+d, PCI 3/1a+d/5).
Md2Digest expected_answer(uint32_t version, uint64_t secs) {
  IntegrityInputs in;
  in.driver_version = 13000;
  in.version = version;
  in.pid = static_cast<uint32_t>(getpid());
  in.thread = static_cast<uint32_t>(static_cast<uint64_t>(pthread_self()));
  in.cudart_table = reinterpret_cast<uintptr_t>(table(kCudartInterface));
  in.integrity_table = reinterpret_cast<uintptr_t>(table(kIntegrity));
  in.slot1_function = reinterpret_cast<uintptr_t>(table(kIntegrity)[1]);
  in.unix_secs = secs;
  for (int d = 0; d < 2; ++d) {
    IntegrityDevice dev;
    dev.uuid = {0xfa, 0xce, 0xc0, 0xde, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
                static_cast<uint8_t>(12 + d)};
    dev.pci_domain = 3;
    dev.pci_bus = 0x1a + d;
    dev.pci_device = 5;
    in.devices.push_back(dev);
  }
  return integrity_answer(in);
}

TEST(IntegrityCheck, HashOfTheProcessAndTheBackendsDevices) {
  using Slot1 = CUresult (*)(uint32_t, uint64_t, uint64_t*);
  const uint64_t secs = static_cast<uint64_t>(std::time(nullptr));
  uint64_t out[2] = {0, 0};
  ASSERT_EQ(slot<Slot1>(kIntegrity, 1)(13002, secs, out), CUDA_SUCCESS);
  Md2Digest want = expected_answer(13002, secs);
  EXPECT_EQ(std::memcmp(out, want.data(), 16), 0);

  // On another thread the thread field (pthread_self) differs, and so does the answer.
  uint64_t other[2] = {0, 0};
  Md2Digest other_want{};
  std::thread t([&] {
    slot<Slot1>(kIntegrity, 1)(13002, secs, other);
    other_want = expected_answer(13002, secs);
  });
  t.join();
  EXPECT_EQ(std::memcmp(other, other_want.data(), 16), 0);
  EXPECT_NE(std::memcmp(other, out, 16), 0);
}

TEST(CublasTable, EstablishedSlots) {
  using Slot4 = CUresult (*)(void*, uint64_t*);
  uint64_t out = 7;
  EXPECT_EQ(slot<Slot4>(kCublas, 4)(nullptr, &out), CUDA_SUCCESS);
  EXPECT_EQ(out, 0u);
  EXPECT_EQ(slot<Slot4>(kCublas, 4)(&out, &out), CUDA_SUCCESS);
  EXPECT_EQ(out, 1u);

  using Slot39 = CUresult (*)(void*, void*, uint64_t*);
  out = 7;
  EXPECT_EQ(slot<Slot39>(kCublas, 39)(nullptr, nullptr, &out), CUDA_SUCCESS);
  EXPECT_EQ(out, 0u);

  using Slot51 = CUresult (*)(void*, uintptr_t, void**);
  void* obj = nullptr;
  EXPECT_EQ(slot<Slot51>(kCublas, 51)(nullptr, ~uintptr_t{0}, &obj), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(slot<Slot51>(kCublas, 51)(nullptr, 0, &obj), CUDA_SUCCESS);
  ASSERT_NE(obj, nullptr);
  const auto* bytes = static_cast<const uint8_t*>(obj);
  for (int i = 0; i < 512; ++i) ASSERT_EQ(bytes[i], 0) << i;

  // Unknown slots are stubs returning 0.
  EXPECT_EQ(slot<uintptr_t (*)()>(kCublas, 17)(), 0u);
}

// Slot 7 hands every function of a module to cuFFT's callback and returns how many it reported.
TEST(CufftTable, Slot7EnumeratesTheModulesFunctions) {
  using Callback = void (*)(void* user, CUfunction f);
  using Slot7 = int (*)(CUcontext, CUmodule, Callback, void*);
  Callback collect = [](void* user, CUfunction f) {
    static_cast<std::vector<CUfunction>*>(user)->push_back(f);
  };
  unsigned char image[4] = {3, 0, 0, 0};  // the test backend: 3 functions, image + 1 ... + 3
  auto* mod = reinterpret_cast<CUmodule>(image);
  std::vector<CUfunction> got;
  EXPECT_EQ(slot<Slot7>(kCufft, 7)(nullptr, mod, collect, &got), 3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reinterpret_cast<unsigned char*>(got[i]), image + i + 1);

  image[0] = 1;  // cuFFT's case: one kernel, return 1
  got.clear();
  EXPECT_EQ(slot<Slot7>(kCufft, 7)(nullptr, mod, collect, &got), 1);
  ASSERT_EQ(got.size(), 1u);

  got.clear();  // failures: 0 and no callback
  EXPECT_EQ(slot<Slot7>(kCufft, 7)(nullptr, nullptr, collect, &got), 0);
  EXPECT_EQ(slot<Slot7>(kCufft, 7)(nullptr, mod, nullptr, &got), 0);
  EXPECT_TRUE(got.empty());

  // Slots never seen called refuse instead of pretending.
  EXPECT_EQ(slot<CUresult (*)()>(kCufft, 1)(), CUDA_ERROR_NOT_SUPPORTED);
  EXPECT_EQ(slot<CUresult (*)()>(kCufft, 15)(), CUDA_ERROR_NOT_SUPPORTED);
}

TEST(GpoolInfoTable, ListsEveryEntryPointWithItsStatus) {
  const auto* info = reinterpret_cast<const gpool_info_table*>(table(kGpoolInfo));
  ASSERT_EQ(info->size, sizeof(gpool_info_table));
  EXPECT_STREQ(info->backend_name(), "test");
  EXPECT_EQ(info->cuda_header_version, CUDA_VERSION);
  const size_t n = info->entry_count();
  EXPECT_GE(n, 600u);
  std::map<std::string, uint32_t> status;
  for (size_t i = 0; i < n; ++i) {
    gpool_entry_info e{};
    ASSERT_EQ(info->entry(i, &e), 0);
    EXPECT_EQ(e.address, dlsym(driver(), e.name)) << e.name;
    status[e.name] = e.status;
  }
  gpool_entry_info e{};
  EXPECT_EQ(info->entry(n, &e), 1);
  EXPECT_EQ(status["cuDriverGetVersion"], GPOOL_ENTRY_BACKEND);
  EXPECT_EQ(status["cuGetProcAddress_v2"], GPOOL_ENTRY_ABI);
  EXPECT_EQ(status["cuGetErrorString"], GPOOL_ENTRY_ABI);
  EXPECT_EQ(status["cuMemcpyDtoH_v2_ptds"], GPOOL_ENTRY_PER_THREAD_FALLBACK);
  EXPECT_EQ(status["cuMemcpyHtoD_v2_ptds"], GPOOL_ENTRY_NOT_SUPPORTED);
  EXPECT_EQ(status["cuMemAlloc_v2"], GPOOL_ENTRY_NOT_SUPPORTED);
}

}  // namespace
}  // namespace gpool::abi::test
