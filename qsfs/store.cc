#include "qsfs/store.h"

#include <cerrno>

namespace qsfs {

namespace {
bool Contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }
}  // namespace

int ErrnoOf(const qs::Status& s) {
  using C = qs::Status::Code;
  switch (s.code()) {
    case C::kOk: return 0;
    case C::kNotFound: return ENOENT;
    case C::kNoSpace:
    case C::kLimitExceeded: return ENOSPC;
    case C::kPermissionDenied:
      if (Contains(s.message(), "locked") || Contains(s.message(), "frozen")) return EAGAIN;
      return EACCES;
    case C::kBusy: return EAGAIN;
    case C::kInvalidArgument: return EINVAL;
    case C::kAlreadyExists: return EEXIST;
    default: return EIO;
  }
}

}  // namespace qsfs
