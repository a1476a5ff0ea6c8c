// Which data backends may receive fragments of a chunk. Store (a new
// object) and Rebuild (a repair) both choose here, so one set of rules holds
// before and after every repair. Every chosen backend is
//   * healthy, not full (it last reported at least one chunk_size free),
//     matching the labels of the object's [[policies]] entry (longest
//     path_prefix), holding no other fragment of the chunk; all distinct;
//   * within the spread rule: the redundant_groups groups holding the most
//     fragments of the chunk, plus redundant_nodes further backends, hold at
//     most m fragments, so k survive their loss. A chunk that already breaks
//     the rule (placed under other rules) only gains fragments that do not
//     make its worst case worse.
// Fragments go first to the groups holding the fewest of the chunk, so a
// choice fits the rule whenever any choice among the eligible backends does.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"
#include "zstor/backend_pool.h"
#include "zstor/config.h"

namespace zstor {

struct PlacementRequest {
  std::string path;            // object path: selects the [[policies]] entry
  int parity = 0;              // m of the object
  std::vector<size_t> holding;  // pool indices holding the chunk's healthy fragments
  std::vector<size_t> avoid;    // pool indices not to choose (e.g. failed writes)
  size_t count = 0;            // fragments to place
};

// Fills *chosen with up to request.count pool indices, in the order chosen.
// OK when all of them were chosen; otherwise Unavailable saying which rule
// stopped the choice, with *chosen holding the part that fits (maybe none).
qs::Status ChoosePlacement(const Config& cfg, BackendPool& pool, const PlacementRequest& request,
                           std::vector<size_t>* chosen);

}  // namespace zstor
