// The daemon's side of the command table: the dispatcher and one handler per
// request. Requests and replies are in docs/zstor-protocol.md; replies are
// written with the codecs of zstor/replies.h, errors as "-CODE message".
// Handlers call the ObjectStore directly: its per-object locks order
// operations on one object (client requests, the monitor, the staging worker).
#include <chrono>
#include <filesystem>

#include "common/resp_writer.h"
#include "zstor/command_table.h"
#include "zstor/daemon.h"
#include "zstor/replies.h"

namespace zstor {

using qs::Status;
namespace resp = qs::resp;

namespace {

struct Reply {
  std::string* out;
  void Ok() const { EncodeOk(out); }
  void Fail(const Status& s) const { EncodeError(s, out); }
};

}  // namespace

// The table checks the name and the arity once, for every command.
void Daemon::Execute(const Args& argv, std::string* out) {
  std::string error;
  const CommandSpec* cmd = FindDaemonCommand(argv, &error);
  if (cmd == nullptr) return EncodeRequestError(error, out);
  (this->*cmd->serve)(argv, out);
}

double Daemon::Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Daemon::PingCommand(const Args&, std::string* out) { resp::AppendSimple(out, "PONG"); }

// STORE local-file key
void Daemon::StoreCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  std::string local(argv[1]), key(argv[2]);
  Status s = store_->Store(local, key);
  std::error_code ec;
  Count("store", s.ok(), Since(t0), s.ok() ? std::filesystem::file_size(local, ec) : 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// RETRIEVE key output-file
void Daemon::RetrieveCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  std::string dest(argv[2]);
  Status s = store_->Retrieve(std::string(argv[1]), dest);
  std::error_code ec;
  Count("retrieve", s.ok(), Since(t0), s.ok() ? std::filesystem::file_size(dest, ec) : 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// CHECK key -> CheckReport
void Daemon::CheckCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = store_->Check(std::string(argv[1]));
  Count("check", r.ok(), Since(t0), 0);
  if (!r.ok()) return Reply{out}.Fail(r.status());
  EncodeCheckReport(*r, out);
}

// REBUILD key -> fragments rebuilt
void Daemon::RebuildCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto r = store_->Rebuild(std::string(argv[1]));
  Count("rebuild", r.ok(), Since(t0), 0);
  r.ok() ? EncodeCount(*r, out) : Reply{out}.Fail(r.status());
}

// DELETE key
void Daemon::DeleteCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  Status s = store_->Delete(std::string(argv[1]));
  Count("delete", s.ok(), Since(t0), 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// LIST -> object summaries
void Daemon::ListCommand(const Args&, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  auto l = store_->List(/*strict=*/true);
  Count("list", l.ok(), Since(t0), 0);
  if (!l.ok()) return Reply{out}.Fail(l.status());
  std::vector<ObjectSummary> summaries;
  summaries.reserve(l->size());
  for (const auto& m : *l) summaries.push_back(ObjectSummary{m.path, m.size, m.chunks.size(), m.created});
  EncodeObjectList(summaries, out);
}

// STATUS -> backend rows: health and space as the monitor last saw them (-1:
// never seen), so a dead backend never blocks the answer.
void Daemon::StatusCommand(const Args&, std::string* out) {
  auto& pool = store_->backends();
  auto& meta = store_->meta().backends();
  std::vector<BackendRow> rows;
  rows.reserve(pool.size() + meta.size());
  auto row = [&](Backend& b, const char* role) {
    rows.push_back(BackendRow{role, b.name(), "", b.config().group, b.down_since_ms() == 0, b.entries(), b.used_bytes(),
                              b.free_bytes()});
  };
  for (size_t i = 0; i < pool.size(); ++i) row(pool.at(i), "data");
  for (size_t i = 0; i < meta.size(); ++i) row(meta.at(i), "meta");
  EncodeBackendRows(rows, out);
}

// HOOK event instance [args...]: a staging zdb hook event (zstor-hook).
void Daemon::HookCommand(const Args& argv, std::string* out) {
  auto t0 = std::chrono::steady_clock::now();
  if (staging_ == nullptr) return Reply{out}.Fail(Status::InvalidArgument("staging is off (config key 'zdb_data_dir_path')"));
  std::vector<std::string> args(argv.begin() + 1, argv.end());
  Status s = staging_->OnHook(args);
  Count("hook", s.ok(), Since(t0), 0);
  s.ok() ? Reply{out}.Ok() : Reply{out}.Fail(s);
}

// STAGING -> StagingStats (all zero when staging is off)
void Daemon::StagingCommand(const Args&, std::string* out) {
  StagingStats stats;
  if (staging_ != nullptr) {
    auto st = staging_->queue().stats();
    stats.enabled = true;
    stats.jobs = st.pending;
    stats.failing = st.failing;
    stats.last_error = st.last_error;
    stats.data_dir_bytes = staging_->data_dir_bytes();
    stats.max_data_dir_bytes = store_->config().max_zdb_data_dir_size;
  }
  EncodeStagingStats(stats, out);
}

// REPAIR -> objects repaired (one round now)
void Daemon::RepairCommand(const Args&, std::string* out) {
  monitor_->HealthRound();
  EncodeCount(monitor_->RepairRound(), out);
}

// SCRUB [FULL] -> objects found damaged (and rebuilt)
void Daemon::ScrubCommand(const Args& argv, std::string* out) {
  if (argv.size() > 2) return EncodeRequestError("wrong number of arguments for SCRUB", out);
  bool full = argv.size() > 1 && (argv[1] == "FULL" || argv[1] == "full");
  EncodeCount(monitor_->ScrubRound(full), out);
}

// SWEEP [DRYRUN] -> SweepReport
void Daemon::SweepCommand(const Args& argv, std::string* out) {
  if (argv.size() > 2 || (argv.size() == 2 && argv[1] != "DRYRUN" && argv[1] != "dryrun"))
    return EncodeRequestError("syntax: SWEEP [DRYRUN]", out);
  auto t0 = std::chrono::steady_clock::now();
  auto r = Sweep(argv.size() == 2);
  Count("sweep", r.ok(), Since(t0), 0);
  if (!r.ok()) return Reply{out}.Fail(r.status());
  EncodeSweepReport(*r, out);
}

}  // namespace zstor
