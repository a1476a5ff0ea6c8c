#include "zstor/placement.h"

#include <algorithm>
#include <map>
#include <numeric>
#include <random>

namespace zstor {

using qs::Status;

namespace {

// Labels of the [[policies]] entry whose path_prefix is the longest prefix
// of path, or null when none matches (every backend allowed).
const std::map<std::string, std::string>* PolicyLabels(const Config& cfg, const std::string& path) {
  const std::map<std::string, std::string>* labels = nullptr;
  size_t best = 0;
  for (const auto& p : cfg.policies) {
    if (path.rfind(p.path_prefix, 0) == 0 && p.path_prefix.size() >= best) {
      labels = &p.labels;
      best = p.path_prefix.size();
    }
  }
  return labels;
}

bool LabelsMatch(const BackendConfig& b, const std::map<std::string, std::string>& want) {
  for (const auto& [k, v] : want) {
    auto it = b.labels.find(k);
    if (it == b.labels.end() || it->second != v) return false;
  }
  return true;
}

// Fragments held together by the `groups` groups holding the most.
int HeldByFullest(const std::map<int, int>& held, int groups) {
  std::vector<int> counts;
  for (const auto& [g, n] : held) counts.push_back(n);
  std::sort(counts.rbegin(), counts.rend());
  int sum = 0;
  for (size_t r = 0; r < counts.size() && r < static_cast<size_t>(std::max(groups, 0)); ++r) sum += counts[r];
  return sum;
}

bool Contains(const std::vector<size_t>& v, size_t i) { return std::find(v.begin(), v.end(), i) != v.end(); }

}  // namespace

Status ChoosePlacement(const Config& cfg, BackendPool& pool, const PlacementRequest& request,
                       std::vector<size_t>* chosen) {
  chosen->clear();
  const auto* labels = PolicyLabels(cfg, request.path);
  const int64_t min_free = static_cast<int64_t>(cfg.chunk_size);  // room for at least one fragment run
  std::mt19937_64 rng(std::random_device{}());

  // Fragments of the chunk per group (every group, empty ones too: they
  // count among the fullest when fewer groups than redundant_groups hold
  // any) and the eligible backends of each, shuffled so load spreads.
  std::map<int, int> held;
  std::map<int, std::vector<size_t>> spare;
  std::vector<size_t> order(pool.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  size_t eligible = 0, full = 0;
  for (size_t i : order) {
    Backend& b = pool.at(i);
    const int g = b.config().group;
    held[g] += Contains(request.holding, i) ? 1 : 0;
    if (Contains(request.holding, i) || Contains(request.avoid, i) || !b.healthy()) continue;
    if (labels != nullptr && !LabelsMatch(b.config(), *labels)) continue;
    if (b.full(min_free)) {
      ++full;
      continue;
    }
    spare[g].push_back(i);
    ++eligible;
  }
  std::vector<int> groups;  // random order: ties between equally loaded groups go either way
  for (const auto& [g, n] : held) groups.push_back(g);
  std::shuffle(groups.begin(), groups.end(), rng);

  // Water filling: each fragment goes to the group holding the fewest of
  // the chunk among those with a spare backend. That keeps the fullest
  // groups as small as any choice could, so when this fragment would break
  // the rule, every other choice would too.
  const int limit = request.parity - cfg.redundant_nodes;  // fragments the fullest groups may hold
  while (chosen->size() < request.count) {
    int best = -1;
    for (int g : groups)
      if (!spare[g].empty() && (best < 0 || held[g] < held[best])) best = g;
    if (best < 0) {
      std::string why = "only " + std::to_string(eligible) + " healthy backends" +
                        (labels != nullptr ? " matching the placement policy" : "") + " for " +
                        std::to_string(request.count) + " fragments";
      if (!request.holding.empty())
        why += " besides the " + std::to_string(request.holding.size()) + " holding the chunk's other fragments";
      if (full > 0) why += " (" + std::to_string(full) + " full backends skipped)";
      return Status::Unavailable(why);
    }
    const int before = HeldByFullest(held, cfg.redundant_groups);
    ++held[best];
    // A chunk placed under other rules may already break this one: then only
    // fragments that leave its worst case as it is are added.
    if (HeldByFullest(held, cfg.redundant_groups) > std::max(limit, before)) {
      --held[best];
      return Status::Unavailable(
          "placement cannot survive the loss of " + std::to_string(cfg.redundant_groups) + " groups and " +
          std::to_string(cfg.redundant_nodes) + " nodes: the fullest groups would hold more than " +
          std::to_string(limit) + " fragments of the chunk (redundant_groups = " +
          std::to_string(cfg.redundant_groups) + ", redundant_nodes = " + std::to_string(cfg.redundant_nodes) +
          ", m = " + std::to_string(request.parity) + ")");
    }
    chosen->push_back(spare[best].back());
    spare[best].pop_back();
  }
  return Status::OK();
}

}  // namespace zstor
