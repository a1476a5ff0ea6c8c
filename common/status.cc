#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace qs {

Status Status::FromErrno(int err, std::string_view context) {
  std::string msg(context);
  msg += ": ";
  msg += std::strerror(err);
  switch (err) {
    case ENOENT: return NotFound(msg);
    case ENOSPC:
    case EDQUOT: return NoSpace(msg);
    case EACCES:
    case EPERM: return PermissionDenied(msg);
    case EEXIST: return AlreadyExists(msg);
    case EAGAIN:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE: return Unavailable(msg);
    case EINVAL: return InvalidArgument(msg);
    default: return IOError(msg);
  }
}

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kNotFound: name = "NotFound"; break;
    case Code::kCorruption: name = "Corruption"; break;
    case Code::kInvalidArgument: name = "InvalidArgument"; break;
    case Code::kIOError: name = "IOError"; break;
    case Code::kNoSpace: name = "NoSpace"; break;
    case Code::kPermissionDenied: name = "PermissionDenied"; break;
    case Code::kUnavailable: name = "Unavailable"; break;
    case Code::kAlreadyExists: name = "AlreadyExists"; break;
    case Code::kBusy: name = "Busy"; break;
    case Code::kLimitExceeded: name = "LimitExceeded"; break;
    case Code::kNotSupported: name = "NotSupported"; break;
  }
  return std::string(name) + ": " + message_;
}

}  // namespace qs
