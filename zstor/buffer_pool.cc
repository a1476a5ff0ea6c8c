#include "zstor/buffer_pool.h"

#include <mutex>
#include <vector>

namespace zstor {

namespace {

std::mutex pool_mu;
// Idle buffers. Never destroyed: a buffer may come
// back from a worker thread while the process exits.
std::vector<std::string*>* idle = new std::vector<std::string*>();

void GiveBack(std::string* s) {
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    if (idle->size() < BufferPool::kKeep) {
      idle->push_back(s);
      return;
    }
  }
  delete s;
}

}  // namespace

std::shared_ptr<std::string> BufferPool::Get(size_t size) {
  std::string* s = nullptr;
  {
    std::lock_guard<std::mutex> lock(pool_mu);
    // The smallest idle buffer already that long (a shrink writes nothing,
    // a growth zero-fills), else the longest.
    const size_t none = idle->size();
    size_t fit = none, largest = none;
    for (size_t i = 0; i < idle->size(); ++i) {
      const size_t len = (*idle)[i]->size();
      if (len >= size && (fit == none || len < (*idle)[fit]->size())) fit = i;
      if (largest == none || len > (*idle)[largest]->size()) largest = i;
    }
    const size_t pick = fit != none ? fit : largest;
    if (pick != none) {
      s = (*idle)[pick];
      idle->erase(idle->begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  if (s == nullptr) s = new std::string();
  // Shrinking or keeping the size writes nothing; only growth is filled.
  s->resize(size);
  return std::shared_ptr<std::string>(s, GiveBack);
}

size_t BufferPool::Idle() {
  std::lock_guard<std::mutex> lock(pool_mu);
  return idle->size();
}

}  // namespace zstor
