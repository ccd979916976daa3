// The on-disk kernel cache (ptx::ParseCache): a hit gives the same module and the same results,
// a corrupt, truncated or foreign entry is ignored (and replaced), the size bound holds with the
// least recently used entries evicted first, and a disabled cache touches nothing. Every test
// uses its own temporary directory.
#include "exec_test_util.h"

#include "gpool/emu/ptx/parse_cache.h"
#include "gpool/emu/ptx/serialize.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace gpool::emu::exec::test {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "gpool-kcache-test-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A kernel with a module variable, a device function call and a vector initializer, so the
// entry holds most of the AST's shapes.
std::string kernel_ptx(int salt) {
  return ptx_module(R"(
.global .align 4 .u32 table[4] = {3, 5, 7, )" + std::to_string(salt) + R"(};

.func (.param .u32 r) plus1(.param .u32 x)
{
  .reg .b32 %v<2>;
  ld.param.u32 %v0, [x];
  add.u32 %v1, %v0, 1;
  st.param.u32 [r], %v1;
  ret;
}

.visible .entry k(.param .u64 out)
{
  .reg .pred %p<2>;
  .reg .b32 %r<8>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd0, [out];
  mov.u32 %r0, %tid.x;
  and.b32 %r1, %r0, 3;
  mul.wide.u32 %rd1, %r1, 4;
  mov.u64 %rd2, table;
  add.u64 %rd3, %rd2, %rd1;
  ld.global.u32 %r2, [%rd3];
  setp.lt.u32 %p0, %r0, 16;
  @%p0 bra SMALL;
  mul.lo.u32 %r2, %r2, 10;
SMALL:
  {
    .param .u32 a;
    .param .u32 b;
    st.param.u32 [a], %r2;
    call (b), plus1, (a);
    ld.param.u32 %r3, [b];
  }
  mul.wide.u32 %rd4, %r0, 4;
  add.u64 %rd5, %rd0, %rd4;
  st.global.u32 [%rd5], %r3;
  ret;
}
)");
}

std::string encode(const ptx::Module& m) {
  std::string s;
  ptx::serialize(m, &s);
  return s;
}

std::vector<uint32_t> run_k(const ptx::Module& m) {
  std::string err;
  auto p = Program::build(m, &err);
  EXPECT_NE(p, nullptr) << err;
  if (!p) return {};
  HostMemory mem;
  bind_globals(*p, mem);
  uint32_t* out = mem.alloc<uint32_t>(32);
  LaunchResult r = run(*p, "k", Launch{}, {out}, mem);
  EXPECT_EQ(r.status, LaunchStatus::Ok) << r.message;
  return std::vector<uint32_t>(out, out + 32);
}

TEST(ParseCache, AHitGivesTheSameModuleAndResults) {
  TempDir dir;
  ptx::ParseCache cache(dir.path(), 1 << 20, "test-build");
  ASSERT_TRUE(cache.enabled());
  const std::string text = kernel_ptx(9);
  ptx::Module first, second;
  std::string err;
  ASSERT_TRUE(cache.parse(text, &first, &err)) << err;
  EXPECT_EQ(cache.misses.load(), 1u);
  EXPECT_EQ(cache.stores.load(), 1u);
  EXPECT_TRUE(fs::exists(cache.entry_path(text)));
  ASSERT_TRUE(cache.parse(text, &second, &err)) << err;
  EXPECT_EQ(cache.hits.load(), 1u);
  EXPECT_EQ(encode(first), encode(second));
  ptx::Module direct;
  ASSERT_TRUE(ptx::parse(text, &direct, &err));
  EXPECT_EQ(encode(direct), encode(second));
  const auto want = run_k(direct);
  ASSERT_EQ(want.size(), 32u);
  EXPECT_EQ(want[1], 6u);         // table[1] + 1
  EXPECT_EQ(want[19], 10 * 9 + 1);  // table[3] * 10 + 1 (salt 9)
  EXPECT_EQ(run_k(second), want);
  // Another text, another entry; another build id, another key.
  EXPECT_NE(cache.entry_path(kernel_ptx(10)), cache.entry_path(text));
  ptx::ParseCache other(dir.path(), 1 << 20, "other-build");
  EXPECT_NE(other.entry_path(text), cache.entry_path(text));
  ptx::Module third;
  EXPECT_FALSE(other.lookup(text, &third));
}

void overwrite(const std::string& path, const std::function<void(std::string&)>& edit) {
  std::ifstream in(path, std::ios::binary);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  edit(data);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

TEST(ParseCache, CorruptTruncatedAndForeignEntriesAreIgnored) {
  TempDir dir;
  ptx::ParseCache cache(dir.path(), 1 << 20, "test-build");
  const std::string text = kernel_ptx(4);
  ptx::Module m, direct;
  std::string err;
  ASSERT_TRUE(ptx::parse(text, &direct, &err));
  ASSERT_TRUE(cache.parse(text, &m, &err)) << err;
  const std::string path = cache.entry_path(text);
  const std::vector<std::function<void(std::string&)>> damage = {
      [](std::string& d) { d[d.size() / 2] ^= 0x40; },           // a flipped payload bit
      [](std::string& d) { d.resize(d.size() - 7); },            // truncated payload
      [](std::string& d) { d.resize(20); },                      // truncated header
      [](std::string& d) { d[0] = 'X'; },                        // not an entry
      [](std::string& d) { d[8] = static_cast<char>(d[8] + 1); },  // another format version
      [](std::string& d) { d[20] ^= 1; },                        // a key that is not its name
      [](std::string& d) { d = "garbage"; },
  };
  uint64_t rejected = 0;
  for (size_t i = 0; i < damage.size(); ++i) {
    overwrite(path, damage[i]);
    ptx::Module got;
    EXPECT_FALSE(cache.lookup(text, &got)) << "damage " << i;
    EXPECT_EQ(cache.rejected.load(), ++rejected) << "damage " << i;
    // parse() falls back to the parser and rewrites a good entry.
    ASSERT_TRUE(cache.parse(text, &got, &err)) << err;
    EXPECT_EQ(cache.rejected.load(), rejected + 1) << "damage " << i;  // its own lookup refused it too
    rejected = cache.rejected.load();
    EXPECT_EQ(encode(got), encode(direct)) << "damage " << i;
    ptx::Module again;
    EXPECT_TRUE(cache.lookup(text, &again)) << "damage " << i;
  }
  // An entry of another module under this key's name is refused by the checksum or the key.
  const std::string other_text = kernel_ptx(5);
  ptx::Module other;
  ASSERT_TRUE(cache.parse(other_text, &other, &err));
  fs::copy_file(cache.entry_path(other_text), path, fs::copy_options::overwrite_existing);
  ptx::Module got;
  EXPECT_FALSE(cache.lookup(text, &got));
}

TEST(ParseCache, TheSizeBoundEvictsTheLeastRecentlyUsed) {
  TempDir dir;
  std::string err;
  // Measure one entry, then allow room for three.
  uint64_t one = 0;
  {
    TempDir probe;
    ptx::ParseCache c(probe.path(), 1 << 20, "test-build");
    ptx::Module m;
    ASSERT_TRUE(c.parse(kernel_ptx(0), &m, &err));
    one = fs::file_size(c.entry_path(kernel_ptx(0)));
  }
  ptx::ParseCache cache(dir.path(), 3 * one + one / 2, "test-build");
  auto age = [&](int salt, int seconds_ago) {
    fs::last_write_time(cache.entry_path(kernel_ptx(salt)),
                        fs::file_time_type::clock::now() - std::chrono::seconds(seconds_ago));
  };
  ptx::Module m;
  for (int salt = 0; salt < 3; ++salt) ASSERT_TRUE(cache.parse(kernel_ptx(salt), &m, &err));
  age(0, 300);
  age(1, 200);
  age(2, 100);
  ASSERT_TRUE(cache.lookup(kernel_ptx(0), &m));  // 0 is now the most recently used
  ASSERT_TRUE(cache.parse(kernel_ptx(3), &m, &err));  // a fourth entry: 1 (oldest) goes
  EXPECT_TRUE(fs::exists(cache.entry_path(kernel_ptx(0))));
  EXPECT_FALSE(fs::exists(cache.entry_path(kernel_ptx(1))));
  EXPECT_TRUE(fs::exists(cache.entry_path(kernel_ptx(2))));
  EXPECT_TRUE(fs::exists(cache.entry_path(kernel_ptx(3))));
  uint64_t total = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) total += e.file_size();
  EXPECT_LE(total, 3 * one + one / 2);
  // An entry larger than the whole bound is not stored at all.
  ptx::ParseCache tiny(dir.path(), 16, "tiny");
  ASSERT_TRUE(tiny.parse(kernel_ptx(7), &m, &err));
  EXPECT_EQ(tiny.stores.load(), 0u);
  EXPECT_FALSE(fs::exists(tiny.entry_path(kernel_ptx(7))));
}

TEST(ParseCache, ADisabledCacheParsesAndWritesNothing) {
  TempDir dir;
  ptx::ParseCache off("", 1 << 20, "test-build");
  EXPECT_FALSE(off.enabled());
  ptx::Module m, direct;
  std::string err;
  ASSERT_TRUE(off.parse(kernel_ptx(1), &m, &err)) << err;
  ASSERT_TRUE(ptx::parse(kernel_ptx(1), &direct, &err));
  EXPECT_EQ(encode(m), encode(direct));
  EXPECT_EQ(off.stores.load() + off.hits.load(), 0u);
  EXPECT_TRUE(fs::is_empty(dir.path()));
  // Bad PTX is a parse error through the cache too, and stores nothing.
  ptx::ParseCache on(dir.path(), 1 << 20, "test-build");
  EXPECT_FALSE(on.parse(".version 8.0\n.target sm_80\n.entry k( {", &m, &err));
  EXPECT_EQ(on.stores.load(), 0u);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(ParseCache, ConcurrentUsersOfOneDirectoryAlwaysGetTheRightModule) {
  // Four caches on one directory stand for four processes (each has its own counters and
  // temporary names); a bound of about two entries keeps them evicting each other's entries
  // while they store and read. Every parse must still be exactly the parser's.
  TempDir dir;
  std::vector<std::string> texts;
  std::vector<std::string> want;
  std::string err;
  for (int salt = 0; salt < 4; ++salt) {
    texts.push_back(kernel_ptx(salt));
    ptx::Module m;
    ASSERT_TRUE(ptx::parse(texts.back(), &m, &err));
    want.push_back(encode(m));
  }
  const uint64_t one = want[0].size() + 200;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      ptx::ParseCache cache(dir.path(), 2 * one, "test-build");
      for (int i = 0; i < 40; ++i) {
        const size_t k = static_cast<size_t>(i * 7 + t) % texts.size();
        ptx::Module m;
        std::string e;
        if (!cache.parse(texts[k], &m, &e)) ++failed;
        else if (encode(m) != want[k]) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(wrong.load(), 0);
  for (const auto& e : fs::directory_iterator(dir.path()))
    EXPECT_EQ(e.path().extension(), ".ptxast") << e.path();  // no temporary file left behind
}

TEST(ParseCache, TheEmulatorBinaryHasABuildId) {
  // The key mixes in the build id of the binary holding the cache; without one the runtime
  // turns the cache off. gpool's binaries are linked with a GNU build id.
  const std::string id = ptx::ParseCache::own_build_id();
  EXPECT_GE(id.size(), 16u) << id;
}

}  // namespace
}  // namespace gpool::emu::exec::test
