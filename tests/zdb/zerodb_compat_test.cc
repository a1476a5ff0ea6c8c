// Replies that 0-db's own test suite and clients (0-db-fs) depend on, byte
// for byte (docs/zdb-protocol.md, "Differences from 0-db" lists the rest).
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <cstdio>
#include <string>

#include "tests/zdb/server_fixture.h"

namespace {

using namespace zdb_server_test;

std::string SecureHash(const std::string& nonce, const std::string& password) {
  unsigned char md[20];
  std::string in = nonce + ":" + password;
  EVP_Digest(in.data(), in.size(), md, nullptr, EVP_sha1(), nullptr);
  char hex[41];
  for (int i = 0; i < 20; ++i) snprintf(hex + 2 * i, 3, "%02x", md[i]);
  return hex;
}

// 0-db checks a namespace password on SELECT for every session, admin or not.
TEST_F(ZdbServerTest, SelectChecksPasswordsForAdminsToo) {
  StartZdb({"--admin", "secret"});
  auto admin = Connect();
  EXPECT_STATUS(admin->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "pub"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "pub", "password", "pw"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSNEW", "priv"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "password", "pw"}), "OK");
  EXPECT_STATUS(admin->Cmd({"NSSET", "priv", "public", "0"}), "OK");

  EXPECT_ERROR(admin->Cmd({"SELECT", "priv"}), "Namespace protected and private");
  EXPECT_ERROR(admin->Cmd({"SELECT", "priv", "wrong"}), "Access denied");
  EXPECT_ERROR(admin->Cmd({"SELECT", "pub", "wrong"}), "Access denied");
  R ch = admin->Cmd({"AUTH", "SECURE", "CHALLENGE"});
  ASSERT_EQ(ch.type, REDIS_REPLY_STATUS);
  EXPECT_ERROR(admin->Cmd({"SELECT", "priv", "SECURE", SecureHash(ch.str, "wrong")}), "Access denied");
  ch = admin->Cmd({"AUTH", "SECURE", "CHALLENGE"});
  EXPECT_ERROR(admin->Cmd({"SELECT", "priv", "SECURE", "abc"}), "Invalid hash length");
  // Public with a password, no password given: read-only, admin or not.
  EXPECT_STATUS(admin->Cmd({"SELECT", "pub"}), "OK");
  EXPECT_ERROR(admin->Cmd({"SET", "k", "v"}), "Namespace is in read-only mode");
  EXPECT_ERROR(admin->Cmd({"DEL", "k"}), "Namespace is in read-only mode");
  EXPECT_STATUS(admin->Cmd({"SELECT", "pub", "pw"}), "OK");
  EXPECT_BULK(admin->Cmd({"SET", "k", "v"}), "k");
  ch = admin->Cmd({"AUTH", "SECURE", "CHALLENGE"});
  EXPECT_STATUS(admin->Cmd({"SELECT", "priv", "SECURE", SecureHash(ch.str, "pw")}), "OK");
  EXPECT_BULK(admin->Cmd({"SET", "k", "v"}), "k");
  // Admin commands still work from there.
  EXPECT_STATUS(admin->Cmd({"NSNEW", "other"}), "OK");
}

// --protect: default is public with the admin password. AUTH makes a session
// admin but gives no namespace rights; SELECT with the password does.
TEST_F(ZdbServerTest, ProtectedDefaultNeedsItsPasswordOnSelect) {
  StartZdb({"--admin", "secret", "--protect"});
  auto c = Connect();
  EXPECT_ERROR(c->Cmd({"SET", "k", "v"}), "Namespace is in read-only mode");
  EXPECT_STATUS(c->Cmd({"AUTH", "secret"}), "OK");
  EXPECT_ERROR(c->Cmd({"SET", "k", "v"}), "Namespace is in read-only mode");
  EXPECT_STATUS(c->Cmd({"SELECT", "default"}), "OK");
  EXPECT_ERROR(c->Cmd({"SET", "k", "v"}), "Namespace is in read-only mode");
  EXPECT_STATUS(c->Cmd({"SELECT", "default", "secret"}), "OK");
  EXPECT_BULK(c->Cmd({"SET", "k", "v"}), "k");
  auto reader = Connect();
  EXPECT_BULK(reader->Cmd({"GET", "k"}), "v");
}

TEST_F(ZdbServerTest, EmptyAndOversizedMultibulkAnswerAtOnce) {
  StartZdb();
  EXPECT_EQ(RawExchange(sock_, "*0\r\n"), "-Missing arguments\r\n");
  EXPECT_EQ(RawExchange(sock_, "*-1\r\n"), "-Missing arguments\r\n");
  EXPECT_EQ(RawExchange(sock_, "*1025\r\n"), "-Too many arguments\r\n");
  EXPECT_EQ(RawExchange(sock_, "*100000000\r\n"), "-Too many arguments\r\n");
  // 1024 arguments are still one command.
  std::string mget = "*1024\r\n$4\r\nMGET\r\n";
  for (int i = 1; i < 1024; ++i) mget += "$1\r\nk\r\n";
  mget += "*1\r\n$4\r\nQUIT\r\n";
  std::string got = RawExchange(sock_, mget);
  EXPECT_EQ(got.rfind("*1023\r\n$-1\r\n", 0), 0u) << got.substr(0, 64);
  EXPECT_EQ(got.size(), std::string("*1023\r\n").size() + 1023 * 5 + 5) << got.substr(got.size() - 16);
}

std::string InfoField(const std::string& info, const std::string& key) {
  size_t at = info.find("\n" + key + ": ");
  if (at == std::string::npos) return "<absent>";
  at += key.size() + 3;
  return info.substr(at, info.find('\n', at) - at);
}

// 0-db prints the next sequential id as printf("0x%08" PRIx64, bswap_64(id));
// 0-db-fs reads the first eight hex digits back and swaps them.
TEST_F(ZdbServerTest, NsinfoNextInternalIdIsPrintedAs0db) {
  StartZdb();
  auto c = Connect();
  EXPECT_STATUS(c->Cmd({"NSNEW", "s"}), "OK");
  EXPECT_STATUS(c->Cmd({"NSSET", "s", "mode", "seq"}), "OK");
  EXPECT_EQ(InfoField(c->Cmd({"NSINFO", "s"}).str, "next_internal_id"), "0x00000000");
  EXPECT_STATUS(c->Cmd({"SELECT", "s"}), "OK");
  for (int i = 0; i < 3; ++i) c->Cmd({"SET", "", "v"});
  EXPECT_EQ(InfoField(c->Cmd({"NSINFO", "s"}).str, "next_internal_id"), "0x300000000000000");
  for (int i = 3; i < 0x1234; ++i) c->Cmd({"SET", "", "v"});
  EXPECT_EQ(InfoField(c->Cmd({"NSINFO", "s"}).str, "next_internal_id"), "0x3412000000000000");
}

}  // namespace
