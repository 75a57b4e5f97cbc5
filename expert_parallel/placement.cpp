#include "expert_parallel/placement.h"

#include <fmt/format.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/io/json_util.h"

namespace moe::ep {

namespace {
void check_dims(int layers, int experts, int ranks, const std::string& where) {
  if (ranks < 1) throw input_error(where, "expected at least 1 rank, found {}", ranks);
  if (experts < 1 || layers < 0)
    throw input_error(where, "expected a model with experts, found {} experts in {} MoE layers",
                      experts, layers);
}

ExpertPlacement by_rule(int layers, int experts, int ranks, int (*rule)(int, int, int)) {
  const std::string where = "expert_parallel";
  check_dims(layers, experts, ranks, where);
  if (ranks > experts)
    throw input_error(where,
                      "expected at most as many ranks per replica as experts per layer ({}), "
                      "found {}",
                      experts, ranks);
  std::vector<int> row(size_t(experts), 0);
  for (int e = 0; e < experts; ++e) row[size_t(e)] = rule(e, experts, ranks);
  return ExpertPlacement::from_owners(std::vector<std::vector<int>>(size_t(layers), row), ranks,
                                      where);
}
}  // namespace

ExpertPlacement ExpertPlacement::contiguous(int num_moe_layers, int num_experts, int ranks) {
  return by_rule(num_moe_layers, num_experts, ranks, [](int e, int E, int R) {
    // The first E % R ranks hold q + 1 experts, the others q.
    const int q = E / R, extra = E % R;
    const int big = extra * (q + 1);
    return e < big ? e / (q + 1) : extra + (e - big) / q;
  });
}

ExpertPlacement ExpertPlacement::round_robin(int num_moe_layers, int num_experts, int ranks) {
  return by_rule(num_moe_layers, num_experts, ranks, [](int e, int, int R) { return e % R; });
}

ExpertPlacement ExpertPlacement::from_owners(std::vector<std::vector<int>> owner, int ranks,
                                             const std::string& where) {
  check_dims(int(owner.size()), owner.empty() ? 1 : int(owner[0].size()), ranks, where);
  for (size_t l = 0; l < owner.size(); ++l) {
    if (owner[l].size() != owner[0].size())
      throw input_error(fmt::format("{}: owners[{}]", where, l),
                        "expected {} experts like owners[0], found {}", owner[0].size(),
                        owner[l].size());
    for (size_t e = 0; e < owner[l].size(); ++e)
      if (owner[l][e] < 0 || owner[l][e] >= ranks)
        throw input_error(fmt::format("{}: owners[{}][{}]", where, l, e),
                          "expected a rank in [0, {}), found {}", ranks, owner[l][e]);
  }
  ExpertPlacement p;
  p.owner_ = std::move(owner);
  p.ranks_ = ranks;
  return p;
}

ExpertPlacement ExpertPlacement::load_json(const std::filesystem::path& file, int num_moe_layers,
                                           int num_experts, int ranks) {
  const std::string where = file.string();
  std::ifstream in(file);
  if (!in) throw input_error(where, "expected a readable JSON expert placement, found no file");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    const io::JsonFailure f = io::json_failure(e);
    throw input_error(f.byte ? fmt::format("{}: byte {}", where, *f.byte) : where,
                      "expected JSON, found a syntax error ({})", f.problem);
  }
  if (!j.is_object() || !j.contains("owners") || !j["owners"].is_array())
    throw input_error(where + ": key 'owners'", "expected an array of owner rows, found {}",
                      j.is_object() && j.contains("owners") ? j["owners"].type_name() : "none");
  const nlohmann::json& rows = j["owners"];
  const bool one_row = !rows.empty() && rows[0].is_number_integer();
  const size_t nrows = one_row ? 1 : rows.size();
  if (!one_row && int(nrows) != num_moe_layers)
    throw input_error(where + ": key 'owners'",
                      "expected one row per MoE layer ({}) or a single row, found {} rows",
                      num_moe_layers, nrows);
  std::vector<std::vector<int>> owner;
  for (size_t l = 0; l < nrows; ++l) {
    const nlohmann::json& row = one_row ? rows : rows[l];
    const std::string key = one_row ? "owners" : fmt::format("owners[{}]", l);
    if (!row.is_array() || int(row.size()) != num_experts)
      throw input_error(where + ": key '" + key + "'",
                        "expected an array of {} ranks (one per expert), found {}", num_experts,
                        row.is_array() ? fmt::format("{} entries", row.size()) : row.type_name());
    std::vector<int> r;
    for (size_t e = 0; e < row.size(); ++e) {
      if (!row[e].is_number_integer())
        throw input_error(fmt::format("{}: key '{}[{}]'", where, key, e),
                          "expected an integer rank, found {}", row[e].dump());
      r.push_back(row[e].get<int>());
    }
    owner.push_back(std::move(r));
  }
  if (one_row) owner.assign(size_t(num_moe_layers), owner[0]);
  return from_owners(std::move(owner), ranks, where);
}

ExpertPlacement ExpertPlacement::parse(const std::string& spec, int num_moe_layers, int num_experts,
                                       int ranks, const std::string& where) {
  if (spec.empty() || spec == "contiguous") return contiguous(num_moe_layers, num_experts, ranks);
  if (spec == "round_robin") return round_robin(num_moe_layers, num_experts, ranks);
  if (spec.ends_with(".json")) return load_json(spec, num_moe_layers, num_experts, ranks);
  throw input_error(
      where, "expected 'contiguous', 'round_robin' or a .json owner table, found '{}'", spec);
}

std::vector<int> ExpertPlacement::experts_of(int moe_layer, int rank) const {
  std::vector<int> out;
  const std::vector<int>& row = owner_[size_t(moe_layer)];
  for (size_t e = 0; e < row.size(); ++e)
    if (row[e] == rank) out.push_back(int(e));
  return out;
}

int64_t ExpertPlacement::count_held(int rank) const {
  int64_t n = 0;
  for (const auto& row : owner_)
    for (int r : row) n += r == rank;
  return n;
}

std::function<bool(int, int)> ExpertPlacement::hold_fn(int rank) const {
  auto table = std::make_shared<const std::vector<std::vector<int>>>(owner_);
  return [table, rank](int moe_layer, int expert) {
    return (*table)[size_t(moe_layer)][size_t(expert)] == rank;
  };
}

}  // namespace moe::ep
