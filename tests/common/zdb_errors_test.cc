// zdb's error table (common/zdb_errors.h): every reply text the server
// builds reads back to its own entry and to the entry's Status code; a
// reply outside the table is IOError (or a Redis error code's meaning).
#include "common/zdb_errors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "common/zdb_client.h"

namespace {

using qs::Status;
using qs::ZdbError;

TEST(ZdbErrorsTest, ServerRepliesMapByTheirMeaning) {
  // The texts as zdb sends them (docs/zdb-protocol.md).
  EXPECT_EQ(qs::StatusFromServerError("Internal Error (checksum mismatch: data is corrupted)").code(),
            Status::Code::kCorruption);
  EXPECT_EQ(qs::StatusFromServerError("Key not found").code(), Status::Code::kNotFound);
  EXPECT_EQ(qs::StatusFromServerError("No space left on this namespace").code(), Status::Code::kLimitExceeded);
  EXPECT_EQ(qs::StatusFromServerError("Cannot write data right now (no space left on device)").code(),
            Status::Code::kNoSpace);
  // Fenced: no code of its own; IOError, as a writer that lost its lease
  // has always seen it (qsfs answers EIO).
  EXPECT_EQ(qs::StatusFromServerError("Fenced: token 3 is older than the namespace's fence 5").code(),
            Status::Code::kIOError);
  EXPECT_EQ(qs::ParseZdbError("Fenced: token 3 is older than the namespace's fence 5"), ZdbError::kFenced);
  EXPECT_EQ(qs::StatusFromServerError("Namespace is temporarily frozen (read-write disabled)").code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(qs::StatusFromServerError("Command not supported").code(), Status::Code::kNotSupported);
  EXPECT_EQ(qs::StatusFromServerError("This namespace is not available").code(), Status::Code::kAlreadyExists);
  // A text that only resembles one is not it.
  EXPECT_EQ(qs::StatusFromServerError("Key not found, or is it").code(), Status::Code::kIOError);
  EXPECT_EQ(qs::StatusFromServerError("something else entirely").code(), Status::Code::kIOError);
}

TEST(ZdbErrorsTest, EveryEntryReadsBackToItselfAndItsStatus) {
  size_t n = 0;
  const qs::ZdbErrorSpec* table = qs::ZdbErrorTable(&n);
  ASSERT_GT(n, 0u);
  std::set<std::string> texts;
  for (size_t i = 0; i < n; ++i) {
    const qs::ZdbErrorSpec& spec = table[i];
    EXPECT_EQ(&qs::ZdbErrorInfo(spec.error), &spec);
    EXPECT_TRUE(texts.insert(spec.text).second) << "duplicate text " << spec.text;
    for (const char* detail : {"", "7", "x (y) z", ")"}) {
      std::string reply = qs::ZdbErrorReply(spec.error, detail);
      EXPECT_EQ(qs::ParseZdbError(reply), spec.error) << reply;
      Status s = qs::StatusFromServerError(reply);
      EXPECT_EQ(s.code(), spec.status) << reply;
      EXPECT_NE(s.message().find(reply), std::string::npos) << s.ToString();
    }
  }
}

TEST(ZdbErrorsTest, TemplatedRepliesKeepTheirDetail) {
  EXPECT_EQ(qs::ZdbErrorReply(ZdbError::kSegmentMissing, "12"), "Internal Error (data segment 12 is missing)");
  EXPECT_EQ(qs::ZdbErrorReply(ZdbError::kInternalErrorWhy, "disk gone"), "Internal Error (disk gone)");
  EXPECT_EQ(qs::ZdbErrorReply(ZdbError::kKeyNotFound, "ignored"), "Key not found");
  EXPECT_EQ(qs::ParseZdbError("Internal Error (data segment 12 is missing)"), ZdbError::kSegmentMissing);
  EXPECT_EQ(qs::ParseZdbError("Internal Error (disk gone)"), ZdbError::kInternalErrorWhy);
  EXPECT_EQ(qs::ParseZdbError("Internal Error (checksum mismatch: data is corrupted)"), ZdbError::kChecksumMismatch);
  EXPECT_EQ(qs::ParseZdbError("Internal Error"), ZdbError::kInternalError);
  EXPECT_EQ(qs::ParseZdbError("Internal Error ("), ZdbError::kUnknown);
  EXPECT_EQ(qs::ParseZdbError(""), ZdbError::kUnknown);
}

TEST(ZdbErrorsTest, RedisErrorCodesAndUnknownErrors) {
  // Redis servers lead with an upper-case code word.
  EXPECT_EQ(qs::StatusFromServerError("NOAUTH Authentication required.").code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(qs::StatusFromServerError("WRONGPASS invalid username-password pair").code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(qs::StatusFromServerError("READONLY You can't write against a read only replica.").code(),
            Status::Code::kPermissionDenied);
  EXPECT_EQ(qs::StatusFromServerError("LOADING Redis is loading the dataset in memory").code(), Status::Code::kBusy);
  EXPECT_EQ(qs::StatusFromServerError("BUSY Redis is busy running a script.").code(), Status::Code::kBusy);
  EXPECT_EQ(qs::StatusFromServerError("WRONGTYPE Operation against a key holding the wrong kind of value").code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(qs::StatusFromServerError("ERR unknown command 'FOO'").code(), Status::Code::kIOError);
  EXPECT_EQ(qs::StatusFromServerError("").code(), Status::Code::kIOError);
}

// docs/zdb-protocol.md lists the table row for row.
TEST(ZdbErrorsTest, TheProtocolDocumentListsEveryEntry) {
  std::ifstream in(std::string(QS_SOURCE_DIR) + "/docs/zdb-protocol.md");
  ASSERT_TRUE(in.good());
  std::stringstream doc;
  doc << in.rdbuf();
  size_t n = 0;
  const qs::ZdbErrorSpec* table = qs::ZdbErrorTable(&n);
  for (size_t i = 0; i < n; ++i) {
    std::string text = table[i].text;
    std::string row = "` | `" + text + "` | ";
    EXPECT_NE(doc.str().find(row), std::string::npos) << "docs/zdb-protocol.md has no row for " << text;
  }
}

}  // namespace
