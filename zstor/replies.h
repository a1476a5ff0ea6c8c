// The zstor daemon's replies as types, and their RESP form (byte layouts in
// docs/zstor-protocol.md). The daemon encodes with Encode*; the CLI decodes
// with Decode*, which checks the reply's shape, every field's type and its
// range, and returns an error value for anything else: a short, malformed or
// hostile reply never crashes the client nor fills a field wrongly. An error
// reply decodes to the Status its code names (EncodeError / DecodeError).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/zdb_client.h"
#include "zstor/fragment_sweep.h"
#include "zstor/object_store.h"

namespace zstor {

// One object as LIST names it.
struct ObjectSummary {
  std::string key;
  uint64_t size = 0;
  uint64_t chunks = 0;
  uint64_t created = 0;  // seconds since the epoch
  bool operator==(const ObjectSummary&) const = default;
};

// One backend as STATUS reports it; -1 for a count not known yet.
struct BackendRow {
  std::string role;  // "data" or "meta"
  std::string name;
  std::string error;  // why it is down; in-process only, never on the wire
  int64_t group = 0;
  bool up = false;
  int64_t fragments = -1, used = -1, free = -1;
  bool operator==(const BackendRow&) const = default;
};

// The staging queue and data directory as STAGING reports them.
struct StagingStats {
  bool enabled = false;  // false: staging is off, every other field zero
  uint64_t jobs = 0;     // queued uploads
  uint64_t failing = 0;  // of those, failed at least once
  std::string last_error;
  uint64_t data_dir_bytes = 0;
  uint64_t max_data_dir_bytes = 0;  // 0: no limit
  bool operator==(const StagingStats&) const = default;
};

// Success without a value: +OK.
void EncodeOk(std::string* out);
qs::Status DecodeOk(const qs::Reply& reply);

// A count (fragments rebuilt, objects repaired or scrubbed): a non-negative integer.
void EncodeCount(uint64_t n, std::string* out);
qs::Result<uint64_t> DecodeCount(const qs::Reply& reply);

// CHECK: CheckReport without its path (the caller knows the key).
void EncodeCheckReport(const CheckReport& r, std::string* out);
qs::Result<CheckReport> DecodeCheckReport(const qs::Reply& reply);

// LIST
void EncodeObjectList(const std::vector<ObjectSummary>& l, std::string* out);
qs::Result<std::vector<ObjectSummary>> DecodeObjectList(const qs::Reply& reply);

// STATUS (BackendRow::error is not sent).
void EncodeBackendRows(const std::vector<BackendRow>& rows, std::string* out);
qs::Result<std::vector<BackendRow>> DecodeBackendRows(const qs::Reply& reply);

// STAGING
void EncodeStagingStats(const StagingStats& s, std::string* out);
qs::Result<StagingStats> DecodeStagingStats(const qs::Reply& reply);

// SWEEP
void EncodeSweepReport(const SweepReport& r, std::string* out);
qs::Result<SweepReport> DecodeSweepReport(const qs::Reply& reply);

// Errors. A failed operation is "-CODE message", CODE naming the Status code
// (NOTFOUND, CORRUPTION, ...); a request the dispatcher refuses (unknown
// command, wrong arity, syntax) is "-ERR message", like Redis.
void EncodeError(const qs::Status& s, std::string* out);
void EncodeRequestError(std::string_view message, std::string* out);
std::string_view ErrorCode(qs::Status::Code code);
// The Status an error reply's text (the bytes after '-') names: by its first
// word; ERR is InvalidArgument; a text without a known code is IOError with
// the whole text as its message.
qs::Status DecodeError(std::string_view text);

}  // namespace zstor
