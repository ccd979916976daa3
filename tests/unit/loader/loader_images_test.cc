// The loader on real nvcc 13 images: every container flavour, compression
// mode, PTX selection, and the fatbin wrapper as cudart receives it.
#include "cudart_stubs.h"
#include "gpool/emu/loader/image.h"
#include "gpool/emu/ptx/parser.h"
#include "loader_test_util.h"

#include <gtest/gtest.h>

#include <cstring>
#include <tuple>

namespace gpool::emu::loader {
namespace {

constexpr const char* kVectorAdd = "_Z9vectorAddPKfS0_Pfi";
constexpr const char* kMixed = "_Z11mixedParamsc5MixedPsd4int4";

Image parse_ok(const std::vector<uint8_t>& bytes, bool with_size = true) {
  Image img;
  std::string err;
  EXPECT_TRUE(parse_image(bytes.data(), &img, &err, with_size ? bytes.size() : SIZE_MAX)) << err;
  return img;
}

const CubinKernel* find_kernel(const CubinInfo& c, const std::string& name) {
  for (const CubinKernel& k : c.kernels)
    if (k.name == name) return &k;
  return nullptr;
}

// vectorAdd(const float*, const float*, float*, int): 0/8/16/24, 8/8/8/4, 28 bytes.
void expect_vector_add_layout(const CubinInfo& c) {
  const CubinKernel* k = find_kernel(c, kVectorAdd);
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(k->params.size(), 4u);
  const uint32_t offsets[] = {0, 8, 16, 24}, sizes[] = {8, 8, 8, 4};
  for (uint32_t i = 0; i < 4; ++i) {
    EXPECT_EQ(k->params[i].ordinal, i);
    EXPECT_EQ(k->params[i].offset, offsets[i]);
    EXPECT_EQ(k->params[i].size, sizes[i]);
  }
  EXPECT_EQ(k->param_bytes, 28u);
  // mixedParams(char, Mixed{double,char}, short*, double, int4): 0/8/24/32/48, 1/16/8/8/16.
  const CubinKernel* m = find_kernel(c, kMixed);
  ASSERT_NE(m, nullptr);
  ASSERT_EQ(m->params.size(), 5u);
  const uint32_t moff[] = {0, 8, 24, 32, 48}, msize[] = {1, 16, 8, 8, 16};
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(m->params[i].offset, moff[i]) << i;
    EXPECT_EQ(m->params[i].size, msize[i]) << i;
  }
  EXPECT_EQ(m->param_bytes, 64u);
}

// The PTX parses and declares the kernels with the expected parameter counts.
void expect_ptx_kernels(const PtxEntry& e) {
  ptx::Module m;
  std::string err;
  ASSERT_TRUE(ptx::parse(e.text, &m, &err)) << err;
  EXPECT_EQ(m.target, "sm_" + std::to_string(e.arch));
  size_t found = 0;
  for (const ptx::Function& f : m.functions) {
    if (f.name == kVectorAdd) {
      EXPECT_TRUE(f.is_entry);
      EXPECT_EQ(f.params.size(), 4u);
      ++found;
    }
    if (f.name == kMixed) {
      EXPECT_EQ(f.params.size(), 5u);
      ++found;
    }
  }
  EXPECT_EQ(found, 2u);
}

struct Variant {
  const char* file;
  uint64_t ptx_compression;  // flag expected on the PTX entry (0 = none)
  uint64_t elf_compression;
};

TEST(LoaderImages, FatbinInEveryCompressionMode) {
  const Variant variants[] = {{"default.fatbin", 0x8000, 0},
                              {"speed.fatbin", 0x2000, 0},
                              {"size.fatbin", 0x8000, 0x8000},
                              {"none.fatbin", 0, 0},
                              {"all.fatbin", 0x8000, 0x8000}};
  for (const Variant& v : variants) {
    SCOPED_TRACE(v.file);
    std::vector<uint8_t> bytes = read_image(v.file);
    // What the variant really holds, read independently of the loader.
    bool saw_ptx = false, saw_elf = false;
    for (const RawEntry& e : raw_entries(bytes)) {
      uint64_t want = e.kind == 1 ? v.ptx_compression : v.elf_compression;
      EXPECT_EQ(e.flags & 0xa000u, want) << "entry kind " << e.kind;
      EXPECT_EQ(e.compressed_size != 0, want != 0) << "entry kind " << e.kind;
      saw_ptx |= e.kind == 1;
      saw_elf |= e.kind == 2;
    }
    EXPECT_TRUE(saw_ptx && saw_elf);
    for (bool with_size : {true, false}) {
      Image img = parse_ok(bytes, with_size);
      EXPECT_EQ(img.format, Image::Format::Fatbin);
      EXPECT_EQ(img.size, bytes.size());
      EXPECT_EQ(img.base, bytes.data());
      ASSERT_EQ(img.cubins.size(), 1u);
      EXPECT_EQ(img.cubins[0].sm, 75u);
      expect_vector_add_layout(img.cubins[0]);
      ASSERT_EQ(img.ptx.size(), 1u);
      EXPECT_EQ(img.ptx[0].arch, 75u);
      EXPECT_EQ(img.ptx[0].text.find('\0'), std::string::npos);
      expect_ptx_kernels(img.ptx[0]);
    }
  }
}

TEST(LoaderImages, BareCubinsBothArchs) {
  for (auto [file, sm] : {std::pair{"sm75.cubin", 75u}, std::pair{"sm90.cubin", 90u}}) {
    SCOPED_TRACE(file);
    std::vector<uint8_t> bytes = read_image(file);
    for (bool with_size : {true, false}) {
      Image img = parse_ok(bytes, with_size);
      EXPECT_EQ(img.format, Image::Format::Elf);
      EXPECT_EQ(img.size, bytes.size());  // computed from the ELF headers
      EXPECT_TRUE(img.ptx.empty());
      ASSERT_EQ(img.cubins.size(), 1u);
      EXPECT_EQ(img.cubins[0].sm, sm);
      expect_vector_add_layout(img.cubins[0]);
    }
  }
}

// Registers per thread ptxas allocated, from sh_info >> 24 of ".text.<kernel>".
// The expected numbers are what `nvcc -cubin -Xptxas -v` (CUDA 13.0) prints for
// kernels/vector_add.cu: sm_75 vectorAdd 12, mixedParams 10; sm_90 14 and 10.
TEST(LoaderImages, CubinRegisterCounts) {
  Image both;
  for (auto [file, va, mixed] : {std::tuple{"sm75.cubin", 12u, 10u}, std::tuple{"sm90.cubin", 14u, 10u}}) {
    SCOPED_TRACE(file);
    Image img = parse_ok(read_image(file));
    ASSERT_EQ(img.cubins.size(), 1u);
    const CubinKernel* k = find_kernel(img.cubins[0], kVectorAdd);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->num_regs, va);
    k = find_kernel(img.cubins[0], kMixed);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->num_regs, mixed);
    both.cubins.push_back(img.cubins[0]);
  }
  // The cubin a device would run (same major, minor <= its own) wins, else the nearest SM.
  EXPECT_EQ(cubin_register_count(both, kVectorAdd, 75), 12u);
  EXPECT_EQ(cubin_register_count(both, kVectorAdd, 90), 14u);
  EXPECT_EQ(cubin_register_count(both, kVectorAdd, 86), 14u);
  EXPECT_EQ(cubin_register_count(both, kVectorAdd, 120), 14u);
  EXPECT_EQ(cubin_register_count(both, kVectorAdd, 70), 12u);
  EXPECT_EQ(cubin_register_count(both, "noSuchKernel", 75), 0u);
  // nvcc's default fatbin carries the same sm_75 SASS.
  Image fat = parse_ok(read_image("default.fatbin"));
  EXPECT_EQ(cubin_register_count(fat, kVectorAdd, 90), 12u);
  EXPECT_EQ(cubin_register_count(fat, kMixed, 75), 10u);
}

TEST(LoaderImages, PtxText) {
  std::vector<uint8_t> bytes = read_image("compute75.ptx");
  std::vector<uint8_t> terminated = bytes;
  terminated.push_back(0);
  Image img = parse_ok(terminated, false);  // as cuModuleLoadData gets it: NUL-terminated, no size
  EXPECT_EQ(img.format, Image::Format::PtxText);
  EXPECT_EQ(img.size, terminated.size());
  ASSERT_EQ(img.ptx.size(), 1u);
  EXPECT_EQ(img.ptx[0].arch, 75u);
  EXPECT_EQ(img.ptx[0].text.size(), bytes.size());
  expect_ptx_kernels(img.ptx[0]);
  Image from_file = parse_ok(bytes, true);  // a .ptx file: no NUL, size known
  EXPECT_EQ(from_file.ptx.at(0).text, img.ptx[0].text);
}

TEST(LoaderImages, TwoPtxArchsAndSelection) {
  std::vector<uint8_t> bytes = read_image("two_ptx.fatbin");
  Image img = parse_ok(bytes);
  ASSERT_EQ(img.ptx.size(), 2u);
  ASSERT_EQ(img.cubins.size(), 1u);
  EXPECT_EQ(img.cubins[0].sm, 90u);
  for (const PtxEntry& e : img.ptx) expect_ptx_kernels(e);
  ASSERT_NE(select_ptx(img, 75), nullptr);
  EXPECT_EQ(select_ptx(img, 75)->arch, 75u);
  EXPECT_EQ(select_ptx(img, 86)->arch, 75u);
  EXPECT_EQ(select_ptx(img, 90)->arch, 90u);
  EXPECT_EQ(select_ptx(img, 120)->arch, 90u);
  EXPECT_EQ(select_ptx(img, 70), nullptr);
  std::string msg = no_ptx_message(img, 70);
  EXPECT_NE(msg.find("compute_75, compute_90"), std::string::npos) << msg;
  EXPECT_NE(msg.find("sm_70"), std::string::npos) << msg;
}

TEST(LoaderImages, SassOnlyImageHasNoPtxAndSaysHowToRebuild) {
  Image img = parse_ok(read_image("sass_only.fatbin"));
  EXPECT_TRUE(img.ptx.empty());
  ASSERT_EQ(img.cubins.size(), 1u);
  EXPECT_EQ(select_ptx(img, 90), nullptr);
  std::string msg = no_ptx_message(img, 86);
  EXPECT_NE(msg.find("only SASS (sm_75)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("-gencode arch=compute_86,code=compute_86"), std::string::npos) << msg;
}

TEST(LoaderImages, BackToBackContainers) {
  std::vector<uint8_t> a = read_image("default.fatbin"), b = read_image("two_ptx.fatbin");
  while (a.size() % 8) a.push_back(0);
  std::vector<uint8_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  Image img = parse_ok(both);
  EXPECT_EQ(img.size, both.size());
  EXPECT_EQ(img.ptx.size(), 3u);
  EXPECT_EQ(img.cubins.size(), 2u);
  // Without a size only the first container is read (a wrapper points at one).
  Image first = parse_ok(both, false);
  EXPECT_EQ(first.size, a.size());
  EXPECT_EQ(first.ptx.size(), 1u);
}

TEST(LoaderImages, WrapperAsCudartReceivesIt) {
  const auto& wrappers = captured_fatbin_wrappers();
  ASSERT_EQ(wrappers.size(), 1u) << "the nvcc-compiled object did not register its fatbin";
  const void* w = wrappers[0];
  uint32_t magic = 0, version = 0;
  std::memcpy(&magic, w, 4);
  std::memcpy(&version, static_cast<const char*>(w) + 4, 4);
  EXPECT_EQ(magic, 0x466243B1u);
  EXPECT_EQ(version, 1u);
  Image img;
  std::string err;
  ASSERT_TRUE(parse_image(w, &img, &err)) << err;
  EXPECT_EQ(img.format, Image::Format::FatbinWrapper);
  const void* fatbin = nullptr;
  std::memcpy(&fatbin, static_cast<const char*>(w) + 8, 8);
  EXPECT_EQ(img.base, fatbin);
  uint64_t total = 0;
  std::memcpy(&total, static_cast<const char*>(fatbin) + 8, 8);
  EXPECT_EQ(img.size, 16 + total);
  ASSERT_EQ(img.cubins.size(), 1u);
  const CubinKernel* k = find_kernel(img.cubins[0], "_Z13wrappedKernelPixf");
  ASSERT_NE(k, nullptr);
  ASSERT_EQ(k->params.size(), 3u);
  EXPECT_EQ(k->params[1].offset, 8u);
  EXPECT_EQ(k->params[2].offset, 16u);
  EXPECT_EQ(k->param_bytes, 20u);
  const PtxEntry* p = select_ptx(img, 75);
  ASSERT_NE(p, nullptr);
  ptx::Module m;
  ASSERT_TRUE(ptx::parse(p->text, &m, &err)) << err;
  bool kernel = false, global = false;
  for (const auto& f : m.functions) kernel |= f.name == "_Z13wrappedKernelPixf" && f.is_entry;
  for (const auto& g : m.globals) global |= g.name == "wrappedCounter";
  EXPECT_TRUE(kernel);
  EXPECT_TRUE(global);
}

TEST(LoaderImages, Version2WrapperFollowsPrelinkedFatbins) {
  std::vector<uint8_t> main_fatbin = read_image("sass_only.fatbin");
  std::vector<uint8_t> linked_a = read_image("speed.fatbin");
  std::vector<uint8_t> linked_b = read_image("two_ptx.fatbin");
  const void* list[3] = {linked_a.data(), linked_b.data(), nullptr};
  struct {
    uint32_t magic, version;
    const void* fatbin;
    const void* prelinked;
  } wrapper{0x466243B1u, 2, main_fatbin.data(), list};
  Image img;
  std::string err;
  ASSERT_TRUE(parse_image(&wrapper, &img, &err)) << err;
  EXPECT_EQ(img.format, Image::Format::FatbinWrapper);
  EXPECT_EQ(img.base, main_fatbin.data());
  EXPECT_EQ(img.size, main_fatbin.size());
  EXPECT_EQ(img.cubins.size(), 3u);
  EXPECT_EQ(img.ptx.size(), 3u);
  // An empty pre-linked list (what nvcc's device-link stub carries).
  const void* empty[1] = {nullptr};
  wrapper.prelinked = empty;
  ASSERT_TRUE(parse_image(&wrapper, &img, &err)) << err;
  EXPECT_TRUE(img.ptx.empty());
  EXPECT_EQ(img.cubins.size(), 1u);
}

TEST(LoaderImages, RelocatableCubinSharedSectionHoldsNoFileBytes) {
  std::vector<uint8_t> bytes = read_image("rdc_shared.cubin");
  ASSERT_LT(bytes.size(), 16384u) << "the test needs a cubin smaller than its 16 KiB shared array";
  Image img = parse_ok(bytes);
  EXPECT_EQ(img.format, Image::Format::Elf);
  EXPECT_EQ(img.size, bytes.size());
  ASSERT_EQ(img.cubins.size(), 1u);
  EXPECT_NE(find_kernel(img.cubins[0], "_Z11sharedHeavyPKiPi"), nullptr);
  // The same cubin inside a fatbin (what an -rdc=true program's pre-linked fatbins hold).
  Image fat = parse_ok(read_image("rdc_shared.fatbin"));
  EXPECT_EQ(fat.cubins.size(), 1u);
}

TEST(LoaderImages, RelocatablePtxEntriesSayCompileOnly) {
  Image img = parse_ok(read_image("rdc_shared.fatbin"));
  ASSERT_EQ(img.ptx.size(), 1u);
  EXPECT_NE(img.ptx[0].options.find("--compile-only"), std::string::npos) << img.ptx[0].options;
  EXPECT_EQ(img.ptx[0].unit, 0u);
  EXPECT_EQ(img.units, 1u);
}

TEST(LoaderImages, LinkImageRoundTrip) {
  std::vector<LinkUnit> units = {LinkUnit{75, ".version 8.0\n.target sm_75\n// a"},
                                 LinkUnit{80, ".version 8.0\n.target sm_80\n// bb"}};
  std::vector<uint8_t> bytes = make_link_image(units, "-maxrregcount=32");
  Image img = parse_ok(bytes, false);  // loaded without a size, as cuModuleLoadData does
  EXPECT_EQ(img.format, Image::Format::Fatbin);
  EXPECT_EQ(img.size, bytes.size());
  ASSERT_EQ(img.ptx.size(), 2u);
  EXPECT_EQ(img.units, 2u);
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(img.ptx[k].unit, k);
    EXPECT_EQ(img.ptx[k].arch, units[k].arch);
    EXPECT_EQ(img.ptx[k].text, units[k].text);
    EXPECT_NE(img.ptx[k].options.find("-maxrregcount=32"), std::string::npos);
  }
  // One PTX per unit for a device that runs both; only unit 0's for a 7.5 device.
  EXPECT_EQ(select_ptx_units(img, 90).size(), 2u);
  EXPECT_EQ(select_ptx_units(img, 75).size(), 1u);
}

TEST(LoaderImages, LinkImageKeepsABaseContainersEntriesAsUnitZero) {
  std::vector<uint8_t> base = read_image("default.fatbin");  // sm_75 SASS + compute_75 PTX
  std::vector<LinkUnit> units = {LinkUnit{75, ".version 8.0\n.target sm_75\n// other", 3}};
  std::vector<uint8_t> bytes = make_link_image(units, "", base.data(), base.size());
  Image img = parse_ok(bytes, false);
  EXPECT_EQ(img.cubins.size(), 1u);
  ASSERT_EQ(img.ptx.size(), 2u);
  EXPECT_EQ(img.ptx[0].unit, 0u);
  EXPECT_EQ(img.ptx[1].unit, 3u);
  EXPECT_EQ(select_ptx_units(img, 75).size(), 2u);
}

TEST(LoaderFiles, LoadFile) {
  std::vector<uint8_t> bytes;
  std::string err;
  ASSERT_TRUE(load_file(std::string(GPOOL_TEST_IMAGE_DIR) + "/sm75.cubin", &bytes, &err)) << err;
  EXPECT_EQ(bytes, read_image("sm75.cubin"));
  EXPECT_FALSE(load_file("/nonexistent/dir/x.cubin", &bytes, &err));
  EXPECT_NE(err.find("/nonexistent/dir/x.cubin"), std::string::npos) << err;
  EXPECT_NE(err.find("No such file"), std::string::npos) << err;
}

}  // namespace
}  // namespace gpool::emu::loader
