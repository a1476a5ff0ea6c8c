// Administration commands: HOOKS, INDEX, DATA (docs/zdb-protocol.md,
// "Administration commands").

#include "common/resp_writer.h"
#include "zdb/command_checks.h"
#include "zdb/commands.h"
#include "zdb/server.h"

namespace zdb {

namespace resp = qs::resp;
using qs::Status;

void HooksCommand(Server& srv, Client& c, const Args&) {
  auto recs = srv.hooks().Records();
  resp::AppendArrayHeader(&c.out, static_cast<int64_t>(recs.size()));
  for (auto& r : recs) {
    resp::AppendArrayHeader(&c.out, 6);
    resp::AppendBulk(&c.out, r.event);
    resp::AppendArrayHeader(&c.out, static_cast<int64_t>(r.args.size()));
    for (auto& a : r.args) resp::AppendBulk(&c.out, a);
    resp::AppendInteger(&c.out, r.pid);
    resp::AppendInteger(&c.out, r.created);
    resp::AppendInteger(&c.out, r.finished);
    resp::AppendInteger(&c.out, r.status);
  }
}

void IndexCommand(Server& srv, Client& c, const Args& argv) {
  if (!IEquals(argv[1], "DIRTY")) {
    AppendZdbError(&c.out, E::kUnknownIndexSubcommand);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  if (ns == nullptr) {
    AppendZdbError(&c.out, E::kNamespaceGone);
    return;
  }
  if (argv.size() == 2) {
    auto ids = ns->dirty_index_ids();
    resp::AppendArrayHeader(&c.out, static_cast<int64_t>(ids.size()));
    for (uint32_t id : ids) resp::AppendInteger(&c.out, id);
  } else if (argv.size() == 3 && IEquals(argv[2], "RESET")) {
    ns->ResetDirtyIndex();
    resp::AppendOk(&c.out);
  } else {
    AppendZdbError(&c.out, E::kUnknownIndexDirtySubcommand);
  }
}

void DataCommand(Server& srv, Client& c, const Args& argv) {
  if (!IEquals(argv[1], "RAW") || argv.size() != 4) {
    AppendZdbError(&c.out, E::kUnknownDataSubcommand);
    return;
  }
  int64_t id, offset;
  if (!ParseInt64(argv[2], &id) || !ParseInt64(argv[3], &offset) || id < 0 || offset < 0 || id >= kNoSegment) {
    AppendZdbError(&c.out, E::kInvalidArguments);
    return;
  }
  Namespace* ns = srv.CurrentNamespace(c);
  auto f = srv.env()->OpenRead(ns->DataPath(static_cast<uint32_t>(id)));
  if (!f.ok()) {
    AppendZdbError(&c.out, E::kDataFileNotAvailable);
    return;
  }
  char hdr[kDataEntryHeaderSize];
  std::string_view got;
  DataEntry e;
  size_t total = 0;
  if (!(*f)->Read(static_cast<uint64_t>(offset), sizeof(hdr), hdr, &got).ok() || got.size() != sizeof(hdr) ||
      !DecodeDataHeader(got, &e, &total).ok() || total > (16u << 20)) {
    AppendZdbError(&c.out, E::kInvalidOffset);
    return;
  }
  std::string buf(total, '\0');
  if (!(*f)->Read(static_cast<uint64_t>(offset), total, buf.data(), &got).ok() || got.size() != total ||
      !DecodeDataEntry(got, &e).ok()) {
    AppendZdbError(&c.out, E::kChecksumMismatch);
    return;
  }
  resp::AppendArrayHeader(&c.out, 6);
  resp::AppendBulk(&c.out, e.key);
  resp::AppendInteger(&c.out, e.prev_segment == kNoSegment ? -1 : static_cast<int64_t>(e.prev_offset));
  resp::AppendInteger(&c.out, e.crc);
  resp::AppendInteger(&c.out, e.flags);
  resp::AppendInteger(&c.out, static_cast<int64_t>(e.timestamp));
  resp::AppendBulk(&c.out, e.value);
}

}  // namespace zdb
