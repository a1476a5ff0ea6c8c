// Data, scanning and history commands: SET/SETX, GET, MGET, DEL, EXISTS,
// CHECK, LENGTH, KEYTIME, PROVE, SCAN/SCANX/RSCAN, KEYCUR, HISTORY
// (docs/zdb-protocol.md, "Data commands" to "History").

#include "common/resp_writer.h"
#include "zdb/command_checks.h"
#include "zdb/commands.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

namespace {

constexpr size_t kScanBatch = 100;

void ScanImpl(Server& srv, Client& c, const Args& argv, bool reverse) {
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view cursor;
  if (argv.size() > 1 && argv[1] != "0") cursor = argv[1];  // "0" starts, as redis-cli expects
  std::vector<ScanItem> items;
  std::string next;
  Status s = ns->Scan(cursor, reverse, kScanBatch, &items, &next);
  if (s.IsNotFound()) {
    AppendZdbError(&c.out, E::kNoMoreData);
    return;
  }
  if (!s.ok()) {
    AppendZdbError(&c.out, s.code() == Status::Code::kInvalidArgument ? E::kInvalidKeyFormat : E::kInternalError);
    return;
  }
  resp::AppendArrayHeader(&c.out, 2);
  resp::AppendBulk(&c.out, next);
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(items.size()));
  for (auto& it : items) {
    resp::AppendArrayHeader(&c.out, 3);
    resp::AppendBulk(&c.out, it.key);
    resp::AppendInteger(&c.out, it.value_size);
    resp::AppendInteger(&c.out, static_cast<int64_t>(it.timestamp));
  }
}

}  // namespace

void SetCommand(Server& srv, Client& c, const Args& argv) {
  uint64_t timestamp = 0;
  if (!TimestampArg(c, argv, 3, &timestamp)) return;
  if (argv[1].size() > kMaxKeySize) {
    AppendZdbError(&c.out, E::kKeyTooLarge);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckWrite(c, ns)) return;
  std::string assigned;
  bool unchanged = false;
  Status s = ns->Set(argv[1], argv[2], timestamp, &assigned, &unchanged);
  if (!s.ok()) {
    switch (s.code()) {
      case Status::Code::kLimitExceeded:
        AppendZdbError(&c.out, E::kNamespaceFull);
        break;
      case Status::Code::kNotFound:
      case Status::Code::kInvalidArgument:
      case Status::Code::kPermissionDenied:
        resp::AppendError(&c.out, s.message());  // a table text (namespace.cc)
        break;
      case Status::Code::kNoSpace:
        AppendZdbError(&c.out, E::kDiskFull);
        break;
      default:
        AppendZdbError(&c.out, E::kCannotWrite, s.message());
    }
    return;
  }
  if (unchanged) resp::AppendNil(&c.out);
  else resp::AppendBulk(&c.out, assigned);
}

void GetCommand(Server& srv, Client& c, const Args& argv) {
  if (argv[1].empty()) {
    AppendZdbError(&c.out, E::kInvalidArgument);
    return;
  }
  if (argv[1].size() > kMaxKeySize) {
    AppendZdbError(&c.out, E::kInvalidKey);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view value;
  uint32_t missing = kNoSegment;
  Status s = ns->GetView(argv[1], &value, &missing);
  if (s.ok()) resp::AppendBulk(&c.out, value);
  else if (s.IsNotFound()) resp::AppendNil(&c.out);
  else ReplyStorageError(srv, c, argv, ns, s, missing);
}

void MgetCommand(Server& srv, Client& c, const Args& argv) {
  Namespace* ns = srv.CurrentNamespace(c);
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i].size() > kMaxKeySize) {
      AppendZdbError(&c.out, E::kInvalidKey);
      return;
    }
  }
  if (!CheckRead(c, ns)) return;
  std::string body;
  std::string_view value;
  // One reply may not take a client from below its soft output limit to
  // over its hard one (docs/zdb-protocol.md, "Limits").
  const uint64_t max_reply = srv.options().client_output_hard - srv.options().client_output_soft;
  for (size_t i = 1; i < argv.size(); ++i) {
    uint32_t missing = kNoSegment;
    Status s = ns->GetView(argv[i], &value, &missing);
    if (s.ok() && body.size() + value.size() > max_reply) {
      AppendZdbError(&c.out, E::kReplyTooLarge);
      return;
    }
    if (s.ok()) resp::AppendBulk(&body, value);
    else if (s.IsNotFound()) resp::AppendNil(&body);
    else if (missing != kNoSegment && srv.FetchMissingSegment(c, argv, ns, missing)) return;  // re-runs whole
    else AppendZdbError(&body, s.IsCorruption() ? E::kChecksumMismatch : E::kInternalError);
  }
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(argv.size() - 1));
  c.out += body;
}

void DelCommand(Server& srv, Client& c, const Args& argv) {
  uint64_t timestamp = 0;
  if (!TimestampArg(c, argv, 2, &timestamp)) return;
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckWrite(c, ns)) return;
  Status s = ns->Del(argv[1], timestamp);
  if (s.ok()) resp::AppendOk(&c.out);
  else if (s.IsNotFound()) AppendZdbError(&c.out, E::kKeyNotFound);
  else if (s.code() == Status::Code::kPermissionDenied) resp::AppendError(&c.out, s.message());  // worm (table text)
  else AppendZdbError(&c.out, E::kCannotDelete, s.message());
}

void ExistsCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  resp::AppendInteger(&c.out, ns->Exists(argv[1]) ? 1 : 0);
}

void CheckCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  Status s = ns->Check(argv[1]);
  if (s.IsNotFound()) resp::AppendNil(&c.out);
  else if (s.ok()) resp::AppendInteger(&c.out, 1);
  else if (s.IsCorruption()) resp::AppendInteger(&c.out, 0);
  else resp::AppendInteger(&c.out, -1);
}

void LengthCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  KeyInfo info;
  if (!ns->Stat(argv[1], &info).ok()) resp::AppendNil(&c.out);
  else resp::AppendInteger(&c.out, info.value_size);
}

void KeytimeCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  KeyInfo info;
  if (!ns->Stat(argv[1], &info).ok()) resp::AppendNil(&c.out);
  else resp::AppendInteger(&c.out, static_cast<int64_t>(info.timestamp));
}

void ScanCommand(Server& srv, Client& c, const Args& argv) { ScanImpl(srv, c, argv, false); }
void RscanCommand(Server& srv, Client& c, const Args& argv) { ScanImpl(srv, c, argv, true); }

void KeycurCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  std::string cursor;
  Status s = srv.CurrentNamespace(c)->KeyCursor(argv[1], &cursor);
  if (s.IsNotFound()) AppendZdbError(&c.out, E::kKeyNotFound);
  else if (!s.ok()) AppendZdbError(&c.out, E::kInternalError);
  else resp::AppendBulk(&c.out, cursor);
}

void HistoryCommand(Server& srv, Client& c, const Args& argv) {
  if (argv.size() > 3) {
    AppendZdbError(&c.out, E::kInvalidArguments);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string_view cursor = argv.size() == 3 ? argv[2] : std::string_view();
  if (argv.size() == 3 && cursor.empty()) {
    AppendZdbError(&c.out, E::kNoMoreHistory);
    return;
  }
  HistoryItem item;
  Status s = ns->History(argv[1], cursor, &item);
  if (s.IsNotFound()) {
    AppendZdbError(&c.out, E::kKeyNotFound);
    return;
  }
  if (s.code() == Status::Code::kInvalidArgument) {
    resp::AppendError(&c.out, s.message());  // a table text (namespace.cc)
    return;
  }
  if (!s.ok()) {
    AppendZdbError(&c.out, E::kInternalError);
    return;
  }
  resp::AppendArrayHeader(&c.out, 3);
  if (item.parent_cursor.empty()) resp::AppendNil(&c.out);
  else resp::AppendBulk(&c.out, item.parent_cursor);
  resp::AppendBulk(&c.out, std::to_string(item.timestamp));
  resp::AppendBulk(&c.out, item.value);
}

void ProveCommand(Server& srv, Client& c, const Args& argv) {
  if (!KeyArg(c, argv[1])) return;
  Namespace* ns = srv.CurrentNamespace(c);
  if (!CheckRead(c, ns)) return;
  std::string proof;
  Status s = ns->Prove(argv[1], argv[2], &proof);
  if (s.ok()) resp::AppendBulk(&c.out, proof);
  else if (s.IsNotFound()) resp::AppendNil(&c.out);
  else ReplyStorageError(srv, c, argv, ns, s, kNoSegment);
}

}  // namespace zdb
