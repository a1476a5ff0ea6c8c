// The namespace operations of the Filesystem: names made, linked, removed
// and moved (create, mkdir, mknod, symlink, link, unlink, rmdir, rename).
// Each sends its writes as one ordered pipeline (ApplyEdits), in the order
// of docs/qsfs-format.md, "Crash consistency", and changes the in-memory
// inodes and directory cache only once the store has them.
#include <sys/stat.h>

#include <cerrno>
#include <set>

#include <spdlog/spdlog.h>

#include "qsfs/filesystem.h"
#include "qsfs/keys.h"

namespace qsfs {

namespace {
constexpr uint32_t kMaxLink = 65000;
constexpr size_t kMaxSymlink = 4095;

uint8_t TypeOf(uint32_t mode) { return static_cast<uint8_t>((mode & S_IFMT) >> 12); }
}  // namespace

bool Filesystem::AddOrphan(Node* n, MetaBatch* batch) {
  if (n->nopen == 0) return false;
  orphans_.insert(n->inode.ino);
  batch->Set(kOrphansKey, EncodeOrphans({orphans_.begin(), orphans_.end()}));
  return true;
}

int Filesystem::ApplyEdits(MetaBatch* head, const std::vector<DirEdit*>& edits, MetaBatch* middle,
                           const std::vector<const Inode*>& inodes, MetaBatch* tail) {
  MetaBatch batch;
  auto append = [&](MetaBatch* b) {
    if (b != nullptr) batch.Append(*b);
  };
  auto buckets = [&](auto pred) {
    for (DirEdit* e : edits) {
      for (auto& [b, bucket] : e->buckets) {
        if (!pred(bucket)) continue;
        std::string key = DirBucketKey(e->dir, b);
        if (bucket.entries.empty()) batch.Del(key);
        else batch.Set(key, EncodeDirBucket(bucket.entries));
      }
    }
  };
  append(head);
  // A name's new place before its old one goes: a rename over an existing
  // name retargets that entry (gains and loses) and must come before the
  // bucket that only loses the old name.
  buckets([](const DirEdit::Bucket& b) { return (b.gains || !b.loses) && !b.split_source; });
  buckets([](const DirEdit::Bucket& b) { return !b.gains && b.loses && !b.split_source; });
  append(middle);
  for (const Inode* in : inodes) batch.Set(InodeKey(in->ino), EncodeInode(*in));
  buckets([](const DirEdit::Bucket& b) { return b.split_source; });
  append(tail);
  qs::Status s = store_->Apply(batch);
  if (!s.ok()) {
    spdlog::warn("metadata update failed: {}", s.ToString());
    if (s.code() == qs::Status::Code::kUnavailable) {
      // zdb is gone: reading back would only wait again. What it may have
      // applied is found by the next reads of those buckets.
      for (DirEdit* e : edits) {
        for (auto& [b, bucket] : e->buckets) dir_cache_.Drop(DirBucketKey(e->dir, b));
      }
    } else {
      ReloadAfterFailure(edits, inodes);
    }
    return ErrnoOf(s);
  }
  for (DirEdit* e : edits) {
    for (auto& [b, bucket] : e->buckets) dir_cache_.Put(DirBucketKey(e->dir, b), std::move(bucket.entries));
  }
  return 0;
}

void Filesystem::ReloadAfterFailure(const std::vector<DirEdit*>& edits, const std::vector<const Inode*>& inodes) {
  // zdb may have applied part of the pipeline: forget what was cached and
  // read the inodes back.
  for (DirEdit* e : edits) {
    for (auto& [b, bucket] : e->buckets) dir_cache_.Drop(DirBucketKey(e->dir, b));
  }
  for (const Inode* in : inodes) {
    Node* node = table_.Find(in->ino);
    if (node == nullptr) continue;
    auto got = store_->MetaGet(InodeKey(in->ino));
    if (!got.ok() || !got->has_value()) continue;
    auto decoded = DecodeInode(in->ino, **got);
    if (!decoded.ok()) continue;
    Inode& mem = node->inode;
    uint64_t size = mem.size;
    uint64_t blocks = mem.blocks;
    bool dirty = node->has_dirty();
    mem = std::move(*decoded);
    if (dirty) {  // unwritten data keeps its size
      mem.size = size;
      mem.blocks = blocks;
    }
  }
}

int Filesystem::MakeNode(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                         std::string_view symlink, Entry* out) {
  SweepNodes();
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  if (p->inode.nlink == 0) return ENOENT;  // removed directory
  DirEntry existing;
  int err = DirFind(p->inode, name, &existing);
  if (err == 0) return EEXIST;
  if (err != ENOENT) return err;
  if (S_ISDIR(mode) && p->inode.nlink >= kMaxLink) return EMLINK;
  uint64_t ino = 0;
  if (int e = AllocIno(&ino)) return e;
  Inode child = NewInode(c, p->inode, mode);
  child.ino = ino;
  child.rdev = rdev;
  if (S_ISDIR(mode)) child.parent = parent;
  if (S_ISLNK(mode)) {
    child.symlink = std::string(symlink);
    child.size = symlink.size();
  }
  Inode pi = p->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int e = DirInsert(&pi, &edit, DirEntry{std::string(name), ino, TypeOf(mode)})) return e;
  pi.mtime = pi.ctime = child.ctime;
  if (S_ISDIR(mode)) pi.nlink++;
  MetaBatch head;
  head.Set(InodeKey(ino), EncodeInode(child));  // the inode before its name
  if (int e = ApplyEdits(&head, {&edit}, nullptr, {&pi}, nullptr)) return e;
  p->inode = pi;
  auto node = std::make_unique<Node>();
  node->inode = std::move(child);
  node->nlookup = 1;
  node->name_parent = parent;
  node->name.assign(name);
  out->ino = ino;
  Stat(node.get(), &out->attr);
  InstallNode(std::move(node));
  return 0;
}

int Filesystem::MkNod(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, uint64_t rdev,
                      Entry* out) {
  uint32_t type = mode & S_IFMT;
  if (type == 0) type = S_IFREG;
  if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO && type != S_IFSOCK) return EINVAL;
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  return MakeNode(c, parent, name, type | (mode & 07777), rdev, {}, out);
}

int Filesystem::MkDir(const Caller& c, uint64_t parent, std::string_view name, uint32_t mode, Entry* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  return MakeNode(c, parent, name, S_IFDIR | (mode & 07777), 0, {}, out);
}

int Filesystem::Symlink(const Caller& c, std::string_view target, uint64_t parent, std::string_view name,
                        Entry* out) {
  if (target.size() > kMaxSymlink) return ENAMETOOLONG;
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  return MakeNode(c, parent, name, S_IFLNK | 0777, 0, target, out);
}

int Filesystem::Link(uint64_t ino, uint64_t parent, std::string_view name, Entry* out) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent, ino});
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  if (p->inode.nlink == 0) return ENOENT;
  Node* n = nullptr;
  if (int err = GetNode(ino, &n)) return err;
  if (n->inode.is_dir()) return EPERM;
  if (n->inode.nlink >= kMaxLink) return EMLINK;
  if (n->inode.nlink == 0) return ENOENT;
  DirEntry existing;
  int err = DirFind(p->inode, name, &existing);
  if (err == 0) return EEXIST;
  if (err != ENOENT) return err;
  if (n->has_dirty()) {
    if (int e = FlushNode(n)) return e;
  }
  Inode ni = n->inode;
  ni.nlink++;
  ni.ctime = Now();
  Inode pi = p->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int e = DirInsert(&pi, &edit, DirEntry{std::string(name), ino, TypeOf(ni.mode)})) return e;
  pi.mtime = pi.ctime = ni.ctime;
  MetaBatch head;
  head.Set(InodeKey(ino), EncodeInode(ni));  // the link count before the name
  if (int e = ApplyEdits(&head, {&edit}, nullptr, {&pi}, nullptr)) return e;
  n->inode = ni;
  p->inode = pi;
  n->nlookup++;
  n->name_parent = parent;
  n->name.assign(name);
  out->ino = ino;
  Stat(n, &out->attr);
  return 0;
}

int Filesystem::RemoveName(uint64_t parent, std::string_view name, bool dir) {
  if (int err = CheckName(name)) return err;
  Node* p = nullptr;
  if (int err = GetNode(parent, &p)) return err;
  if (!p->inode.is_dir()) return ENOTDIR;
  DirEntry e;
  if (int err = DirFind(p->inode, name, &e)) return err;
  Node* n = nullptr;
  if (int err = GetNode(e.ino, &n)) return err;
  if (dir) {
    if (!n->inode.is_dir()) return ENOTDIR;
    if (n->inode.dir_entries > 0) return ENOTEMPTY;
  } else if (n->inode.is_dir()) {
    return EISDIR;
  }
  Inode pi = p->inode;
  Inode ni = n->inode;
  DirEdit edit;
  edit.dir = parent;
  if (int err = DirRemove(&pi, &edit, name)) return err;
  Timespec now = Now();
  pi.mtime = pi.ctime = now;
  ni.ctime = now;
  if (dir) {
    ni.nlink = 0;
    pi.nlink--;
  } else {
    ni.nlink--;
  }
  if (ni.nlink > 0 && n->has_dirty()) {
    if (int err = FlushNode(n)) return err;
    ni.size = n->inode.size;
    ni.blocks = n->inode.blocks;
  }
  MetaBatch middle;
  MetaBatch tail;
  bool orphan = false;
  std::set<uint64_t> orphans_before = orphans_;
  if (ni.nlink == 0) {
    orphan = AddOrphan(n, &middle);
    if (dir) DirEmpty(ni, &tail);
  }
  if (int err = ApplyEdits(nullptr, {&edit}, &middle, {&pi, &ni}, &tail)) {
    orphans_ = orphans_before;
    return err;
  }
  p->inode = pi;
  uint64_t size = n->inode.size;
  uint64_t blocks = n->inode.blocks;
  n->inode = ni;
  n->inode.size = size;  // unwritten data of an open file stays readable
  n->inode.blocks = blocks;
  if (ni.nlink == 0 && !orphan) FreeInode(n);
  return 0;
}

int Filesystem::Unlink(uint64_t parent, std::string_view name) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  return RemoveName(parent, name, false);
}

int Filesystem::RmDir(uint64_t parent, std::string_view name) {
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent});
  return RemoveName(parent, name, true);
}

int Filesystem::IsAncestor(uint64_t maybe_ancestor, uint64_t ino, bool* out) {
  *out = false;
  for (int depth = 0; depth < 65536; depth++) {
    if (ino == maybe_ancestor) {
      *out = true;
      return 0;
    }
    if (ino == kRootIno) return 0;
    Node* n = nullptr;
    if (int err = GetNode(ino, &n)) return err;
    ino = n->inode.parent;
  }
  return ELOOP;
}

int Filesystem::Rename(const Caller& c, uint64_t parent, std::string_view name, uint64_t new_parent,
                       std::string_view new_name, unsigned flags) {
  constexpr unsigned kNoReplace = 1;  // RENAME_NOREPLACE
  constexpr unsigned kExchange = 2;   // RENAME_EXCHANGE
  constexpr unsigned kWhiteout = 4;   // RENAME_WHITEOUT (overlayfs)
  if ((flags & ~(kNoReplace | kExchange | kWhiteout)) != 0 || (flags & kExchange && flags != kExchange)) return EINVAL;
  qs::MutexLock lock(&mu_);
  LoadNodesReleasingMu({parent, new_parent});
  int err = RenameLocked(parent, name, new_parent, new_name, flags & ~kWhiteout);
  if (err != 0 || !(flags & kWhiteout)) return err;
  // A whiteout (character device 0:0) takes the old name, as overlayfs
  // asks of its upper layer. Nobody looked it up: it holds no lookup.
  Entry e;
  if (int werr = MakeNode(c, parent, name, S_IFCHR, 0, {}, &e)) return werr;
  Node* w = table_.Find(e.ino);
  w->nlookup = 0;
  MaybeEvict(w);
  return 0;
}

int Filesystem::RenameLocked(uint64_t parent, std::string_view name, uint64_t new_parent, std::string_view new_name,
                             unsigned flags) {
  constexpr unsigned kNoReplace = 1;
  constexpr unsigned kExchange = 2;
  bool exchange = flags & kExchange;
  if (int err = CheckName(name)) return err;
  if (int err = CheckName(new_name)) return err;
  Node* op = nullptr;
  Node* np = nullptr;
  if (int err = GetNode(parent, &op)) return err;
  if (int err = GetNode(new_parent, &np)) return err;
  if (!op->inode.is_dir() || !np->inode.is_dir()) return ENOTDIR;
  if (np->inode.nlink == 0) return ENOENT;
  DirEntry se;
  if (int err = DirFind(op->inode, name, &se)) return err;
  DirEntry de;
  int derr = DirFind(np->inode, new_name, &de);
  if (derr != 0 && derr != ENOENT) return derr;
  bool exists = derr == 0;
  if (exchange && !exists) return ENOENT;
  if ((flags & kNoReplace) && exists) return EEXIST;
  if (exists && de.ino == se.ino) return 0;  // two names of one file: nothing to do
  Node* s = nullptr;
  if (int err = GetNode(se.ino, &s)) return err;
  Node* d = nullptr;
  if (exists) {
    if (int err = GetNode(de.ino, &d)) return err;
  }
  if (s->inode.is_dir() && parent != new_parent) {
    bool inside = false;
    if (int err = IsAncestor(se.ino, new_parent, &inside)) return err;
    if (inside) return EINVAL;
  }
  if (exchange && d->inode.is_dir() && parent != new_parent) {
    bool inside = false;
    if (int err = IsAncestor(de.ino, parent, &inside)) return err;
    if (inside) return EINVAL;
  }
  if (exists && !exchange) {
    if (s->inode.is_dir()) {
      if (!d->inode.is_dir()) return ENOTDIR;
      if (d->inode.dir_entries > 0) return ENOTEMPTY;
    } else if (d->inode.is_dir()) {
      return EISDIR;
    }
  }
  // Data before the inodes that describe it.
  for (Node* x : {s, d}) {
    if (x != nullptr && x->has_dirty()) {
      if (int err = FlushNode(x)) return err;
    }
  }
  bool same_dir = parent == new_parent;
  Inode opi = op->inode;
  Inode npi_own = np->inode;
  Inode* npi = same_dir ? &opi : &npi_own;
  DirEdit oedit;
  oedit.dir = parent;
  DirEdit nedit_own;
  nedit_own.dir = new_parent;
  DirEdit* nedit = same_dir ? &oedit : &nedit_own;
  Inode si = s->inode;
  Inode di = exists ? d->inode : Inode{};
  Timespec now = Now();
  bool victim_gone = false;
  if (exchange) {
    if (int err = DirRetarget(&opi, &oedit, name, de.ino, TypeOf(di.mode))) return err;
    if (int err = DirRetarget(npi, nedit, new_name, se.ino, TypeOf(si.mode))) return err;
    if (!same_dir) {
      if (si.is_dir()) {
        si.parent = new_parent;
        opi.nlink--;
        npi->nlink++;
      }
      if (di.is_dir()) {
        di.parent = parent;
        npi->nlink--;
        opi.nlink++;
      }
    }
    si.ctime = di.ctime = now;
  } else {
    if (exists) {
      if (int err = DirRetarget(npi, nedit, new_name, se.ino, TypeOf(si.mode))) return err;
      if (di.is_dir()) {
        di.nlink = 0;
        npi->nlink--;
      } else {
        di.nlink--;
      }
      di.ctime = now;
      victim_gone = di.nlink == 0;
    } else {
      if (int err = DirInsert(npi, nedit, DirEntry{std::string(new_name), se.ino, TypeOf(si.mode)})) return err;
    }
    if (int err = DirRemove(&opi, &oedit, name)) return err;
    if (si.is_dir() && !same_dir) {
      si.parent = new_parent;
      opi.nlink--;
      npi->nlink++;
    }
    si.ctime = now;
  }
  opi.mtime = opi.ctime = now;
  npi->mtime = npi->ctime = now;
  MetaBatch middle;
  MetaBatch tail;
  bool orphan = false;
  std::set<uint64_t> orphans_before = orphans_;
  if (victim_gone) {
    orphan = AddOrphan(d, &middle);
    if (di.is_dir()) DirEmpty(di, &tail);
  }
  std::vector<DirEdit*> edits = {&oedit};
  std::vector<const Inode*> inodes = {&si};
  if (exists) inodes.push_back(&di);
  inodes.push_back(&opi);
  if (!same_dir) {
    edits.push_back(nedit);
    inodes.push_back(npi);
  }
  if (int err = ApplyEdits(nullptr, edits, &middle, inodes, &tail)) {
    orphans_ = orphans_before;
    return err;
  }
  op->inode = opi;
  if (!same_dir) np->inode = *npi;
  s->inode = si;
  s->name_parent = new_parent;  // the kernel moved its entry (d_move)
  s->name.assign(new_name);
  if (exists) {
    d->inode = di;
    if (exchange) {
      d->name_parent = parent;
      d->name.assign(name);
    }
    if (victim_gone && !orphan) FreeInode(d);
  }
  return 0;
}


}  // namespace qsfs
