// NodeTable: the inodes qsfs holds in memory, in three kinds.
//  * nodes: a Node per inode the kernel references (lookup count) or has
//    open, or that has dirty data; the Filesystem reads and changes inodes
//    only through these.
//  * parked: inodes the kernel still references, dropped from nodes beyond
//    the inode cache while clean: only their lookup count and last name.
//  * remembered: copies of clean inodes that left nodes (the kernel forgot
//    them), most recent first, so that a lookup after the kernel dropped
//    its caches needs no store round trip. nodes and remembered together
//    stay within the inode cache.
// Invariant (checked): an inode is never both in nodes and parked, nor both
// in nodes and remembered; a remembered copy is what the store holds
// (every change of an inode goes through its Node, and Install takes the
// copy out when a Node is made).
// Not thread-safe: the Filesystem holds it under its mu_.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "qsfs/inode.h"

namespace qsfs {

// A block map chunk as loaded (docs/qsfs-format.md, "File data").
struct Chunk {
  std::vector<uint64_t> slots;
  bool dirty = false;
};

struct Node {
  Inode inode;
  uint64_t nlookup = 0;
  // The name the kernel last looked this inode up by (lookup, create,
  // link, rename), so that it can be asked to drop that entry once the
  // inode is parked. Stale after an unlink elsewhere: asking to drop a name
  // that is gone or points elsewhere is harmless.
  uint64_t name_parent = 0;
  std::string name;
  uint32_t nopen = 0;
  bool inode_dirty = false;               // inode newer in memory than in the store
  bool freed = false;                     // no name, not open: gone from the store
  std::map<uint64_t, std::string> dirty;  // block index -> block bytes
  // Blocks a flush is writing to the store with mu_ released: read like
  // dirty ones. An operation that drops or rewrites such a block erases its
  // entry, and the flush then discards what it wrote for it.
  std::map<uint64_t, std::shared_ptr<const std::string>> inflight;
  bool flushing = false;  // a flush that released mu_ runs (one at a time)
  uint32_t pins = 0;      // held by such a flush: not evicted meanwhile
  std::map<uint32_t, Chunk> chunks;  // loaded block map chunks
  std::chrono::steady_clock::time_point dirty_since;
  bool has_dirty() const { return inode_dirty || !dirty.empty() || !inflight.empty(); }
  bool chunks_dirty() const {
    for (const auto& [c, chunk] : chunks)
      if (chunk.dirty) return true;
    return false;
  }
};

class NodeTable {
 public:
  using Map = std::unordered_map<uint64_t, std::unique_ptr<Node>>;

  explicit NodeTable(size_t inode_cache) : inode_cache_(inode_cache) {}

  Node* Find(uint64_t ino) const;
  // The remembered copy of ino, taken out of the table; false when none.
  bool TakeRemembered(uint64_t ino, Inode* out);
  // Adds a Node for an inode not in nodes; the lookups parked for it come
  // with it.
  Node* Install(std::unique_ptr<Node> node);
  void Erase(uint64_t ino);
  // Keeps a copy of n's inode when n is clean and about to leave nodes
  // (n is still in nodes): the oldest copies go beyond the inode cache.
  void Remember(const Node& n);
  // Moves a clean node out of nodes; while the kernel holds lookups on it,
  // they are parked with its name.
  void Park(uint64_t ino);
  // The kernel forgot nlookup lookups of a parked inode.
  void ForgetParked(uint64_t ino, uint64_t nlookup);
  // Up to `want` (parent, name) entries of parked inodes not asked for
  // yet, each marked as asked.
  std::vector<std::pair<uint64_t, std::string>> TakeParkedNames(size_t want);

  const Map& nodes() const { return nodes_; }
  size_t size() const { return nodes_.size(); }
  size_t parked() const { return parked_.size(); }

 private:
  struct Parked {
    uint64_t lookups = 0;
    uint64_t name_parent = 0;  // Node::name_parent and Node::name; the name
    std::string name;          // is cleared once the kernel was asked to drop it
  };
  // Aborts when an inode is in two kinds at once (a bug, not an input).
  void CheckExclusive(uint64_t ino) const;

  const size_t inode_cache_;
  Map nodes_;
  std::unordered_map<uint64_t, Parked> parked_;
  std::list<Inode> remembered_lru_;
  std::unordered_map<uint64_t, std::list<Inode>::iterator> remembered_;
};

}  // namespace qsfs
