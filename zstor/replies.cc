#include "zstor/replies.h"

#include <climits>

#include "common/resp_writer.h"

namespace zstor {

using qs::Reply;
using qs::Status;
namespace resp = qs::resp;

namespace {

std::string Describe(const Reply& r) {
  switch (r.type) {
    case Reply::Type::kNil: return "nil";
    case Reply::Type::kStatus: return "a status";
    case Reply::Type::kError: return "an error";
    case Reply::Type::kInteger: return "the integer " + std::to_string(r.integer);
    case Reply::Type::kString: return "a string";
    case Reply::Type::kArray: return "an array of " + std::to_string(r.elements.size());
  }
  return "a reply of unknown type";
}

// Reads the fields of one reply; the first fault is kept and later reads
// return zero values, so a decoder reads every field and checks once.
class FieldReader {
 public:
  explicit FieldReader(std::string_view what) : what_(what) {}

  // An error reply decodes to its Status; anything but an array of n
  // elements (any length when n is negative) is malformed.
  bool Array(const Reply& r, long n) {
    if (!status_.ok()) return false;
    if (r.is_error()) {
      status_ = DecodeError(r.str);
      return false;
    }
    if (!r.is_array()) return Fail("expected an array, got " + Describe(r));
    if (n >= 0 && r.elements.size() != static_cast<size_t>(n))
      return Fail("expected " + std::to_string(n) + " elements, got " + std::to_string(r.elements.size()));
    return true;
  }
  int64_t Integer(const Reply& e, const char* field, int64_t min, int64_t max) {
    if (!status_.ok()) return 0;
    if (!e.is_integer()) {
      Fail(std::string(field) + ": expected an integer, got " + Describe(e));
      return 0;
    }
    if (e.integer < min || e.integer > max) {
      Fail(std::string(field) + ": " + std::to_string(e.integer) + " is out of range");
      return 0;
    }
    return e.integer;
  }
  uint64_t Unsigned(const Reply& e, const char* field) { return static_cast<uint64_t>(Integer(e, field, 0, INT64_MAX)); }
  int64_t OrUnknown(const Reply& e, const char* field) { return Integer(e, field, -1, INT64_MAX); }
  bool Flag(const Reply& e, const char* field) { return Integer(e, field, 0, 1) == 1; }
  std::string Text(const Reply& e, const char* field) {
    if (!status_.ok()) return "";
    if (!e.is_string()) {
      Fail(std::string(field) + ": expected a string, got " + Describe(e));
      return "";
    }
    return e.str;
  }
  bool Fail(const std::string& why) {
    if (status_.ok()) status_ = Status::IOError("malformed " + what_ + " reply: " + why);
    return false;
  }
  const Status& status() const { return status_; }

 private:
  std::string what_;
  Status status_;
};

struct CodeName {
  Status::Code code;
  const char* name;
};

// The wire names of the Status codes: part of the protocol, never renamed.
constexpr CodeName kCodes[] = {
    {Status::Code::kNotFound, "NOTFOUND"},       {Status::Code::kCorruption, "CORRUPTION"},
    {Status::Code::kInvalidArgument, "INVALID"}, {Status::Code::kIOError, "IOERR"},
    {Status::Code::kNoSpace, "NOSPACE"},         {Status::Code::kPermissionDenied, "DENIED"},
    {Status::Code::kUnavailable, "UNAVAILABLE"}, {Status::Code::kAlreadyExists, "EXISTS"},
    {Status::Code::kBusy, "BUSY"},               {Status::Code::kLimitExceeded, "LIMIT"},
    {Status::Code::kNotSupported, "NOTSUPPORTED"},
};

constexpr const char* kRequestErrorCode = "ERR";

Status WithCode(Status::Code code, std::string_view m) {
  switch (code) {
    case Status::Code::kNotFound: return Status::NotFound(m);
    case Status::Code::kCorruption: return Status::Corruption(m);
    case Status::Code::kInvalidArgument: return Status::InvalidArgument(m);
    case Status::Code::kNoSpace: return Status::NoSpace(m);
    case Status::Code::kPermissionDenied: return Status::PermissionDenied(m);
    case Status::Code::kUnavailable: return Status::Unavailable(m);
    case Status::Code::kAlreadyExists: return Status::AlreadyExists(m);
    case Status::Code::kBusy: return Status::Busy(m);
    case Status::Code::kLimitExceeded: return Status::LimitExceeded(m);
    case Status::Code::kNotSupported: return Status::NotSupported(m);
    case Status::Code::kOk:
    case Status::Code::kIOError: break;
  }
  return Status::IOError(m);
}

}  // namespace

void EncodeOk(std::string* out) { resp::AppendOk(out); }

Status DecodeOk(const Reply& reply) {
  if (reply.is_error()) return DecodeError(reply.str);
  if (reply.is_status() && reply.str == "OK") return Status::OK();
  return Status::IOError("malformed reply: expected +OK, got " + Describe(reply));
}

void EncodeCount(uint64_t n, std::string* out) { resp::AppendInteger(out, static_cast<int64_t>(n)); }

qs::Result<uint64_t> DecodeCount(const Reply& reply) {
  if (reply.is_error()) return DecodeError(reply.str);
  FieldReader f("count");
  uint64_t n = f.Unsigned(reply, "count");
  if (!f.status().ok()) return f.status();
  return n;
}

// CHECK -> [size, chunks, fragments, fragments ok, weakest chunk, k, m]
void EncodeCheckReport(const CheckReport& r, std::string* out) {
  resp::AppendArrayHeader(out, 7);
  for (int64_t v : {static_cast<int64_t>(r.size), static_cast<int64_t>(r.chunks), static_cast<int64_t>(r.fragments),
                    static_cast<int64_t>(r.fragments_ok), static_cast<int64_t>(r.min_chunk_ok), static_cast<int64_t>(r.k),
                    static_cast<int64_t>(r.m)})
    resp::AppendInteger(out, v);
}

qs::Result<CheckReport> DecodeCheckReport(const Reply& reply) {
  FieldReader f("CHECK");
  if (!f.Array(reply, 7)) return f.status();
  const auto& e = reply.elements;
  CheckReport c;
  c.size = f.Unsigned(e[0], "size");
  c.chunks = f.Unsigned(e[1], "chunks");
  c.fragments = f.Unsigned(e[2], "fragments");
  c.fragments_ok = f.Unsigned(e[3], "fragments_ok");
  c.min_chunk_ok = f.Unsigned(e[4], "min_chunk_ok");
  c.k = static_cast<int>(f.Integer(e[5], "k", 0, INT_MAX));
  c.m = static_cast<int>(f.Integer(e[6], "m", 0, INT_MAX));
  if (!f.status().ok()) return f.status();
  return c;
}

// LIST -> [[key, size, chunks, created], ...]
void EncodeObjectList(const std::vector<ObjectSummary>& l, std::string* out) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(l.size()));
  for (const auto& m : l) {
    resp::AppendArrayHeader(out, 4);
    resp::AppendBulk(out, m.key);
    resp::AppendInteger(out, static_cast<int64_t>(m.size));
    resp::AppendInteger(out, static_cast<int64_t>(m.chunks));
    resp::AppendInteger(out, static_cast<int64_t>(m.created));
  }
}

qs::Result<std::vector<ObjectSummary>> DecodeObjectList(const Reply& reply) {
  FieldReader f("LIST");
  if (!f.Array(reply, -1)) return f.status();
  std::vector<ObjectSummary> l;
  for (const auto& row : reply.elements) {
    if (!f.Array(row, 4)) return f.status();
    ObjectSummary m;
    m.key = f.Text(row.elements[0], "key");
    m.size = f.Unsigned(row.elements[1], "size");
    m.chunks = f.Unsigned(row.elements[2], "chunks");
    m.created = f.Unsigned(row.elements[3], "created");
    if (!f.status().ok()) return f.status();
    l.push_back(std::move(m));
  }
  return l;
}

// STATUS -> [[role, backend, group, up, entries, used bytes, free bytes], ...]
void EncodeBackendRows(const std::vector<BackendRow>& rows, std::string* out) {
  resp::AppendArrayHeader(out, static_cast<int64_t>(rows.size()));
  for (const auto& b : rows) {
    resp::AppendArrayHeader(out, 7);
    resp::AppendBulk(out, b.role);
    resp::AppendBulk(out, b.name);
    resp::AppendInteger(out, b.group);
    resp::AppendInteger(out, b.up ? 1 : 0);
    resp::AppendInteger(out, b.fragments);
    resp::AppendInteger(out, b.used);
    resp::AppendInteger(out, b.free);
  }
}

qs::Result<std::vector<BackendRow>> DecodeBackendRows(const Reply& reply) {
  FieldReader f("STATUS");
  if (!f.Array(reply, -1)) return f.status();
  std::vector<BackendRow> rows;
  for (const auto& row : reply.elements) {
    if (!f.Array(row, 7)) return f.status();
    const auto& e = row.elements;
    BackendRow b;
    b.role = f.Text(e[0], "role");
    b.name = f.Text(e[1], "backend");
    b.group = f.Integer(e[2], "group", -1, INT_MAX);  // -1: a meta backend
    b.up = f.Flag(e[3], "up");
    b.fragments = f.OrUnknown(e[4], "fragments");
    b.used = f.OrUnknown(e[5], "used");
    b.free = f.OrUnknown(e[6], "free");
    if (f.status().ok() && b.role != "data" && b.role != "meta") f.Fail("role: expected data or meta");
    if (!f.status().ok()) return f.status();
    rows.push_back(std::move(b));
  }
  return rows;
}

// STAGING -> [enabled, jobs, failing, last error, data dir bytes, limit]
void EncodeStagingStats(const StagingStats& s, std::string* out) {
  resp::AppendArrayHeader(out, 6);
  resp::AppendInteger(out, s.enabled ? 1 : 0);
  resp::AppendInteger(out, static_cast<int64_t>(s.jobs));
  resp::AppendInteger(out, static_cast<int64_t>(s.failing));
  resp::AppendBulk(out, s.last_error);
  resp::AppendInteger(out, static_cast<int64_t>(s.data_dir_bytes));
  resp::AppendInteger(out, static_cast<int64_t>(s.max_data_dir_bytes));
}

qs::Result<StagingStats> DecodeStagingStats(const Reply& reply) {
  FieldReader f("STAGING");
  if (!f.Array(reply, 6)) return f.status();
  const auto& e = reply.elements;
  StagingStats s;
  s.enabled = f.Flag(e[0], "enabled");
  s.jobs = f.Unsigned(e[1], "jobs");
  s.failing = f.Unsigned(e[2], "failing");
  s.last_error = f.Text(e[3], "last_error");
  s.data_dir_bytes = f.Unsigned(e[4], "data_dir_bytes");
  s.max_data_dir_bytes = f.Unsigned(e[5], "max_data_dir_bytes");
  if (!f.status().ok()) return f.status();
  return s;
}

// SWEEP -> [records, referenced, intent, backends, scanned, young, orphans,
// deleted, bytes, complete (0/1), [skipped backends]]
void EncodeSweepReport(const SweepReport& r, std::string* out) {
  resp::AppendArrayHeader(out, 11);
  for (size_t v : {r.records, r.referenced, r.intent, r.backends, r.scanned, r.young, r.orphans, r.deleted})
    resp::AppendInteger(out, static_cast<int64_t>(v));
  resp::AppendInteger(out, static_cast<int64_t>(r.bytes));
  resp::AppendInteger(out, r.complete ? 1 : 0);
  resp::AppendArrayHeader(out, static_cast<int64_t>(r.skipped.size()));
  for (const auto& s : r.skipped) resp::AppendBulk(out, s);
}

qs::Result<SweepReport> DecodeSweepReport(const Reply& reply) {
  FieldReader f("SWEEP");
  if (!f.Array(reply, 11)) return f.status();
  const auto& e = reply.elements;
  SweepReport s;
  s.records = f.Unsigned(e[0], "records");
  s.referenced = f.Unsigned(e[1], "referenced");
  s.intent = f.Unsigned(e[2], "intent");
  s.backends = f.Unsigned(e[3], "backends");
  s.scanned = f.Unsigned(e[4], "scanned");
  s.young = f.Unsigned(e[5], "young");
  s.orphans = f.Unsigned(e[6], "orphans");
  s.deleted = f.Unsigned(e[7], "deleted");
  s.bytes = f.Unsigned(e[8], "bytes");
  s.complete = f.Flag(e[9], "complete");
  if (f.status().ok() && !e[10].is_array()) f.Fail("skipped: expected an array, got " + Describe(e[10]));
  if (!f.status().ok()) return f.status();
  for (const auto& sk : e[10].elements) {
    s.skipped.push_back(f.Text(sk, "skipped"));
    if (!f.status().ok()) return f.status();
  }
  return s;
}

std::string_view ErrorCode(Status::Code code) {
  for (const auto& c : kCodes)
    if (c.code == code) return c.name;
  return kRequestErrorCode;  // kOk: not an error; never sent as one
}

void EncodeError(const Status& s, std::string* out) {
  std::string text(ErrorCode(s.code()));
  if (!s.message().empty()) text += " " + s.message();
  resp::AppendError(out, text);
}

void EncodeRequestError(std::string_view message, std::string* out) {
  resp::AppendError(out, std::string(kRequestErrorCode) + " " + std::string(message));
}

Status DecodeError(std::string_view text) {
  size_t sp = text.find(' ');
  std::string_view code = text.substr(0, sp);
  std::string_view message = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  if (code == kRequestErrorCode) return Status::InvalidArgument(message);
  for (const auto& c : kCodes)
    if (code == c.name) return WithCode(c.code, message);
  return Status::IOError(text.empty() ? std::string_view("error reply without a text") : text);
}

}  // namespace zstor
