// The error replies zdb sends, in one table: each error's code, its exact
// text (0-db's where 0-db has one; clients depend on them byte for byte)
// and the qs::Status code a client reads it as. docs/zdb-protocol.md,
// "Error replies", lists the same table. The server builds every error
// reply with ZdbErrorReply; clients map a reply back with ParseZdbError
// (the code) or StatusFromServerError (the Status).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace qs {

enum class ZdbError : uint8_t {
  kUnknown = 0,  // not a reply of this table (another server, a newer zdb)
  // Dispatch and arguments.
  kCommandNotSupported,
  kUnexpectedArguments,
  kInvalidArguments,
  kInvalidArgument,
  kMissingArguments,
  kTooManyArguments,
  kProtocolError,  // "Protocol error: {}" (the request could not be parsed)
  // Sessions and rights.
  kPermissionDenied,
  kUnauthorized,
  kAuthenticationDisabled,
  kPasswordTooLong,
  kAccessDenied,
  kOnlySecure,
  kNoChallenge,
  kInvalidHashLength,
  kNamespaceProtected,
  kNamespaceGone,
  kReadOnlySession,
  kFrozen,
  kLocked,
  kFenced,  // "Fenced: {}"
  kInvalidToken,
  // Connection commands.
  kUnknownClientSubcommand,
  kUnknownCommandToWatch,
  kInvalidTimeout,
  kTimeout,
  kSyncFailed,  // "Sync failed: {}"
  // Namespace administration.
  kNamespaceTooLong,
  kNamespaceNotFound,
  kNameNotAllowed,
  kNamespaceTaken,
  kCouldNotCreateNamespace,
  kCannotRemoveDefault,
  kNamespaceDoesNotExist,
  kCannotRemoveCurrent,
  kCouldNotDeleteNamespace,
  kInvalidValue,
  kSingleRuntimeMode,
  kInvalidModeValue,
  kCannotChangeMode,
  kInvalidProperty,
  kCannotUpdateDefault,
  kFlushDenied,
  kInternalServerError,
  // Data.
  kInvalidTimestamp,
  kKeyTooLarge,
  kInvalidKey,
  kKeyNeeded,
  kOnlyUpdate,
  kKeyNotFound,
  kWormOverwrite,
  kWormDelete,
  kNamespaceFull,
  kDiskFull,
  kCannotWrite,   // "Cannot write data right now ({})"
  kCannotDelete,  // "Cannot delete key ({})"
  kReplyTooLarge,
  kChecksumMismatch,
  kSegmentMissing,     // "Internal Error (data segment {} is missing)"
  kInternalError,
  kInternalErrorWhy,   // "Internal Error ({})"
  // Scanning and history.
  kNoMoreData,
  kInvalidKeyFormat,
  kNoMoreHistory,
  kIndexQuery,
  kHistoryKeyMismatch,
  // Administration of files.
  kUnknownIndexSubcommand,
  kUnknownIndexDirtySubcommand,
  kUnknownDataSubcommand,
  kDataFileNotAvailable,
  kInvalidOffset,
};

struct ZdbErrorSpec {
  ZdbError error;
  // The reply text without the leading '-'; "{}" marks where the detail goes
  // (at most once).
  const char* text;
  Status::Code status;  // what a client reads the reply as
};

// Every entry, in the order of the enum (kUnknown excluded).
const ZdbErrorSpec* ZdbErrorTable(size_t* count);
const ZdbErrorSpec& ZdbErrorInfo(ZdbError e);  // e != kUnknown

// The reply text of e, detail in place of its "{}" (ignored when it has none).
std::string ZdbErrorReply(ZdbError e, std::string_view detail = {});

// The table entry a reply text (without '-') was built from: an exact text,
// or a templated one whose fixed parts surround a detail; kUnknown when none.
ZdbError ParseZdbError(std::string_view reply);

// Maps a server error text to a Status by its code: a zdb reply by zdb's
// error table (the table above: "Key not found" -> NotFound, the
// checksum mismatch -> Corruption, "Fenced: ..." -> IOError, ...),
// a Redis error by its code word (NOAUTH/WRONGPASS/NOPERM/READONLY ->
// PermissionDenied, LOADING/BUSY/TRYAGAIN/MASTERDOWN -> Busy, WRONGTYPE ->
// InvalidArgument); anything else is IOError. To tell zdb errors apart
// (end of a scan, a fence), compare ParseZdbError(reply) with a ZdbError.
Status StatusFromServerError(std::string_view message);

}  // namespace qs
