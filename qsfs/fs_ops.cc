// fuse_lowlevel_ops of qsfs: each handler decodes the request, calls the
// Filesystem and replies. Permission checks are the kernel's
// (default_permissions), locks are the kernel's (no getlk/setlk handlers,
// so POSIX and flock locks are local to this mount).
#define FUSE_USE_VERSION 312
#include "qsfs/fs_ops.h"

#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <spdlog/spdlog.h>

#include "common/logging.h"
#include "common/mutex.h"
#include "common/service_notify.h"

namespace qsfs {

namespace {

constexpr double kCacheSeconds = 1.0;  // entry and attribute timeouts

// What every request reaches through fuse_req_userdata.
struct Session {
  Filesystem* fs = nullptr;
  FsMetrics* metrics = nullptr;  // null: metrics off
  bool writeback_cache = false;
  // Open directory handles: those whose RELEASEDIR never comes (the loop
  // ended first, e.g. on a signal) are freed with the session.
  qs::Mutex dirs_mu;
  std::unordered_set<DirHandle*> dirs GUARDED_BY(dirs_mu);
  // Runs when the session loop has ended: no request uses dirs any more.
  ~Session() NO_THREAD_SAFETY_ANALYSIS {
    for (DirHandle* h : dirs) delete h;
  }
};

Session* SessionOf(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req)); }
Filesystem* FS(fuse_req_t req) { return SessionOf(req)->fs; }
bool WritebackCache(fuse_req_t req) { return SessionOf(req)->writeback_cache; }


// Times one operation; Done(err) records it (when metrics are on) and
// passes err through, so a handler reads `fuse_reply_err(req, t.Done(...))`.
class Timed {
 public:
  Timed(fuse_req_t req, FsOp op)
      : metrics_(SessionOf(req)->metrics), op_(op), start_(std::chrono::steady_clock::now()) {}
  int Done(int err) {
    if (metrics_ != nullptr) metrics_->Done(op_, err, std::chrono::steady_clock::now() - start_);
    return err;
  }
  FsMetrics* metrics() const { return metrics_; }

 private:
  FsMetrics* metrics_;
  FsOp op_;
  std::chrono::steady_clock::time_point start_;
};

// A change is acknowledged only while the mount lease allows it
// (qsfs/lease.h): checked before the change is made and again before the
// reply, so a mount that lost its lease meanwhile answers EIO (then undo()
// drops what the unacknowledged change left open).
template <typename Fn, typename Undo>
int Gated(fuse_req_t req, Fn fn, Undo undo) {
  Filesystem* fs = FS(req);
  if (int err = fs->WriteGate()) return err;
  int err = fn();
  if (err == 0 && (err = fs->WriteGate()) != 0) undo();
  return err;
}
template <typename Fn>
int Gated(fuse_req_t req, Fn fn) {
  return Gated(req, fn, [] {});
}

Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* ctx = fuse_req_ctx(req);
  return Caller{ctx->uid, ctx->gid};
}

void ReplyEntry(fuse_req_t req, int err, const Entry& e) {
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param p{};
  p.ino = e.ino;
  p.attr = e.attr;
  p.attr_timeout = kCacheSeconds;
  p.entry_timeout = kCacheSeconds;
  fuse_reply_entry(req, &p);
}

void OpInit(void* userdata, fuse_conn_info* conn) {
  auto* session = static_cast<Session*>(userdata);
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  // Without writeback_cache every write goes through qsfs; with it the
  // kernel caches them (and answers SEEK_DATA/SEEK_HOLE itself, see
  // OpLseek). Either way the kernel clears setuid/setgid on write.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
  if (session->writeback_cache) {
    if (conn->capable & FUSE_CAP_WRITEBACK_CACHE) {
      conn->want |= FUSE_CAP_WRITEBACK_CACHE;
    } else {
      spdlog::warn("the kernel offers no write-back cache: writeback_cache is ignored");
      session->writeback_cache = false;
    }
  }
  conn->want &= ~FUSE_CAP_HANDLE_KILLPRIV;
}

void OpLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kLookup);
  Entry e;
  int err = t.Done(FS(req)->Lookup(parent, name, &e));
  ReplyEntry(req, err, e);
}

void OpForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  FS(req)->Forget(ino, nlookup);
  fuse_reply_none(req);
}

void OpForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; i++) FS(req)->Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void OpGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Timed t(req, FsOp::kGetattr);
  struct stat st;
  int err = t.Done(FS(req)->GetAttr(ino, &st));
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_attr(req, &st, kCacheSeconds);
}

void OpSetattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info*) {
  Timed t(req, FsOp::kSetattr);
  struct stat st;
  int err = t.Done(Gated(req, [&] { return FS(req)->SetAttr(ino, *attr, to_set, &st); }));
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_attr(req, &st, kCacheSeconds);
}

void OpReadlink(fuse_req_t req, fuse_ino_t ino) {
  Timed t(req, FsOp::kReadlink);
  std::string target;
  int err = t.Done(FS(req)->ReadLink(ino, &target));
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_readlink(req, target.c_str());
}

void OpMknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  Timed t(req, FsOp::kMknod);
  Entry e;
  int err = t.Done(Gated(req, [&] { return FS(req)->MkNod(CallerOf(req), parent, name, mode, rdev, &e); }));
  ReplyEntry(req, err, e);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Timed t(req, FsOp::kMkdir);
  Entry e;
  int err = t.Done(Gated(req, [&] { return FS(req)->MkDir(CallerOf(req), parent, name, mode, &e); }));
  ReplyEntry(req, err, e);
}

void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kSymlink);
  Entry e;
  int err = t.Done(Gated(req, [&] { return FS(req)->Symlink(CallerOf(req), link, parent, name, &e); }));
  ReplyEntry(req, err, e);
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kLink);
  Entry e;
  int err = t.Done(Gated(req, [&] { return FS(req)->Link(ino, parent, name, &e); }));
  ReplyEntry(req, err, e);
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kUnlink);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->Unlink(parent, name); })));
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kRmdir);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->RmDir(parent, name); })));
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
  Timed t(req, FsOp::kRename);
  fuse_reply_err(
      req, t.Done(Gated(req, [&] { return FS(req)->Rename(CallerOf(req), parent, name, newparent, newname, flags); })));
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Timed t(req, FsOp::kOpen);
  int err = 0;
  if (fi->flags & O_TRUNC) {  // a change
    err = Gated(
        req, [&] { return FS(req)->Open(ino, fi->flags); }, [&] { FS(req)->Release(ino, fi->flags); });
  } else {
    err = FS(req)->Open(ino, fi->flags);
  }
  t.Done(err);
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->keep_cache = 1;  // every change goes through this mount
  // A read-only descriptor has nothing to write back at close, and locks
  // are the kernel's: its close needs no FLUSH round trip.
  if ((fi->flags & O_ACCMODE) == O_RDONLY) fi->noflush = 1;
  if (fuse_reply_open(req, fi) == -ENOENT) FS(req)->Release(ino, fi->flags);  // interrupted
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Timed t(req, FsOp::kCreate);
  Entry e;
  int err = t.Done(Gated(
      req, [&] { return FS(req)->Create(CallerOf(req), parent, name, mode, fi->flags, &e); },
      [&] { FS(req)->Release(e.ino, fi->flags); }));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fuse_entry_param p{};
  p.ino = e.ino;
  p.attr = e.attr;
  p.attr_timeout = kCacheSeconds;
  p.entry_timeout = kCacheSeconds;
  fi->keep_cache = 1;
  if (fuse_reply_create(req, &p, fi) == -ENOENT) FS(req)->Release(e.ino, fi->flags);  // interrupted
}

void OpRead(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info*) {
  Timed t(req, FsOp::kRead);
  std::string data;
  int err = t.Done(FS(req)->Read(ino, size, static_cast<uint64_t>(off), &data));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (t.metrics() != nullptr) t.metrics()->BytesRead(data.size());
  fuse_reply_buf(req, data.data(), data.size());
}

void OpWrite(fuse_req_t req, fuse_ino_t ino, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
  Timed t(req, FsOp::kWrite);
  size_t written = 0;
  // With the write-back cache the kernel has placed O_APPEND writes itself
  // (and writes back pages through any open of the file).
  const bool append = (fi->flags & O_APPEND) != 0 && !WritebackCache(req);
  int err = t.Done(
      Gated(req, [&] { return FS(req)->Write(ino, buf, size, static_cast<uint64_t>(off), append, &written); }));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (t.metrics() != nullptr) t.metrics()->BytesWritten(written);
  fuse_reply_write(req, written);
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Timed t(req, FsOp::kFlush);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->Flush(ino); })));
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Timed t(req, FsOp::kRelease);
  fuse_reply_err(req, t.Done(FS(req)->Release(ino, fi->flags)));
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  Timed t(req, FsOp::kFsync);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->Fsync(ino); })));
}

void ForgetDirHandle(Session* session, DirHandle* h) {
  {
    qs::MutexLock lock(&session->dirs_mu);
    session->dirs.erase(h);
  }
  delete h;
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Timed t(req, FsOp::kOpendir);
  std::unique_ptr<DirHandle> h;
  int err = t.Done(FS(req)->OpenDir(ino, &h));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  Session* session = SessionOf(req);
  DirHandle* raw = h.release();
  {
    qs::MutexLock lock(&session->dirs_mu);
    session->dirs.insert(raw);
  }
  fi->fh = reinterpret_cast<uint64_t>(raw);
  if (fuse_reply_open(req, fi) == -ENOENT) ForgetDirHandle(session, raw);
}

void ReadDir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  Timed t(req, FsOp::kReaddir);
  auto* h = reinterpret_cast<DirHandle*>(fi->fh);
  if (off == 0 && h->started) {  // rewinddir: show the directory as it is now
    std::unique_ptr<DirHandle> fresh;
    int err = FS(req)->OpenDir(ino, &fresh);
    if (t.Done(err) != 0) {
      fuse_reply_err(req, err);
      return;
    }
    h->entries = std::move(fresh->entries);
  }
  h->started = true;
  std::vector<char> buf(size);
  size_t pos = 0;
  for (size_t i = static_cast<size_t>(off); i < h->entries.size(); i++) {
    const DirEntry& e = h->entries[i];
    size_t len = 0;
    if (!plus) {
      struct stat st {};
      st.st_ino = e.ino;
      st.st_mode = static_cast<mode_t>(e.type) << 12;
      len = fuse_add_direntry(req, buf.data() + pos, size - pos, e.name.c_str(), &st, static_cast<off_t>(i + 1));
      if (len > size - pos) break;
    } else {
      fuse_entry_param p{};
      bool dots = e.name == "." || e.name == "..";
      if (dots) {
        p.attr.st_ino = e.ino;
        p.attr.st_mode = static_cast<mode_t>(e.type) << 12;
      } else {
        Entry entry;
        if (FS(req)->LookupEntry(e.ino, &entry) != 0) continue;  // removed meanwhile
        p.ino = entry.ino;
        p.attr = entry.attr;
        p.attr_timeout = kCacheSeconds;
        p.entry_timeout = kCacheSeconds;
      }
      len = fuse_add_direntry_plus(req, buf.data() + pos, size - pos, e.name.c_str(), &p, static_cast<off_t>(i + 1));
      if (len > size - pos) {
        if (!dots) FS(req)->Forget(e.ino, 1);  // not sent: not looked up
        break;
      }
    }
    pos += len;
  }
  t.Done(0);
  fuse_reply_buf(req, buf.data(), pos);
}

void OpReaddir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDir(req, ino, size, off, fi, false);
}

void OpReaddirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, fuse_file_info* fi) {
  ReadDir(req, ino, size, off, fi, true);
}

void OpReleasedir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ForgetDirHandle(SessionOf(req), reinterpret_cast<DirHandle*>(fi->fh));
  fuse_reply_err(req, 0);
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  Timed t(req, FsOp::kFsync);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->FsyncDir(); })));
}

void OpStatfs(fuse_req_t req, fuse_ino_t) {
  Timed t(req, FsOp::kStatfs);
  struct statvfs st;
  int err = t.Done(FS(req)->StatFs(&st));
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_statfs(req, &st);
}

void OpSetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size, int flags) {
  Timed t(req, FsOp::kXattr);
  fuse_reply_err(req,
                 t.Done(Gated(req, [&] { return FS(req)->SetXattr(ino, name, std::string_view(value, size), flags); })));
}

void ReplyXattr(fuse_req_t req, int err, const std::string& value, size_t size) {
  if (err != 0) fuse_reply_err(req, err);
  else if (size == 0) fuse_reply_xattr(req, value.size());
  else if (value.size() > size) fuse_reply_err(req, ERANGE);
  else fuse_reply_buf(req, value.data(), value.size());
}

void OpGetxattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Timed t(req, FsOp::kXattr);
  std::string value;
  int err = t.Done(FS(req)->GetXattr(ino, name, &value));
  ReplyXattr(req, err, value, size);
}

void OpListxattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Timed t(req, FsOp::kXattr);
  std::string names;
  int err = t.Done(FS(req)->ListXattr(ino, &names));
  ReplyXattr(req, err, names, size);
}

void OpRemovexattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  Timed t(req, FsOp::kXattr);
  fuse_reply_err(req, t.Done(Gated(req, [&] { return FS(req)->RemoveXattr(ino, name); })));
}

void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info*) {
  if (offset < 0 || length <= 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  Timed t(req, FsOp::kFallocate);
  fuse_reply_err(req, t.Done(Gated(req, [&] {
                   return FS(req)->Fallocate(ino, mode, static_cast<uint64_t>(offset), static_cast<uint64_t>(length));
                 })));
}

void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info*) {
  Timed t(req, FsOp::kLseek);
  if (WritebackCache(req)) {
    // Pages still in the kernel are not in qsfs yet: a hole here may be
    // data there. ENOSYS has the kernel answer from now on, as POSIX
    // allows: data up to the end of the file, the hole at its end.
    fuse_reply_err(req, t.Done(ENOSYS));
    return;
  }
  if (off < 0) {
    fuse_reply_err(req, ENXIO);
    return;
  }
  uint64_t result = 0;
  int err = t.Done(FS(req)->Lseek(ino, static_cast<uint64_t>(off), whence, &result));
  if (err != 0) fuse_reply_err(req, err);
  else fuse_reply_lseek(req, static_cast<off_t>(result));
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops{};
  ops.init = OpInit;
  ops.lookup = OpLookup;
  ops.forget = OpForget;
  ops.forget_multi = OpForgetMulti;
  ops.getattr = OpGetattr;
  ops.setattr = OpSetattr;
  ops.readlink = OpReadlink;
  ops.mknod = OpMknod;
  ops.mkdir = OpMkdir;
  ops.symlink = OpSymlink;
  ops.link = OpLink;
  ops.unlink = OpUnlink;
  ops.rmdir = OpRmdir;
  ops.rename = OpRename;
  ops.open = OpOpen;
  ops.create = OpCreate;
  ops.read = OpRead;
  ops.write = OpWrite;
  ops.flush = OpFlush;
  ops.release = OpRelease;
  ops.fsync = OpFsync;
  ops.opendir = OpOpendir;
  ops.readdir = OpReaddir;
  ops.readdirplus = OpReaddirplus;
  ops.releasedir = OpReleasedir;
  ops.fsyncdir = OpFsyncdir;
  ops.statfs = OpStatfs;
  ops.setxattr = OpSetxattr;
  ops.getxattr = OpGetxattr;
  ops.listxattr = OpListxattr;
  ops.removexattr = OpRemovexattr;
  ops.fallocate = OpFallocate;
  ops.lseek = OpLseek;
  return ops;
}

// Stopping on a signal (SIGTERM, SIGINT): the handler only wakes the
// stopper thread, which has the kernel write back what it caches (with
// writeback_cache) while the loop still serves, then ends the loop. A
// second signal ends the loop at once. SIGHUP never stops: the stopper
// thread reopens the log file and goes on waiting.
int g_stop_pipe[2] = {-1, -1};
fuse_session* g_session = nullptr;
std::atomic<int> g_stop_signals{0};
// Bytes on g_stop_pipe.
constexpr char kLoopEnded = 0;
constexpr char kStopSignal = 1;
constexpr char kHangupSignal = 2;

void WakeStopper(char c) {
  if (write(g_stop_pipe[1], &c, 1) < 0) {
  }
}

void OnStopSignal(int sig) {
  const int saved = errno;
  if (sig == SIGHUP) {
    WakeStopper(kHangupSignal);
  } else {
    if (g_stop_signals.fetch_add(1) > 0 && g_session != nullptr) fuse_session_exit(g_session);
    WakeStopper(kStopSignal);
  }
  errno = saved;
}

bool SetStopHandlers(void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a worker blocked reading /dev/fuse sees EINTR
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) {
    if (sigaction(sig, &sa, nullptr) != 0) return false;
  }
  return true;
}

// syncfs of the mount, in a child process (`sync -f`): the kernel writes
// back the pages it holds, as WRITE requests to this process, so the loop
// must be serving (or the connection gone). Never from a thread of this
// process: one waiting on its own mount cannot die, so a kill -9 would
// leave the process half dead, /dev/fuse open and the mount hung. The
// child holds no descriptor of ours (/dev/fuse included) and returns once
// the connection ends.
void SyncMount(const std::string& path) {
  const char* argv[] = {"sync", "-f", path.c_str(), nullptr};
  // The child keeps only stdin/out/err: no zdb connection, listening
  // socket or /dev/fuse of ours stays open in it while it waits.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, "sync", &actions, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    static std::atomic<bool> told{false};
    if (!told.exchange(true)) spdlog::error("cannot run sync -f {}: {}; written pages wait in the kernel", path, strerror(rc));
    return;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) spdlog::warn("sync -f {} failed (status {})", path, status);
}

}  // namespace

int ServeFuse(const Options& options, Filesystem* fs, FsMetrics* metrics, const std::function<void(bool)>& mounted) {
  static const fuse_lowlevel_ops ops = MakeOps();
  Session session;  // outlives the FUSE session: destroyed below
  session.fs = fs;
  session.metrics = metrics;
  session.writeback_cache = options.writeback_cache;
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  fuse_opt_add_arg(&args, "qsfs");
  if (options.debug) fuse_opt_add_arg(&args, "-d");
  // Shown by /proc/mounts and df as "SOURCE MOUNTPOINT fuse.qsfs".
  std::string mount_opts = "default_permissions,fsname=" + options.source + ",subtype=qsfs";
  if (options.allow_other) mount_opts += ",allow_other";
  for (const std::string& flag : options.mount_flags) mount_opts += "," + flag;
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args, mount_opts.c_str());
  // The absolute path, resolved before the mount hides what is beneath.
  std::string mount_path = options.mountpoint;
  if (char* real = realpath(options.mountpoint.c_str(), nullptr)) {
    mount_path = real;
    free(real);
  }
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), &session);
  if (se == nullptr) {
    fuse_opt_free_args(&args);
    spdlog::error("cannot create the FUSE session");
    mounted(false);
    return 1;
  }
  g_session = se;
  signal(SIGPIPE, SIG_IGN);
  if (pipe2(g_stop_pipe, O_CLOEXEC) != 0 || !SetStopHandlers(OnStopSignal) ||
      fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    spdlog::error("cannot mount on {} (is /dev/fuse there, the directory present and not in use?)",
                  options.mountpoint);
    SetStopHandlers(SIG_DFL);
    g_session = nullptr;
    for (int& fd : g_stop_pipe) {
      if (fd >= 0) close(fd);
      fd = -1;
    }
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    mounted(false);
    return 1;
  }
  // No child (sync -f, hooks) may keep the FUSE device open: the
  // connection must end when this process does.
  fcntl(fuse_session_fd(se), F_SETFD, FD_CLOEXEC);
  spdlog::info("mounted on {}{}", options.mountpoint, options.writeback_cache ? " (kernel write-back cache)" : "");
  mounted(true);
  fs->SetEntryInvalidator([se](uint64_t parent, const std::string& name) {
    // -ENOENT (already gone) and -ENOTCONN (unmounting) are fine.
    fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
  });
  if (options.writeback_cache) fs->SetKernelSync([mount_path] { SyncMount(mount_path); });
  fs->Start();
  // The stopper: a stop signal, SIGHUP, or the loop's end (unmount).
  std::thread stopper([se, &session, mount_path] {
    char c = kLoopEnded;
    for (;;) {
      ssize_t n = read(g_stop_pipe[0], &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n != 1) c = kLoopEnded;
      if (c != kHangupSignal) break;
      qs::ReopenLoggingOnHangup();
    }
    if (c == kLoopEnded) return;
    spdlog::info("signal received: stopping");
    qs::NotifyStopping("stopping: writing back and unmounting");
    if (session.writeback_cache) SyncMount(mount_path);
    fuse_session_exit(se);
    // A request wakes a worker blocked on /dev/fuse: it answers, sees the
    // session ended and ends the loop (statfs is never cached).
    struct statfs sf {};
    statfs(mount_path.c_str(), &sf);
  });
  // Mounted with the lease held (Filesystem::Mount): serving.
  qs::NotifyReady("mounted on " + mount_path);
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options.max_threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  int rc = fuse_session_loop_mt(se, cfg);
  fs->SetEntryInvalidator(nullptr);  // before the session goes
  fuse_loop_cfg_destroy(cfg);
  // The final flush must not be cut short by a second SIGTERM.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  fuse_session_unmount(se);  // a stopper still in syncfs gets ENOTCONN
  WakeStopper(kLoopEnded);
  stopper.join();
  close(g_stop_pipe[0]);
  close(g_stop_pipe[1]);
  g_session = nullptr;
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  spdlog::info("unmounted {} ({})", options.mountpoint, rc == 0 ? "clean" : "loop error");
  return 0;
}

}  // namespace qsfs
