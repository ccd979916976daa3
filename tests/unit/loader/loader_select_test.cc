// Which PTX of an image a device runs, as the driver chooses it: the newest PTX the device can
// JIT, where arch-specific ("a") PTX runs only on exactly its capability and family-specific
// ("f") PTX only on its own major capability. Table-driven, over a real nvcc 13 fatbin holding
// every kind of entry, over PTX text, and over gpool's own linked images.
#include "gpool/emu/loader/image.h"
#include "loader_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace gpool::emu::loader {
namespace {

using V = ArchVariant;

Image parse_ok(const std::vector<uint8_t>& bytes, size_t size) {
  Image img;
  std::string err;
  EXPECT_TRUE(parse_image(bytes.data(), &img, &err, size)) << err;
  return img;
}

std::string name_of(const PtxEntry* e) { return e ? target_name("compute_", e->arch, e->variant) : "none"; }

TEST(LoaderSelect, PtxRunsOnTable) {
  struct Row {
    uint32_t arch;
    V variant;
    uint32_t device;
    bool runs;
  };
  const Row rows[] = {
      // Plain PTX is JIT-compiled forward to every later device, never backward.
      {75, V::Plain, 75, true},
      {75, V::Plain, 130, true},
      {90, V::Plain, 86, false},
      {120, V::Plain, 121, true},
      {120, V::Plain, 130, true},
      {121, V::Plain, 120, false},
      // Arch-specific: exactly its own capability.
      {90, V::ArchSpecific, 90, true},
      {90, V::ArchSpecific, 100, false},
      {90, V::ArchSpecific, 89, false},
      {100, V::ArchSpecific, 103, false},
      {120, V::ArchSpecific, 121, false},
      {120, V::ArchSpecific, 130, false},
      // Family-specific: same major capability, minor at least its own.
      {100, V::FamilySpecific, 100, true},
      {100, V::FamilySpecific, 103, true},
      {100, V::FamilySpecific, 110, false},
      {100, V::FamilySpecific, 120, false},
      {103, V::FamilySpecific, 100, false},
      {120, V::FamilySpecific, 121, true},
      {120, V::FamilySpecific, 130, false},
      {121, V::FamilySpecific, 120, false},
  };
  for (const Row& r : rows) {
    EXPECT_EQ(ptx_runs_on(r.arch, r.variant, r.device), r.runs)
        << target_name("compute_", r.arch, r.variant) << " on sm_" << r.device;
  }
}

TEST(LoaderSelect, TargetNames) {
  EXPECT_EQ(target_name("compute_", 75, V::Plain), "compute_75");
  EXPECT_EQ(target_name("compute_", 90, V::ArchSpecific), "compute_90a");
  EXPECT_EQ(target_name("sm_", 120, V::FamilySpecific), "sm_120f");
}

// variants.fatbin (tests/unit/loader/CMakeLists.txt): PTX compute_75, compute_90a, compute_100a,
// compute_100f, compute_120f, compute_120, and sm_100a SASS, as nvcc 13 writes them.
TEST(LoaderSelect, FatbinWithEveryKindOfEntry) {
  std::vector<uint8_t> bytes = read_image("variants.fatbin");
  Image img = parse_ok(bytes, bytes.size());
  ASSERT_EQ(img.ptx.size(), 6u);
  // The loader's reading of the suffix agrees with the raw flag bits and with each PTX's .target.
  for (const PtxEntry& e : img.ptx) {
    const std::string target = target_name("sm_", e.arch, e.variant);
    EXPECT_NE(e.text.find(".target " + target + "\n"), std::string::npos) << target;
  }
  ASSERT_EQ(img.cubins.size(), 1u);
  EXPECT_EQ(img.cubins[0].sm, 100u);
  EXPECT_EQ(img.cubins[0].variant, V::ArchSpecific);
  bool saw_flag = false;
  for (const RawEntry& r : raw_entries(bytes)) saw_flag |= (r.flags & 0x100000) != 0;
  EXPECT_TRUE(saw_flag) << "the image should carry nvcc's arch-specific flag bit";

  struct Row {
    uint32_t device;
    const char* chosen;  // "none": no PTX the device can JIT
  };
  const Row rows[] = {
      {70, "none"},           // older than every entry
      {75, "compute_75"},     //
      {86, "compute_75"},     // compute_90a is for 9.0 only and newer anyway
      {89, "compute_75"},     //
      {90, "compute_90a"},    // its own capability: the arch-specific build
      {100, "compute_100a"},  // a before f on the same number
      {103, "compute_100f"},  // 100a is for 10.0 only; 100f covers the 10.x family
      {110, "compute_75"},    // no 11.x entry: neither 10.x family PTX nor 12.0 runs
      {120, "compute_120f"},  // f before plain on the same number
      {121, "compute_120f"},  // the 12.x family
      {130, "compute_120"},   // the default device: only plain PTX runs forward
  };
  for (const Row& r : rows) {
    EXPECT_EQ(name_of(select_ptx(img, r.device)), r.chosen) << "device sm_" << r.device;
    const std::vector<const PtxEntry*> units = select_ptx_units(img, r.device);
    EXPECT_EQ(name_of(units.empty() ? nullptr : units[0]), r.chosen) << "device sm_" << r.device;
    EXPECT_LE(units.size(), 1u);
  }
}

TEST(LoaderSelect, PtxTextTargetSuffix) {
  struct Row {
    const char* target;
    uint32_t arch;
    V variant;
    bool runs_on_130;
  };
  const Row rows[] = {
      {"sm_75", 75, V::Plain, true},
      {"sm_90a", 90, V::ArchSpecific, false},
      {"sm_100f", 100, V::FamilySpecific, false},
      {"sm_120", 120, V::Plain, true},
  };
  for (const Row& r : rows) {
    const std::string text = std::string(".version 9.0\n.target ") + r.target + "\n.address_size 64\n";
    Image img;
    std::string err;
    ASSERT_TRUE(parse_image(text.c_str(), &img, &err)) << err;
    ASSERT_EQ(img.ptx.size(), 1u);
    EXPECT_EQ(img.ptx[0].arch, r.arch) << r.target;
    EXPECT_EQ(img.ptx[0].variant, r.variant) << r.target;
    EXPECT_EQ(select_ptx(img, 130) != nullptr, r.runs_on_130) << r.target;
  }
}

TEST(LoaderSelect, LinkImageKeepsTheSuffix) {
  LinkUnit a{90, ".version 8.0\n.target sm_90a\n// a"};
  a.variant = V::ArchSpecific;
  LinkUnit f{120, ".version 9.0\n.target sm_120f\n// f"};
  f.variant = V::FamilySpecific;
  std::vector<uint8_t> bytes = make_link_image({a, f}, "");
  Image img = parse_ok(bytes, SIZE_MAX);
  ASSERT_EQ(img.ptx.size(), 2u);
  EXPECT_EQ(img.ptx[0].variant, V::ArchSpecific);
  EXPECT_EQ(img.ptx[1].variant, V::FamilySpecific);
  EXPECT_EQ(select_ptx_units(img, 90).size(), 1u);   // unit 1's compute_120f is newer
  EXPECT_EQ(select_ptx_units(img, 121).size(), 1u);  // unit 0's compute_90a is for 9.0 only
  EXPECT_TRUE(select_ptx_units(img, 130).empty());
}

TEST(LoaderSelect, RefusalSaysWhyAndPointsLibrariesAtTheDefaultDevice) {
  // Only arch-/family-specific PTX for other devices.
  std::vector<uint8_t> bytes = read_image("variants.fatbin");
  Image img = parse_ok(bytes, bytes.size());
  img.ptx.erase(std::remove_if(img.ptx.begin(), img.ptx.end(), [](const PtxEntry& e) { return e.variant == V::Plain; }),
                img.ptx.end());
  ASSERT_EQ(select_ptx(img, 130), nullptr);
  std::string msg = no_ptx_message(img, 130);
  EXPECT_NE(msg.find("compute_90a, compute_100a, compute_100f, compute_120f"), std::string::npos) << msg;
  EXPECT_NE(msg.find("arch-specific"), std::string::npos) << msg;
  // SASS a real 10.0 device runs (sm_100a) and no PTX for it: what a library picks on a
  // Blackwell profile. The message names the default 13.0 device.
  img.ptx.clear();
  msg = no_ptx_message(img, 100);
  EXPECT_NE(msg.find("only SASS (sm_100a)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("compute capability 13.0"), std::string::npos) << msg;
  // On 10.3 the sm_100a SASS would not run either: no library hint.
  msg = no_ptx_message(img, 103);
  EXPECT_EQ(msg.find("13.0"), std::string::npos) << msg;
}

}  // namespace
}  // namespace gpool::emu::loader
