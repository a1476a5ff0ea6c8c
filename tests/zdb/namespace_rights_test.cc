// Session rights against namespace changes: a session is bound to the
// namespace instance it SELECTed and to the password it was admitted with
// (docs/zdb-protocol.md, "Sessions"); and which names a namespace may have.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>

#include "tests/zdb/server_fixture.h"

namespace {

using namespace zdb_server_test;

constexpr char kGone[] = "Your active namespace is not available anymore (probably removed).";

TEST_F(ZdbServerTest, SessionOfDeletedNamespaceCannotTouchItsSuccessor) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "tenant"}), "OK");
  auto reader = Connect();
  EXPECT_STATUS(reader->Cmd({"SELECT", "tenant"}), "OK");
  auto writer = Connect();
  EXPECT_STATUS(writer->Cmd({"SELECT", "tenant"}), "OK");
  EXPECT_BULK(writer->Cmd({"SET", "old", "old tenant"}), "old");
  auto flusher = Connect();  // an admin session may FLUSH any namespace it selected
  EXPECT_STATUS(flusher->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(flusher->Cmd({"SELECT", "tenant"}), "OK");

  // The namespace is deleted and a new one of the same name created.
  EXPECT_STATUS(admin->Cmd({"NSDEL", "tenant"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "tenant"}), "OK");
  auto owner = Connect();
  EXPECT_STATUS(owner->Cmd({"SELECT", "tenant"}), "OK");
  EXPECT_BULK(owner->Cmd({"SET", "secret-key", "new tenant"}), "secret-key");

  // Sessions of the old instance get the error (then the connection closes).
  EXPECT_ERROR(reader->Cmd({"GET", "secret-key"}), kGone);
  EXPECT_ERROR(writer->Cmd({"SET", "secret-key", "overwritten"}), kGone);
  EXPECT_ERROR(flusher->Cmd({"FLUSH"}), kGone);

  // The new tenant's data is untouched.
  EXPECT_BULK(owner->Cmd({"GET", "secret-key"}), "new tenant");
  EXPECT_INT(owner->Cmd({"DBSIZE"}), 1);
  // A fresh SELECT binds to the new instance.
  auto again = Connect();
  EXPECT_STATUS(again->Cmd({"SELECT", "tenant"}), "OK");
  EXPECT_BULK(again->Cmd({"GET", "secret-key"}), "new tenant");
}

TEST_F(ZdbServerTest, PasswordChangeEndsRightsGivenByTheOldOne) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "p"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "p", "password", "old"}), "OK");
  auto user = Connect();
  EXPECT_STATUS(user->Cmd({"SELECT", "p", "old"}), "OK");
  EXPECT_BULK(user->Cmd({"SET", "a", "1"}), "a");
  auto open = Connect();  // selected while the namespace had no password
  EXPECT_STATUS(admin->Cmd({"NSNEW", "q"}), "OK");
  EXPECT_STATUS(open->Cmd({"SELECT", "q"}), "OK");
  EXPECT_BULK(open->Cmd({"SET", "a", "1"}), "a");
  auto admin_in_p = Connect();
  EXPECT_STATUS(admin_in_p->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin_in_p->Cmd({"SELECT", "p", "old"}), "OK");

  // New password; p stays public: the old password's sessions may read only.
  EXPECT_STATUS(admin->Cmd({"NSSET", "p", "password", "new"}), "OK");
  EXPECT_ERROR(user->Cmd({"SET", "b", "2"}), "Namespace is in read-only mode");
  EXPECT_ERROR(user->Cmd({"DEL", "a"}), "Namespace is in read-only mode");
  EXPECT_BULK(user->Cmd({"GET", "a"}), "1");
  EXPECT_ERROR(admin_in_p->Cmd({"SET", "b", "2"}), "Namespace is in read-only mode");
  EXPECT_STATUS(admin_in_p->Cmd({"NSSET", "p", "lock", "0"}), "OK");  // still admin

  // Private now: no reads either, until SELECT with the new password.
  EXPECT_STATUS(admin->Cmd({"NSSET", "p", "public", "0"}), "OK");
  EXPECT_ERROR(user->Cmd({"GET", "a"}), "Namespace protected and private");
  EXPECT_ERROR(user->Cmd({"DBSIZE"}), "Namespace protected and private");
  EXPECT_ERROR(user->Cmd({"SELECT", "p", "old"}), "Access denied");
  EXPECT_STATUS(user->Cmd({"SELECT", "p", "new"}), "OK");
  EXPECT_BULK(user->Cmd({"SET", "b", "2"}), "b");
  EXPECT_BULK(user->Cmd({"GET", "a"}), "1");

  // A password set on a namespace selected without one, private.
  EXPECT_STATUS(admin->Cmd({"NSSET", "q", "password", "pw"}), "OK");
  EXPECT_ERROR(open->Cmd({"SET", "a", "2"}), "Namespace is in read-only mode");
  EXPECT_BULK(open->Cmd({"GET", "a"}), "1");
  EXPECT_STATUS(admin->Cmd({"NSSET", "q", "public", "0"}), "OK");
  EXPECT_ERROR(open->Cmd({"GET", "a"}), "Namespace protected and private");
  EXPECT_STATUS(open->Cmd({"PING"}), "PONG");  // the connection stays usable
}

TEST_F(ZdbServerTest, PublicToPrivateEndsPasswordlessReaders) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "p"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "p", "password", "pw"}), "OK");
  auto reader = Connect();
  EXPECT_STATUS(reader->Cmd({"SELECT", "p"}), "OK");  // public: read-only
  auto keyed = Connect();
  EXPECT_STATUS(keyed->Cmd({"SELECT", "p", "pw"}), "OK");
  EXPECT_BULK(keyed->Cmd({"SET", "k", "v"}), "k");
  EXPECT_BULK(reader->Cmd({"GET", "k"}), "v");
  EXPECT_STATUS(admin->Cmd({"NSSET", "p", "public", "0"}), "OK");
  EXPECT_ERROR(reader->Cmd({"GET", "k"}), "Namespace protected and private");
  EXPECT_ERROR(reader->Cmd({"SCAN"}), "Namespace protected and private");
  // The session that gave the password keeps its rights.
  EXPECT_BULK(keyed->Cmd({"SET", "k2", "v2"}), "k2");
  EXPECT_BULK(keyed->Cmd({"GET", "k"}), "v");
}

TEST_F(ZdbServerTest, NamespaceNamesRefuseControlCharacters) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  const std::string bad[] = {"a\nb", "injected\nname: fake", std::string("nul\0x", 5), "tab\there", "cr\r",
                             "esc\x1b[31m", "del\x7f", std::string(1, '\x01')};
  for (const std::string& n : bad) {
    EXPECT_ERROR(admin->Cmd({"NSNEW", n}), "This name is not allowed");
    EXPECT_ERROR(admin->Cmd({"SELECT", n}), "Namespace not found");
    EXPECT_ERROR(admin->Cmd({"NSINFO", n}), "Namespace not found");
  }
  R list = admin->Cmd({"NSLIST"});
  ASSERT_EQ(list.type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(list.elems.size(), 1u);
  // Spaces and UTF-8 are names like any other.
  EXPECT_STATUS(admin->Cmd({"NSNEW", "with space"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "caf\xc3\xa9"}), "OK");
  EXPECT_STATUS(admin->Cmd({"SELECT", "caf\xc3\xa9"}), "OK");
  R info = admin->Cmd({"NSINFO", "with space"});
  EXPECT_EQ(info.str.rfind("# namespace\nname: with space\n", 0), 0u) << info.str;
  EXPECT_EQ(zdb_test::ReadRaw(dir_.path() + "/zdb.log").find("name: fake"), std::string::npos);
}

}  // namespace
