#include "runtime/backend/expert_groups.h"

#include <map>

#include "runtime/core/error.h"

namespace moe {

std::vector<ExpertGroup> plan_expert_groups(std::span<const int64_t> offsets) {
  MOE_ASSERT(!offsets.empty() && offsets[0] == 0, "expert offsets must start at 0");
  std::map<int64_t, ExpertGroup> by_rows;
  for (size_t e = 0; e + 1 < offsets.size(); ++e) {
    const int64_t m = offsets[e + 1] - offsets[e];
    MOE_ASSERT(m >= 0, "expert offsets decrease at expert {}", e);
    if (m == 0) continue;
    ExpertGroup& g = by_rows[m];
    g.rows = m;
    g.experts.push_back(int(e));
    g.row0.push_back(offsets[e]);
  }
  std::vector<ExpertGroup> out;
  out.reserve(by_rows.size());
  for (auto& [m, g] : by_rows) out.push_back(std::move(g));
  return out;
}

}  // namespace moe
