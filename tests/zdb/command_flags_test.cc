// The command table's kCmdWrite flag and the write checks agree: every
// command flagged kCmdWrite is refused, with 0-db's exact text, on a locked
// namespace and in a read-only session, and no other command acting on the
// namespace is refused for it (docs/zdb-protocol.md, "Namespace flags").
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <map>
#include <string>
#include <vector>

#include "tests/zdb/server_fixture.h"
#include "zdb/server.h"

namespace {

using namespace zdb_server_test;

constexpr char kLocked[] = "Namespace is temporarily locked (read-only)";
constexpr char kReadOnly[] = "Namespace is in read-only mode";

// A well-formed invocation of every command that acts on the session's
// namespace (key "k" exists there). A command added to the table without a
// line here fails EveryNamespaceCommandHasASample.
const std::map<std::string, std::vector<std::string>>& Samples() {
  static const std::map<std::string, std::vector<std::string>> samples = {
      {"WAIT", {"WAIT", "GET", "100"}},  {"DBSIZE", {"DBSIZE"}},
      {"NSJUMP", {"NSJUMP"}},            {"FLUSH", {"FLUSH"}},
      {"FSYNC", {"FSYNC"}},              {"FENCE", {"FENCE", "7"}},
      {"SET", {"SET", "k2", "v2"}},      {"SETX", {"SETX", "k3", "v3"}},
      {"GET", {"GET", "k"}},             {"MGET", {"MGET", "k"}},
      {"DEL", {"DEL", "k"}},             {"EXISTS", {"EXISTS", "k"}},
      {"CHECK", {"CHECK", "k"}},         {"LENGTH", {"LENGTH", "k"}},
      {"KEYTIME", {"KEYTIME", "k"}},     {"SCAN", {"SCAN"}},
      {"SCANX", {"SCANX"}},              {"RSCAN", {"RSCAN"}},
      {"KEYCUR", {"KEYCUR", "k"}},       {"HISTORY", {"HISTORY", "k"}},
      {"PROVE", {"PROVE", "k", "nonce"}}, {"INDEX", {"INDEX", "DIRTY"}},
      {"DATA", {"DATA", "RAW", "0", "0"}},
  };
  return samples;
}

TEST(CommandFlagsTest, EveryNamespaceCommandHasASample) {
  for (const auto& [name, spec] : zdb::CommandTable()) {
    if (spec.flags & zdb::kCmdNamespace) EXPECT_TRUE(Samples().count(name)) << name << " has no sample";
    if (spec.flags & zdb::kCmdWrite) EXPECT_TRUE(spec.flags & zdb::kCmdNamespace) << name;
  }
}

// Runs every sample in session s and checks that exactly the kCmdWrite
// commands answer `refusal`.
void ExpectWritesRefused(Conn& s, const char* refusal) {
  for (const auto& [name, spec] : zdb::CommandTable()) {
    if (!(spec.flags & zdb::kCmdNamespace)) continue;
    auto it = Samples().find(name);
    if (it == Samples().end()) continue;
    R r = s.Cmd(it->second);
    if (spec.flags & zdb::kCmdWrite) {
      EXPECT_EQ(r.type, REDIS_REPLY_ERROR) << name;
      EXPECT_EQ(r.str, refusal) << name;
    } else {
      EXPECT_FALSE(r.type == REDIS_REPLY_ERROR && r.str == refusal) << name << " is not flagged kCmdWrite but answered: " << r.str;
    }
  }
}

TEST_F(ZdbServerTest, WriteCommandsAreRefusedOnALockedNamespace) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "t"}), "OK");
  EXPECT_STATUS(admin->Cmd({"SELECT", "t"}), "OK");
  EXPECT_BULK(admin->Cmd({"SET", "k", "v"}), "k");
  EXPECT_STATUS(admin->Cmd({"NSSET", "t", "lock", "1"}), "OK");
  ExpectWritesRefused(*admin, kLocked);
  // Nothing was written: the one key and its value are still there.
  EXPECT_INT(admin->Cmd({"DBSIZE"}), 1);
  EXPECT_BULK(admin->Cmd({"GET", "k"}), "v");
}

TEST_F(ZdbServerTest, WriteCommandsAreRefusedInAReadOnlySession) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "t"}), "OK");
  EXPECT_STATUS(admin->Cmd({"SELECT", "t"}), "OK");
  EXPECT_BULK(admin->Cmd({"SET", "k", "v"}), "k");
  EXPECT_STATUS(admin->Cmd({"NSSET", "t", "password", "pw"}), "OK");
  // Public with a password: selected without it, the session may only read.
  auto reader = Connect();
  EXPECT_STATUS(reader->Cmd({"AUTH", "secret"}), "OK");  // admin, so FLUSH reaches the write check
  EXPECT_STATUS(reader->Cmd({"SELECT", "t"}), "OK");
  ExpectWritesRefused(*reader, kReadOnly);
  EXPECT_INT(admin->Cmd({"DBSIZE"}), 1);
  EXPECT_BULK(admin->Cmd({"GET", "k"}), "v");
}

}  // namespace
