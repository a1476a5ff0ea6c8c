#include "zstor/store_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/file_env.h"
#include "zstor/object_store.h"

namespace zstor {

using qs::Result;
using qs::Status;

namespace {

constexpr char kSuffix[] = ".intent";
constexpr uint8_t kBegin = 1, kFragment = 2, kRecordWrite = 3, kRecordAbandoned = 4;
constexpr size_t kMaxRecord = 1 << 20;

void PutBytes(std::string* s, const std::string& b) {
  qs::PutFixed32(s, static_cast<uint32_t>(b.size()));
  s->append(b);
}

bool GetBytes(const std::string& s, size_t* pos, std::string* out) {
  if (s.size() - *pos < 4) return false;
  uint32_t n = qs::DecodeFixed32(s.data() + *pos);
  if (s.size() - *pos - 4 < n) return false;
  out->assign(s, *pos + 4, n);
  *pos += 4 + n;
  return true;
}

Status WriteAll(int fd, const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return Status::FromErrno(errno, "write intent");
    off += static_cast<size_t>(w);
  }
  return Status::OK();
}

struct Intent {
  std::string path, object_id;
  bool record_write = false;
  struct Frag {
    std::string address, ns, key;
  };
  std::vector<Frag> fragments;
};

// Reads the records up to the first torn or corrupt one.
bool ParseIntent(const std::string& bytes, Intent* in) {
  size_t pos = 0;
  bool begun = false;
  while (bytes.size() - pos >= 9) {
    uint32_t len = qs::DecodeFixed32(bytes.data() + pos);
    if (len > kMaxRecord || bytes.size() - pos - 4 < static_cast<size_t>(len) + 5) break;
    const char* rec = bytes.data() + pos + 4;
    uint32_t crc = qs::DecodeFixed32(rec + 1 + len);
    if (qs::Crc32c(0, rec, 1 + len) != crc) break;
    std::string body(rec + 1, len);
    size_t p = 0;
    switch (static_cast<uint8_t>(rec[0])) {
      case kBegin:
        if (!GetBytes(body, &p, &in->path) || !GetBytes(body, &p, &in->object_id)) return false;
        begun = true;
        break;
      case kFragment: {
        Intent::Frag f;
        if (!GetBytes(body, &p, &f.address) || !GetBytes(body, &p, &f.ns) || !GetBytes(body, &p, &f.key)) return false;
        in->fragments.push_back(std::move(f));
        break;
      }
      case kRecordWrite: in->record_write = true; break;
      case kRecordAbandoned: in->record_write = false; break;
      default: return begun;
    }
    pos += 4 + 1 + len + 4;
  }
  return begun;
}

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = pread(fd, buf, sizeof(buf), static_cast<off_t>(out.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// mkdir -p, each missing level 0700 (the journal names backends and keys).
Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) return Status::FromErrno(errno, "mkdir " + prefix);
  }
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<StoreJournal>> StoreJournal::Begin(const std::string& dir, const std::string& path,
                                                          const std::string& object_id) {
  QS_RETURN_IF_ERROR(MakeDirs(dir));
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  thread_local std::mt19937 rng(std::random_device{}());
  char name[80];
  std::snprintf(name, sizeof(name), "%020lld-%d-%08x%s", static_cast<long long>(ns), static_cast<int>(getpid()),
                static_cast<unsigned>(rng()), kSuffix);
  // Locked and holding its Begin record before it gets the name Reclaim
  // looks for.
  std::string file = dir + "/" + name;
  std::string tmp = dir + "/." + name + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno(errno, "create " + tmp);
  std::unique_ptr<StoreJournal> j(new StoreJournal(fd, file));
  std::string body;
  PutBytes(&body, path);
  PutBytes(&body, object_id);
  j->Append(kBegin, body);
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fdatasync(fd) != 0 || rename(tmp.c_str(), file.c_str()) != 0) {
    Status s = Status::FromErrno(errno, "intent " + file);
    unlink(tmp.c_str());
    qs::MutexLock lock(&j->mu_);
    j->finished_ = true;
    return s;
  }
  QS_RETURN_IF_ERROR(qs::Env::Default()->SyncDir(dir));
  return j;
}

StoreJournal::~StoreJournal() {
  if (fd_ >= 0) close(fd_);
}

void StoreJournal::Append(uint8_t type, const std::string& body) {
  std::string rec;
  qs::PutFixed32(&rec, static_cast<uint32_t>(body.size()));
  rec.push_back(static_cast<char>(type));
  rec.append(body);
  qs::PutFixed32(&rec, qs::Crc32c(0, rec.data() + 4, 1 + body.size()));
  qs::MutexLock lock(&mu_);
  Status s = WriteAll(fd_, rec);
  if (!s.ok()) spdlog::warn("store journal {}: {}", file_, s.ToString());
}

void StoreJournal::Fragment(const std::string& address, const std::string& ns, const std::string& key) {
  std::string body;
  PutBytes(&body, address);
  PutBytes(&body, ns);
  PutBytes(&body, key);
  Append(kFragment, body);
}

void StoreJournal::Sync() {
  qs::MutexLock lock(&mu_);
  if (fdatasync(fd_) != 0) spdlog::warn("store journal {}: fdatasync: {}", file_, std::strerror(errno));
}

void StoreJournal::RecordWrite() {
  Append(kRecordWrite, "");
  Sync();
}

void StoreJournal::RecordAbandoned() {
  Append(kRecordAbandoned, "");
  Sync();
}

void StoreJournal::Finish() {
  if (unlink(file_.c_str()) != 0 && errno != ENOENT)
    spdlog::warn("store journal: unlink {}: {}", file_, std::strerror(errno));
  qs::MutexLock lock(&mu_);
  finished_ = true;
}

namespace {

// The intent files in dir (names only); errno is left set when dir cannot
// be opened.
bool IntentNames(const std::string& dir, std::vector<std::string>* names) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return false;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > sizeof(kSuffix) - 1 && n.compare(n.size() - (sizeof(kSuffix) - 1), std::string::npos, kSuffix) == 0)
      names->push_back(n);
  }
  closedir(d);
  return true;
}

}  // namespace

Status StoreJournal::ForEachFragment(const std::string& dir, const FragmentFn& fn) {
  std::vector<std::string> names;
  if (!IntentNames(dir, &names)) {
    if (errno == ENOENT) return Status::OK();  // no store ever ran
    return Status::FromErrno(errno, "open journal directory " + dir);
  }
  for (const auto& n : names) {
    std::string file = dir + "/" + n;
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) continue;  // finished meanwhile: its record names its fragments
      return Status::FromErrno(errno, "read intent " + file);
    }
    Intent in;
    ParseIntent(ReadAllFd(fd), &in);  // the records before a torn one count
    close(fd);
    for (const auto& f : in.fragments) fn(f.address, f.ns, f.key);
  }
  return Status::OK();
}

StoreJournal::ReclaimStats StoreJournal::Reclaim(const std::string& dir, ObjectStore* store) {
  ReclaimStats stats;
  std::vector<std::string> names;
  if (!IntentNames(dir, &names)) return stats;
  for (const auto& n : names) {
    std::string file = dir + "/" + n;
    int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {  // a store still running
      close(fd);
      continue;
    }
    ++stats.intents;
    Intent in;
    bool parsed = ParseIntent(ReadAllFd(fd), &in);
    bool resolved = false;
    if (!parsed) {
      resolved = true;  // not even a durable Begin: nothing was written yet
    } else if (in.record_write) {
      // The record may have been written: only the record read now says
      // whether these fragments are the object's. Free nothing.
      auto m = store->meta().Get(in.path);
      resolved = m.ok() && m->object_id == in.object_id;
      if (!resolved)
        spdlog::debug("store journal: {}: the store of {} wrote its record and it is not the one read now; kept for later",
                     n, in.path);
    } else {
      resolved = true;
      for (const auto& f : in.fragments) {
        int idx = store->backends().Find(f.address, f.ns);
        if (idx < 0) {
          resolved = false;  // a backend this configuration does not know
          continue;
        }
        Status s = store->backends().at(static_cast<size_t>(idx)).Del(f.key);
        if (s.ok()) ++stats.fragments;
        else if (!s.IsNotFound()) resolved = false;
      }
    }
    if (resolved) {
      unlink(file.c_str());
      ++stats.reclaimed;
    }
    close(fd);
  }
  if (stats.intents > 0)
    spdlog::info("store journal: {} unfinished stores found, {} resolved, {} orphan fragments deleted", stats.intents,
                 stats.reclaimed, stats.fragments);
  return stats;
}

}  // namespace zstor
