// fuse_lowlevel_ops of qsfs: each handler decodes the request, calls the
// Filesystem and replies. Permission checks are the kernel's
// (default_permissions), locks are the kernel's (no getlk/setlk handlers,
// so POSIX and flock locks are local to this mount).
#define FUSE_USE_VERSION 312
#include "qsfs/fs_ops.h"

#include <fuse_lowlevel.h>

#include <signal.h>

#include <chrono>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

namespace qsfs {

namespace {

constexpr double kCacheSeconds = 1.0;  // entry and attribute timeouts

// What every request reaches through fuse_req_userdata.
struct Session {
  Filesystem* fs;
  FsMetrics* metrics;  // null: metrics off
};

Filesystem* FS(fuse_req_t req) { return static_cast<Session*>(fuse_req_userdata(req))->fs; }

// Times one operation; Done(err) records it (when metrics are on) and
// passes err through, so a handler reads `fuse_reply_err(req, t.Done(...))`.
class Timed {
 public:
  Timed(fuse_req_t req, FsOp op)
      : metrics_(static_cast<Session*>(fuse_req_userdata(req))->metrics), op_(op), start_(std::chrono::steady_clock::now()) {}
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
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  // Data goes through qsfs on every write: no kernel write-back cache, and
  // the kernel clears setuid/setgid on write itself.
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
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
  int err = t.Done(FS(req)->SetAttr(ino, *attr, to_set, &st));
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
  int err = t.Done(FS(req)->MkNod(CallerOf(req), parent, name, mode, rdev, &e));
  ReplyEntry(req, err, e);
}

void OpMkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  Timed t(req, FsOp::kMkdir);
  Entry e;
  int err = t.Done(FS(req)->MkDir(CallerOf(req), parent, name, mode, &e));
  ReplyEntry(req, err, e);
}

void OpSymlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kSymlink);
  Entry e;
  int err = t.Done(FS(req)->Symlink(CallerOf(req), link, parent, name, &e));
  ReplyEntry(req, err, e);
}

void OpLink(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kLink);
  Entry e;
  int err = t.Done(FS(req)->Link(ino, parent, name, &e));
  ReplyEntry(req, err, e);
}

void OpUnlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kUnlink);
  fuse_reply_err(req, t.Done(FS(req)->Unlink(parent, name)));
}

void OpRmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Timed t(req, FsOp::kRmdir);
  fuse_reply_err(req, t.Done(FS(req)->RmDir(parent, name)));
}

void OpRename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent, const char* newname,
              unsigned int flags) {
  Timed t(req, FsOp::kRename);
  fuse_reply_err(req, t.Done(FS(req)->Rename(CallerOf(req), parent, name, newparent, newname, flags)));
}

void OpOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Timed t(req, FsOp::kOpen);
  int err = t.Done(FS(req)->Open(ino, fi->flags));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->keep_cache = 1;  // every change goes through this mount
  // A read-only descriptor has nothing to write back at close, and locks
  // are the kernel's: its close needs no FLUSH round trip.
  if ((fi->flags & O_ACCMODE) == O_RDONLY) fi->noflush = 1;
  if (fuse_reply_open(req, fi) == -ENOENT) FS(req)->Release(ino);  // interrupted
}

void OpCreate(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, fuse_file_info* fi) {
  Timed t(req, FsOp::kCreate);
  Entry e;
  int err = t.Done(FS(req)->Create(CallerOf(req), parent, name, mode, fi->flags, &e));
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
  fuse_reply_create(req, &p, fi);
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
  int err = t.Done(FS(req)->Write(ino, buf, size, static_cast<uint64_t>(off), (fi->flags & O_APPEND) != 0, &written));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  if (t.metrics() != nullptr) t.metrics()->BytesWritten(written);
  fuse_reply_write(req, written);
}

void OpFlush(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Timed t(req, FsOp::kFlush);
  fuse_reply_err(req, t.Done(FS(req)->Flush(ino)));
}

void OpRelease(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Timed t(req, FsOp::kRelease);
  fuse_reply_err(req, t.Done(FS(req)->Release(ino)));
}

void OpFsync(fuse_req_t req, fuse_ino_t ino, int, fuse_file_info*) {
  Timed t(req, FsOp::kFsync);
  fuse_reply_err(req, t.Done(FS(req)->Fsync(ino)));
}

void OpOpendir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Timed t(req, FsOp::kOpendir);
  std::unique_ptr<DirHandle> h;
  int err = t.Done(FS(req)->OpenDir(ino, &h));
  if (err != 0) {
    fuse_reply_err(req, err);
    return;
  }
  fi->fh = reinterpret_cast<uint64_t>(h.release());
  if (fuse_reply_open(req, fi) == -ENOENT) delete reinterpret_cast<DirHandle*>(fi->fh);
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
  delete reinterpret_cast<DirHandle*>(fi->fh);
  fuse_reply_err(req, 0);
}

void OpFsyncdir(fuse_req_t req, fuse_ino_t, int, fuse_file_info*) {
  Timed t(req, FsOp::kFsync);
  fuse_reply_err(req, t.Done(FS(req)->FsyncDir()));
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
  fuse_reply_err(req, t.Done(FS(req)->SetXattr(ino, name, std::string_view(value, size), flags)));
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
  fuse_reply_err(req, t.Done(FS(req)->RemoveXattr(ino, name)));
}

void OpFallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length, fuse_file_info*) {
  if (offset < 0 || length <= 0) {
    fuse_reply_err(req, EINVAL);
    return;
  }
  Timed t(req, FsOp::kFallocate);
  fuse_reply_err(req, t.Done(FS(req)->Fallocate(ino, mode, static_cast<uint64_t>(offset), static_cast<uint64_t>(length))));
}

void OpLseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence, fuse_file_info*) {
  Timed t(req, FsOp::kLseek);
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

}  // namespace

int ServeFuse(const Options& options, Filesystem* fs, FsMetrics* metrics, const std::function<void(bool)>& mounted) {
  static const fuse_lowlevel_ops ops = MakeOps();
  Session session{fs, metrics};  // outlives the session: destroyed below
  fuse_args args = FUSE_ARGS_INIT(0, nullptr);
  fuse_opt_add_arg(&args, "qsfs");
  if (options.debug) fuse_opt_add_arg(&args, "-d");
  std::string mount_opts = "default_permissions,fsname=qsfs,subtype=qsfs";
  if (options.allow_other) mount_opts += ",allow_other";
  fuse_opt_add_arg(&args, "-o");
  fuse_opt_add_arg(&args, mount_opts.c_str());
  fuse_session* se = fuse_session_new(&args, &ops, sizeof(ops), &session);
  if (se == nullptr) {
    fuse_opt_free_args(&args);
    spdlog::error("cannot create the FUSE session");
    mounted(false);
    return 1;
  }
  if (fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, options.mountpoint.c_str()) != 0) {
    spdlog::error("cannot mount on {} (is /dev/fuse there, the directory present and not in use?)",
                  options.mountpoint);
    fuse_remove_signal_handlers(se);
    fuse_session_destroy(se);
    fuse_opt_free_args(&args);
    mounted(false);
    return 1;
  }
  spdlog::info("mounted on {}", options.mountpoint);
  mounted(true);
  fs->SetEntryInvalidator([se](uint64_t parent, const std::string& name) {
    // -ENOENT (already gone) and -ENOTCONN (unmounting) are fine.
    fuse_lowlevel_notify_inval_entry(se, parent, name.data(), name.size());
  });
  fs->Start();
  fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_max_threads(cfg, options.max_threads);
  fuse_loop_cfg_set_clone_fd(cfg, 0);
  int rc = fuse_session_loop_mt(se, cfg);
  fs->SetEntryInvalidator(nullptr);  // before the session goes
  fuse_loop_cfg_destroy(cfg);
  fuse_session_unmount(se);
  fuse_remove_signal_handlers(se);
  // The final flush must not be cut short by a second SIGTERM.
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  fuse_session_destroy(se);
  fuse_opt_free_args(&args);
  spdlog::info("unmounted {} ({})", options.mountpoint, rc == 0 ? "clean" : "loop error");
  return 0;
}

}  // namespace qsfs
