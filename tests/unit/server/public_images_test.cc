// The public image index (public_images.h; issue 11, item 4): fatbin containers found in the
// configured files by content hash, duplicates once, headers that only look like a container
// skipped, an image read back from its file only while the file still holds those bytes; the
// file list of public_images (missing paths are errors naming the key) and its TOML form.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config.h"
#include "gpool/common/image/fatbin.h"
#include "public_images.h"

namespace gpool::server {
namespace {

namespace fs = std::filesystem;

// A fatbin container with one PTX entry whose payload is `text`.
std::vector<std::byte> container(const std::string& text) {
  image::FatbinEntryHeader e{};
  e.kind = image::kFatbinKindPtx;
  e.header_size = sizeof e;
  e.payload_size = text.size();
  e.major = 9;
  e.arch = 90;
  const uint64_t fat = sizeof e + text.size();
  std::vector<std::byte> out(16 + fat);
  const uint32_t magic = image::kFatbinMagic;
  const uint16_t version = 1, header = 16;
  std::memcpy(out.data(), &magic, 4);
  std::memcpy(out.data() + 4, &version, 2);
  std::memcpy(out.data() + 6, &header, 2);
  std::memcpy(out.data() + 8, &fat, 8);
  std::memcpy(out.data() + 16, &e, sizeof e);
  std::memcpy(out.data() + 16 + sizeof e, text.data(), text.size());
  return out;
}

void append(std::vector<std::byte>& file, const std::vector<std::byte>& part) {
  file.insert(file.end(), part.begin(), part.end());
  while (file.size() % 8 != 0) file.push_back(std::byte{0});
}

void write(const fs::path& path, const std::vector<std::byte>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

class PublicImagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("gpool-public-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(PublicImagesTest, IndexesContainersOnceAndServesThemWhileTheFileHoldsThem) {
  const auto one = container(".version 9.0\n.target sm_90\n// one\n");
  const auto two = container(".version 9.0\n.target sm_90\n// two, a little longer\n");
  std::vector<std::byte> lib(24, std::byte{0x11});  // an ELF header stands here in a library
  append(lib, one);
  std::vector<std::byte> fake(16, std::byte{0});  // the magic number with entries that do not parse
  const uint32_t magic = image::kFatbinMagic;
  const uint64_t huge = uint64_t{1} << 40;
  std::memcpy(fake.data(), &magic, 4);
  fake[4] = std::byte{1};
  fake[6] = std::byte{16};
  std::memcpy(fake.data() + 8, &huge, 8);
  append(lib, fake);
  append(lib, two);
  append(lib, one);  // the same image twice: one entry
  write(dir_ / "libtoy.so", lib);

  PublicImageIndex* index = PublicImageIndex::create_shared();
  ASSERT_NE(index, nullptr);
  const ImageHash h1 = image_hash(one.data(), one.size());
  const ImageHash h2 = image_hash(two.data(), two.size());
  EXPECT_EQ(index->state(), PublicImageIndex::kOff);
  EXPECT_EQ(index->find(h1), nullptr);  // nothing is found before the index is ready

  EXPECT_EQ(index->build({(dir_ / "libtoy.so").string()}), 2u);
  EXPECT_EQ(index->state(), PublicImageIndex::kReady);
  EXPECT_EQ(index->files(), 1u);
  EXPECT_EQ(index->bytes(), one.size() + two.size());
  const PublicImageEntry* e1 = index->find(h1);
  const PublicImageEntry* e2 = index->find(h2);
  ASSERT_NE(e1, nullptr);
  ASSERT_NE(e2, nullptr);
  EXPECT_EQ(e1->offset, 24u);
  EXPECT_EQ(e1->size, one.size());
  ImageHash unknown = h1;
  unknown[0] ^= 1;
  EXPECT_EQ(index->find(unknown), nullptr);

  std::vector<std::byte> got;
  std::string why;
  ASSERT_TRUE(index->read(*e2, got, why)) << why;
  ASSERT_EQ(got.size(), two.size() + 1);  // followed by a NUL, as uploads are held
  EXPECT_EQ(std::memcmp(got.data(), two.data(), two.size()), 0);
  EXPECT_EQ(got.back(), std::byte{0});

  // The library is replaced with other bytes at the same place: never served under the old hash.
  lib[e2->offset + 16 + 64] = std::byte{'X'};
  write(dir_ / "libtoy.so", lib);
  EXPECT_FALSE(index->read(*e2, got, why));
  EXPECT_NE(why.find("changed since it was indexed"), std::string::npos) << why;
  fs::remove(dir_ / "libtoy.so");
  EXPECT_FALSE(index->read(*e1, got, why));
  EXPECT_NE(why.find("cannot open"), std::string::npos) << why;
}

TEST_F(PublicImagesTest, ListsFilesOfDirectoriesOnceAndRefusesMissingPaths) {
  write(dir_ / "b.so", container("b"));
  write(dir_ / "a.so", container("a"));
  fs::create_directories(dir_ / "sub");
  fs::create_symlink(dir_ / "a.so", dir_ / "a-link.so");
  std::vector<std::string> files;
  std::string error;
  ASSERT_TRUE(PublicImageIndex::list_files({dir_.string(), (dir_ / "b.so").string()}, files, error)) << error;
  ASSERT_EQ(files.size(), 2u);  // the link and the file named again count once; sub/ is not a file
  EXPECT_EQ(files[0], fs::canonical(dir_ / "a.so").string());
  EXPECT_EQ(files[1], fs::canonical(dir_ / "b.so").string());

  files.clear();
  EXPECT_FALSE(PublicImageIndex::list_files({(dir_ / "missing").string()}, files, error));
  EXPECT_NE(error.find("public_images: "), std::string::npos) << error;
  EXPECT_NE(error.find("does not exist"), std::string::npos) << error;
}

TEST(PublicImagesConfig, ReadsAnArrayOfPathsAndNamesTheKeyOnAMistake) {
  Config cfg;
  std::string error;
  ASSERT_TRUE(load_config_text("public_images = [\"/usr/local/cuda/lib64\", \"/opt/lib\"]\n", "s.toml", cfg, error))
      << error;
  EXPECT_EQ(cfg.public_images, (std::vector<std::string>{"/usr/local/cuda/lib64", "/opt/lib"}));
  for (const char* bad : {"public_images = \"/usr\"\n", "public_images = [1]\n", "public_images = [\"\"]\n"}) {
    Config c;
    EXPECT_FALSE(load_config_text(bad, "s.toml", c, error)) << bad;
    EXPECT_NE(error.find("public_images must be an array"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace gpool::server
