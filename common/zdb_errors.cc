#include "common/zdb_errors.h"

#include <cassert>

namespace qs {

namespace {

using C = Status::Code;
using E = ZdbError;

// Keep in the enum's order (checked by ZdbErrorInfo) and in step with
// docs/zdb-protocol.md, "Error replies".
constexpr ZdbErrorSpec kTable[] = {
    {E::kCommandNotSupported, "Command not supported", C::kNotSupported},
    {E::kUnexpectedArguments, "Unexpected arguments", C::kInvalidArgument},
    {E::kInvalidArguments, "Invalid arguments", C::kInvalidArgument},
    {E::kInvalidArgument, "Invalid argument", C::kInvalidArgument},
    {E::kMissingArguments, "Missing arguments", C::kInvalidArgument},
    {E::kTooManyArguments, "Too many arguments", C::kInvalidArgument},
    {E::kProtocolError, "Protocol error: {}", C::kInvalidArgument},
    {E::kPermissionDenied, "Permission denied", C::kPermissionDenied},
    {E::kUnauthorized, "Unauthorized", C::kPermissionDenied},
    {E::kAuthenticationDisabled, "Authentication disabled", C::kNotSupported},
    {E::kPasswordTooLong, "Password too long", C::kInvalidArgument},
    {E::kAccessDenied, "Access denied", C::kPermissionDenied},
    {E::kOnlySecure, "Only SECURE extra method supported", C::kInvalidArgument},
    {E::kNoChallenge, "No CHALLENGE requested, secure authentication not available", C::kInvalidArgument},
    {E::kInvalidHashLength, "Invalid hash length", C::kInvalidArgument},
    {E::kNamespaceProtected, "Namespace protected and private", C::kPermissionDenied},
    {E::kNamespaceGone, "Your active namespace is not available anymore (probably removed).", C::kIOError},
    {E::kReadOnlySession, "Namespace is in read-only mode", C::kPermissionDenied},
    {E::kFrozen, "Namespace is temporarily frozen (read-write disabled)", C::kPermissionDenied},
    {E::kLocked, "Namespace is temporarily locked (read-only)", C::kPermissionDenied},
    {E::kFenced, "Fenced: {}", C::kIOError},
    {E::kInvalidToken, "Invalid token (expected a decimal number from 1 to 18446744073709551615)", C::kInvalidArgument},
    {E::kUnknownClientSubcommand, "Unknown CLIENT subcommand", C::kInvalidArgument},
    {E::kUnknownCommandToWatch, "Unknown command to watch", C::kInvalidArgument},
    {E::kInvalidTimeout, "Invalid timeout", C::kInvalidArgument},
    {E::kTimeout, "Timeout", C::kIOError},
    {E::kSyncFailed, "Sync failed: {}", C::kIOError},
    {E::kNamespaceTooLong, "Namespace too long", C::kInvalidArgument},
    {E::kNamespaceNotFound, "Namespace not found", C::kNotFound},
    {E::kNameNotAllowed, "This name is not allowed", C::kInvalidArgument},
    {E::kNamespaceTaken, "This namespace is not available", C::kAlreadyExists},
    {E::kCouldNotCreateNamespace, "Could not create namespace", C::kIOError},
    {E::kCannotRemoveDefault, "Cannot remove default namespace", C::kPermissionDenied},
    {E::kNamespaceDoesNotExist, "This namespace doesn't exists", C::kNotFound},
    {E::kCannotRemoveCurrent, "Cannot remove namespace you're currently using.", C::kBusy},
    {E::kCouldNotDeleteNamespace, "Could not delete this namespace", C::kIOError},
    {E::kInvalidValue, "Invalid value", C::kInvalidArgument},
    {E::kSingleRuntimeMode, "This server instance is configured to use a single runtime mode", C::kPermissionDenied},
    {E::kInvalidModeValue, "Invalid property value (expected: user, seq)", C::kInvalidArgument},
    {E::kCannotChangeMode, "Cannot change mode of used namespace", C::kPermissionDenied},
    {E::kInvalidProperty, "Invalid property", C::kInvalidArgument},
    {E::kCannotUpdateDefault, "Cannot update default namespace", C::kPermissionDenied},
    {E::kFlushDenied, "Flushing public namespace denied", C::kPermissionDenied},
    {E::kInternalServerError, "Internal Server Error", C::kIOError},
    {E::kInvalidTimestamp, "Invalid timestamp", C::kInvalidArgument},
    {E::kKeyTooLarge, "Key too large", C::kInvalidArgument},
    {E::kInvalidKey, "Invalid key", C::kInvalidArgument},
    {E::kKeyNeeded, "Invalid argument, key needed", C::kInvalidArgument},
    {E::kOnlyUpdate, "Invalid key, only update authorized", C::kInvalidArgument},
    {E::kKeyNotFound, "Key not found", C::kNotFound},
    {E::kWormOverwrite, "Namespace is protected by worm mode", C::kPermissionDenied},
    {E::kWormDelete, "Cannot delete a key when namespace is in worm mode", C::kPermissionDenied},
    {E::kNamespaceFull, "No space left on this namespace", C::kLimitExceeded},
    {E::kDiskFull, "Cannot write data right now (no space left on device)", C::kNoSpace},
    {E::kCannotWrite, "Cannot write data right now ({})", C::kIOError},
    {E::kCannotDelete, "Cannot delete key ({})", C::kIOError},
    {E::kReplyTooLarge, "Reply too large", C::kInvalidArgument},
    {E::kChecksumMismatch, "Internal Error (checksum mismatch: data is corrupted)", C::kCorruption},
    {E::kSegmentMissing, "Internal Error (data segment {} is missing)", C::kIOError},
    {E::kInternalError, "Internal Error", C::kIOError},
    {E::kInternalErrorWhy, "Internal Error ({})", C::kIOError},
    {E::kNoMoreData, "No more data", C::kNotFound},
    {E::kInvalidKeyFormat, "Invalid key format", C::kInvalidArgument},
    {E::kNoMoreHistory, "No more history", C::kNotFound},
    {E::kIndexQuery, "Invalid arguments (index query)", C::kInvalidArgument},
    {E::kHistoryKeyMismatch, "Invalid arguments (invalid key)", C::kInvalidArgument},
    {E::kUnknownIndexSubcommand, "Unknown INDEX subcommand", C::kInvalidArgument},
    {E::kUnknownIndexDirtySubcommand, "Unknown INDEX DIRTY subcommand", C::kInvalidArgument},
    {E::kUnknownDataSubcommand, "Unknown DATA subcommand", C::kInvalidArgument},
    {E::kDataFileNotAvailable, "Data file not available", C::kNotFound},
    {E::kInvalidOffset, "Invalid offset", C::kInvalidArgument},
};

constexpr size_t kCount = sizeof(kTable) / sizeof(kTable[0]);

constexpr bool InEnumOrder() {
  for (size_t i = 0; i < kCount; ++i)
    if (static_cast<size_t>(kTable[i].error) != i + 1) return false;
  return true;
}
static_assert(InEnumOrder(), "kTable must list every ZdbError once, in the enum's order");

constexpr std::string_view kSlot = "{}";

// A Redis server's error: its leading upper-case code word (NOAUTH, LOADING,
// ...) says what happened. Anything else is IOError.
Status::Code RedisErrorCode(std::string_view message) {
  std::string_view word = message.substr(0, message.find(' '));
  if (word == "NOAUTH" || word == "WRONGPASS" || word == "NOPERM" || word == "READONLY")
    return Status::Code::kPermissionDenied;
  if (word == "LOADING" || word == "BUSY" || word == "TRYAGAIN" || word == "MASTERDOWN") return Status::Code::kBusy;
  if (word == "WRONGTYPE") return Status::Code::kInvalidArgument;
  return Status::Code::kIOError;
}

}  // namespace

const ZdbErrorSpec* ZdbErrorTable(size_t* count) {
  *count = kCount;
  return kTable;
}

const ZdbErrorSpec& ZdbErrorInfo(ZdbError e) {
  assert(e != ZdbError::kUnknown);
  return kTable[static_cast<size_t>(e) - 1];
}

std::string ZdbErrorReply(ZdbError e, std::string_view detail) {
  std::string text = ZdbErrorInfo(e).text;
  size_t slot = text.find(kSlot);
  if (slot != std::string::npos) text.replace(slot, kSlot.size(), detail);
  return text;
}

ZdbError ParseZdbError(std::string_view reply) {
  // An exact text wins; else the templated entry whose fixed parts (around
  // the detail) are longest, so "Internal Error (data segment 3 is
  // missing)" is kSegmentMissing and not the generic kInternalErrorWhy.
  ZdbError best = ZdbError::kUnknown;
  size_t best_fixed = 0;
  for (const ZdbErrorSpec& spec : kTable) {
    std::string_view text = spec.text;
    size_t slot = text.find(kSlot);
    if (slot == std::string_view::npos) {
      if (reply == text) return spec.error;
      continue;
    }
    std::string_view prefix = text.substr(0, slot);
    std::string_view suffix = text.substr(slot + kSlot.size());
    size_t fixed = prefix.size() + suffix.size();
    if (reply.size() < fixed || reply.substr(0, prefix.size()) != prefix ||
        reply.substr(reply.size() - suffix.size()) != suffix)
      continue;
    if (fixed > best_fixed) {
      best = spec.error;
      best_fixed = fixed;
    }
  }
  return best;
}

Status StatusFromServerError(std::string_view message) {
  std::string msg = "server error: " + std::string(message);
  ZdbError e = ParseZdbError(message);
  Status::Code code = e != ZdbError::kUnknown ? ZdbErrorInfo(e).status : RedisErrorCode(message);
  switch (code) {
    case Status::Code::kNotFound: return Status::NotFound(msg);
    case Status::Code::kCorruption: return Status::Corruption(msg);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(msg);
    case Status::Code::kNoSpace: return Status::NoSpace(msg);
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(msg);
    case Status::Code::kUnavailable: return Status::Unavailable(msg);
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(msg);
    case Status::Code::kBusy: return Status::Busy(msg);
    case Status::Code::kLimitExceeded: return Status::LimitExceeded(msg);
    case Status::Code::kNotSupported: return Status::NotSupported(msg);
    case Status::Code::kOk:
    case Status::Code::kIOError: break;
  }
  return Status::IOError(msg);
}

}  // namespace qs
