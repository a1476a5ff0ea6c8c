// Integration tests of zdb's hooks: a real zdb process with a hook script,
// the events it fires (docs/zdb-protocol.md, "Hooks"), missing-data that
// restores an evicted segment, a stalled hook killed after its timeout.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "tests/zdb/server_fixture.h"
#include "tests/zdb/test_util.h"

namespace {

using namespace zdb_server_test;

TEST_F(ZdbServerTest, HooksAndMissingData) {
  std::string hook = dir_.path() + "/hook.sh";
  std::string events = dir_.path() + "/events.log";
  std::string stash = dir_.path() + "/stash";
  std::string release = dir_.path() + "/release";
  {
    // missing-data waits until the test creates `release`, then restores.
    std::ofstream f(hook);
    f << "#!/bin/sh\n"
      << "echo \"$@\" >> " << events << "\n"
      << "if [ \"$1\" = missing-data ]; then\n"
      << "  while [ ! -e " << release << " ]; do sleep 0.05; done\n"
      << "  cp " << stash << "/$(basename $3) $3\n"
      << "fi\n";
  }
  chmod(hook.c_str(), 0755);
  StartZdb({"--hook", hook});
  auto c = Connect();
  c->Cmd({"SET", "early", "in segment zero"});
  EXPECT_STATUS(c->Cmd({"NSJUMP"}), "OK");
  c->Cmd({"SET", "late", "in segment one"});
  // Evict segment 0 the way zstor would.
  std::filesystem::create_directories(stash);
  std::string seg0 = dir_.path() + "/data/default/zdb-data-00000";
  std::filesystem::copy_file(seg0, stash + "/zdb-data-00000");
  std::filesystem::remove(seg0);
  std::atomic<bool> reader_done{false};
  std::thread reader([&] {
    Conn r(sock_);
    EXPECT_BULK(r.Cmd({"GET", "early"}), "in segment zero");
    reader_done = true;
  });
  // While the hook holds the reader, other clients are served.
  auto other = Connect();
  for (int i = 0; i < 20; ++i) {
    EXPECT_BULK(other->Cmd({"GET", "late"}), "in segment one");
    EXPECT_BULK(other->Cmd({"SET", "more" + std::to_string(i), "x"}), "more" + std::to_string(i));
  }
  EXPECT_FALSE(reader_done.load());
  zdb_test::WriteRaw(release, "go");
  reader.join();
  EXPECT_TRUE(reader_done.load());
  EXPECT_EQ(zdb_.Stop(), 0);
  std::string log = zdb_test::ReadRaw(events);
  EXPECT_NE(log.find("ready unix://" + sock_), std::string::npos) << log;
  EXPECT_NE(log.find("jump-data unix://" + sock_ + " " + seg0), std::string::npos) << log;
  EXPECT_NE(log.find("jump-index"), std::string::npos) << log;
  EXPECT_NE(log.find("missing-data unix://" + sock_ + " " + seg0), std::string::npos) << log;
  EXPECT_NE(log.find("namespaces-init"), std::string::npos) << log;
  EXPECT_NE(log.find("close unix://" + sock_), std::string::npos) << log;
}

// A missing-data hook that never returns is killed after --hook-timeout;
// the reader gets the missing-segment error instead of waiting forever.
TEST_F(ZdbServerTest, StalledMissingDataHookIsKilledAfterTimeout) {
  std::string hook = dir_.path() + "/hook.sh";
  {
    std::ofstream f(hook);
    f << "#!/bin/sh\nif [ \"$1\" = missing-data ]; then exec sleep 3600; fi\n";
  }
  chmod(hook.c_str(), 0755);
  StartZdb({"--hook", hook, "--hook-timeout", "1"});
  auto c = Connect();
  c->Cmd({"SET", "early", "zero"});
  EXPECT_STATUS(c->Cmd({"NSJUMP"}), "OK");
  c->Cmd({"SET", "late", "one"});
  std::filesystem::remove(dir_.path() + "/data/default/zdb-data-00000");
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_ERROR(c->Cmd({"GET", "early"}), "Internal Error (data segment 0 is missing)");
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(waited, 0.9);
  EXPECT_LT(waited, 30);  // bounded: killed, not waited out (the hook sleeps an hour)
  EXPECT_BULK(c->Cmd({"GET", "late"}), "one");
  EXPECT_EQ(zdb_.Stop(), 0);
  EXPECT_NE(zdb_test::ReadRaw(dir_.path() + "/zdb.log").find("still running after 1 s: killed"), std::string::npos);
}

// Once a stopped zdb has exited, its shutdown hooks have run to their end
// (a staging zdb's head segments are queued by zstor before anyone acts on
// the exit); a hook that outlives --hook-timeout does not hold the exit.
TEST_F(ZdbServerTest, ShutdownWaitsForItsHooks) {
  std::string hook = dir_.path() + "/hook.sh";
  std::string events = dir_.path() + "/events.log";
  zdb_test::WriteRaw(hook, "#!/bin/sh\nsleep 1\necho \"$1 $3\" >> " + events + "\n");
  chmod(hook.c_str(), 0755);
  StartZdb({"--hook", hook});
  auto c = Connect();
  c->Cmd({"SET", "k", "v"});
  EXPECT_EQ(zdb_.Stop(), 0);
  std::string log = zdb_test::ReadRaw(events);
  EXPECT_NE(log.find("close \n"), std::string::npos) << log;
  EXPECT_NE(log.find("namespace-closing default\n"), std::string::npos) << log;

  zdb_test::WriteRaw(hook, "#!/bin/sh\n[ \"$1\" = close ] && exec sleep 3600\nexit 0\n");
  StartZdb({"--hook", hook, "--hook-timeout", "1"});
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(zdb_.Stop(), 0);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30);
  EXPECT_NE(zdb_test::ReadRaw(dir_.path() + "/zdb.log").find("still running after 1 s: killed"), std::string::npos);
}

TEST_F(ZdbServerTest, MissingDataWithoutHookIsAnError) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "early", "zero"});
  EXPECT_STATUS(c->Cmd({"NSJUMP"}), "OK");
  c->Cmd({"SET", "late", "one"});
  std::filesystem::remove(dir_.path() + "/data/default/zdb-data-00000");
  EXPECT_ERROR(c->Cmd({"GET", "early"}), "Internal Error (data segment 0 is missing)");
  EXPECT_BULK(c->Cmd({"GET", "late"}), "one");
}

// A closed segment read once (and so mapped) then deleted by an evictor:
// within a second zdb lets go of the mapping (the disk space is freed) and
// reports the segment missing instead of serving the unlinked file.
TEST_F(ZdbServerTest, EvictedSegmentIsReleased) {
  StartZdb();
  auto c = Connect();
  c->Cmd({"SET", "early", "zero"});
  EXPECT_STATUS(c->Cmd({"NSJUMP"}), "OK");
  c->Cmd({"SET", "late", "one"});
  EXPECT_BULK(c->Cmd({"GET", "early"}), "zero");  // maps segment 0
  std::filesystem::remove(dir_.path() + "/data/default/zdb-data-00000");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_ERROR(c->Cmd({"GET", "early"}), "Internal Error (data segment 0 is missing)");
  EXPECT_BULK(c->Cmd({"GET", "late"}), "one");
}

}  // namespace
