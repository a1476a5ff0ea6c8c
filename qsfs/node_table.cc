#include "qsfs/node_table.h"

#include <cstdlib>

#include <spdlog/spdlog.h>

namespace qsfs {

void NodeTable::CheckExclusive(uint64_t ino) const {
  if (!nodes_.count(ino)) return;
  if (parked_.count(ino) || remembered_.count(ino)) {
    spdlog::critical("inode {} is both in memory and {}", ino, parked_.count(ino) ? "parked" : "remembered");
    std::abort();
  }
}

Node* NodeTable::Find(uint64_t ino) const {
  auto it = nodes_.find(ino);
  return it == nodes_.end() ? nullptr : it->second.get();
}

bool NodeTable::TakeRemembered(uint64_t ino, Inode* out) {
  auto it = remembered_.find(ino);
  if (it == remembered_.end()) return false;
  *out = std::move(*it->second);
  remembered_lru_.erase(it->second);
  remembered_.erase(it);
  return true;
}

Node* NodeTable::Install(std::unique_ptr<Node> node) {
  const uint64_t ino = node->inode.ino;
  auto parked = parked_.find(ino);
  if (parked != parked_.end()) {
    node->nlookup = parked->second.lookups;
    node->name_parent = parked->second.name_parent;
    node->name = std::move(parked->second.name);
    parked_.erase(parked);
  }
  // A remembered copy would be older than this node.
  auto remembered = remembered_.find(ino);
  if (remembered != remembered_.end()) {
    remembered_lru_.erase(remembered->second);
    remembered_.erase(remembered);
  }
  Node* n = node.get();
  auto [it, added] = nodes_.emplace(ino, std::move(node));
  if (!added) {
    spdlog::critical("inode {} installed twice", ino);
    std::abort();
  }
  CheckExclusive(ino);
  return n;
}

void NodeTable::Erase(uint64_t ino) { nodes_.erase(ino); }

void NodeTable::Remember(const Node& n) {
  const Inode& in = n.inode;
  if (n.freed || in.nlink == 0 || n.has_dirty() || n.chunks_dirty() || in.ino == kRootIno) return;
  auto old = remembered_.find(in.ino);
  if (old != remembered_.end()) {
    remembered_lru_.erase(old->second);
    remembered_.erase(old);
  }
  remembered_lru_.push_front(in);
  remembered_[in.ino] = remembered_lru_.begin();
  // n itself is still counted in nodes_: it leaves next.
  while (!remembered_lru_.empty() && nodes_.size() + remembered_.size() > inode_cache_) {
    remembered_.erase(remembered_lru_.back().ino);
    remembered_lru_.pop_back();
  }
}

void NodeTable::Park(uint64_t ino) {
  auto it = nodes_.find(ino);
  if (it == nodes_.end()) return;
  Node* n = it->second.get();
  if (n->nlookup > 0) parked_[ino] = Parked{n->nlookup, n->name_parent, std::move(n->name)};
  nodes_.erase(it);
}

void NodeTable::ForgetParked(uint64_t ino, uint64_t nlookup) {
  auto parked = parked_.find(ino);
  if (parked != parked_.end() && (parked->second.lookups -= std::min(parked->second.lookups, nlookup)) == 0)
    parked_.erase(parked);
}

std::vector<std::pair<uint64_t, std::string>> NodeTable::TakeParkedNames(size_t want) {
  std::vector<std::pair<uint64_t, std::string>> drop;
  for (auto& [ino, p] : parked_) {
    if (drop.size() >= want) break;
    if (p.name.empty()) continue;
    drop.emplace_back(p.name_parent, std::move(p.name));
    p.name.clear();
  }
  return drop;
}

}  // namespace qsfs
