// The staging queue's job files under injected faults (tests/common/
// fault_env.h): a job Add acknowledged survives a power loss whole; an Add
// that fails (no space, a torn write) acknowledges nothing and leaves no
// job behind, and the queue takes jobs again once space returns.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "tests/common/fault_env.h"
#include "tests/zdb/test_util.h"
#include "zstor/upload_queue.h"

namespace {

using zstor::UploadJob;
using zstor::UploadQueue;

// Names in dir (job files and leftovers alike).
size_t Files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
  return n;
}

TEST(UploadQueueFaultTest, AddedJobsSurvivePowerLossAndFailedAddsLeaveNothing) {
  zdb_test::TempDir dir;
  const std::string q = dir.path() + "/queue";
  qs_test::FaultEnv env;
  UploadQueue queue(q, &env);
  ASSERT_TRUE(queue.Open().ok());
  ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/ns/zdb-data-00001", "/zdb/data/ns/zdb-data-00001").ok());
  EXPECT_GE(env.sync_count(), 1u);  // the file
  EXPECT_GE(env.dir_sync_count(), 1u);  // and its directory
  ASSERT_TRUE(env.DropUnsyncedData().ok());  // power loss right after the Add returned
  {
    UploadQueue after(q);
    ASSERT_TRUE(after.Open().ok());
    auto jobs = after.jobs();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].target, "/a/ns/zdb-data-00001");
    EXPECT_EQ(jobs[0].key, "/zdb/data/ns/zdb-data-00001");
    struct stat st;
    ASSERT_EQ(stat((q + "/" + jobs[0].name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
  }

  for (bool torn : {false, true}) {
    env.SetNoSpaceAfter(torn ? 10 : 0, torn);
    qs::Status s = queue.Add(UploadJob::Kind::kUpload, "/a/ns/zdb-data-00002", "/zdb/data/ns/zdb-data-00002");
    EXPECT_TRUE(s.IsNoSpace()) << s.ToString();
    env.ClearNoSpace();
    EXPECT_EQ(queue.stats().pending, 1u);
    EXPECT_EQ(Files(q), 1u) << "a failed Add left a file behind (torn " << torn << ")";
    UploadQueue after(q);
    ASSERT_TRUE(after.Open().ok());
    EXPECT_EQ(after.stats().pending, 1u);
  }

  // Space is back: the job is taken, and Done removes it for good.
  ASSERT_TRUE(queue.Add(UploadJob::Kind::kUpload, "/a/ns/zdb-data-00002", "/zdb/data/ns/zdb-data-00002").ok());
  EXPECT_EQ(queue.stats().pending, 2u);
  auto job = queue.Next(0);
  ASSERT_TRUE(job.has_value());
  ASSERT_TRUE(queue.Done(job->name).ok());
  ASSERT_TRUE(env.DropUnsyncedData().ok());
  UploadQueue after(q);
  ASSERT_TRUE(after.Open().ok());
  EXPECT_EQ(after.stats().pending, 1u);
  EXPECT_EQ(Files(q), 1u);
}

}  // namespace
