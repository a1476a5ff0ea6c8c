// The POSIX Env's append file: EvictSynced drops whole synced pages from
// the page cache (checked with mincore) and never changes the bytes.
#include "common/file_env.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/common/random_data.h"

namespace qs {
namespace {

// Pages of path's first `bytes` that are in the page cache.
size_t ResidentPages(const std::string& path, size_t bytes) {
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  void* map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return 0;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> vec((bytes + page - 1) / page);
  size_t resident = 0;
  if (mincore(map, bytes, vec.data()) == 0)
    for (unsigned char v : vec) resident += v & 1;
  munmap(map, bytes);
  return resident;
}

TEST(PosixAppendFile, EvictSyncedDropsOnlySyncedPages) {
  char tmpl[] = "/tmp/file_env_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/seg";
  auto file = Env::Default()->OpenAppend(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  const std::string first = qs_test::RandomData(8 << 20, 1);
  ASSERT_TRUE((*file)->Append(first).ok());
  const size_t pages = first.size() / 4096;
  ASSERT_GT(ResidentPages(path, first.size()), pages / 2);  // just written: cached

  (*file)->EvictSynced();  // nothing synced yet: nothing may go
  EXPECT_GT(ResidentPages(path, first.size()), pages / 2);

  ASSERT_TRUE((*file)->Sync().ok());
  (*file)->EvictSynced();
  EXPECT_EQ(ResidentPages(path, first.size()), 0u);

  // Appends go on; the bytes read back are the bytes written.
  const std::string second = qs_test::RandomData(10000, 2);
  ASSERT_TRUE((*file)->Append(second).ok());
  ASSERT_TRUE((*file)->Sync().ok());
  (*file)->EvictSynced();
  auto back = Env::Default()->ReadWholeFile(path);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(*back == first + second);
  std::filesystem::remove_all(tmpl);
}

}  // namespace
}  // namespace qs
