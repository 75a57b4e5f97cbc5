#include "results/routing_units.h"

#include <fmt/format.h>

#include "runtime/core/error.h"

namespace moe::results {
namespace {

template <typename T, typename S>
std::vector<T> convert(const std::vector<S>& v) {
  return std::vector<T>(v.begin(), v.end());
}

template <typename T>
const std::vector<T>& values(const UnitResult& r, const std::string& name, const std::string& what) {
  auto it = r.arrays.find(name);
  if (it == r.arrays.end())
    throw InputError(what, fmt::format("expected the array '{}' of routing statistics, found none",
                                       name));
  const auto* v = std::get_if<std::vector<T>>(&it->second.values);
  if (!v) throw InputError(what, fmt::format("array '{}' has an unexpected element type", name));
  return *v;
}

const std::string& note(const UnitResult& r, const std::string& key, const std::string& what) {
  auto it = r.notes.find(key);
  if (it == r.notes.end())
    throw InputError(what, fmt::format("expected the note '{}' of routing statistics, found none",
                                       key));
  return it->second;
}

}  // namespace

UnitResult routing_stats_to_unit(const RoutingStats& s) {
  s.check();
  const uint64_t N = uint64_t(s.num_seqs), L = uint64_t(s.num_layers), E = uint64_t(s.num_experts);
  UnitResult r;
  r.notes["importance"] = s.importance;
  r.notes["tokens"] = s.tokens;
  r.notes["consistency_pairs"] = std::to_string(s.consistency_pairs);
  r.notes["seed"] = std::to_string(s.seed);
  r.notes["num_experts"] = std::to_string(s.num_experts);
  r.notes["top_k"] = std::to_string(s.top_k);
  r.arrays["layers"] = {{L}, convert<int64_t>(s.layers), Combine::kSame};
  r.arrays["counted_tokens"] = {{N}, s.counted_tokens, Combine::kConcat};
  r.arrays["importance"] = {{N, L, E}, s.importance_q, Combine::kConcat};
  r.arrays["frequency"] = {{N, L, E}, s.frequency, Combine::kConcat};
  r.arrays["entropy"] = {{N, L}, s.entropy, Combine::kConcat};
  r.arrays["importance_entropy"] = {{N, L}, s.importance_entropy, Combine::kConcat};
  r.arrays["consistency"] = {{N, L}, s.consistency, Combine::kConcat};
  r.arrays["activation_tokens"] = {{L, E}, s.activation_tokens, Combine::kSum};
  r.arrays["total_tokens"] = {{L}, s.total_tokens, Combine::kSum};
  if (!s.raw_offsets.empty())
    r.arrays["raw_logits"] = {{uint64_t(s.raw_offsets.back()), L, E}, s.raw_logits,
                              Combine::kConcat};
  return r;
}

RoutingStats routing_stats_from_unit(const UnitResult& r, const std::string& what) {
  RoutingStats s;
  s.importance = note(r, "importance", what);
  s.tokens = note(r, "tokens", what);
  try {
    s.consistency_pairs = std::stoi(note(r, "consistency_pairs", what));
    s.seed = std::stoull(note(r, "seed", what));
    s.num_experts = std::stoi(note(r, "num_experts", what));
    s.top_k = std::stoi(note(r, "top_k", what));
  } catch (const std::logic_error&) {
    throw InputError(what, "expected integer notes consistency_pairs, seed, num_experts, top_k");
  }
  s.layers = convert<int32_t>(values<int64_t>(r, "layers", what));
  s.num_layers = int(s.layers.size());
  s.counted_tokens = values<int64_t>(r, "counted_tokens", what);
  s.num_seqs = int(s.counted_tokens.size());
  s.importance_q = values<float>(r, "importance", what);
  s.frequency = values<float>(r, "frequency", what);
  s.entropy = values<float>(r, "entropy", what);
  s.importance_entropy = values<float>(r, "importance_entropy", what);
  s.consistency = values<float>(r, "consistency", what);
  s.activation_tokens = values<int64_t>(r, "activation_tokens", what);
  s.total_tokens = values<int64_t>(r, "total_tokens", what);
  if (r.arrays.count("raw_logits")) {
    s.raw_logits = values<uint16_t>(r, "raw_logits", what);
    s.raw_offsets.assign(1, 0);
    for (int64_t n : s.counted_tokens) s.raw_offsets.push_back(s.raw_offsets.back() + n);
  }
  try {
    s.check();
  } catch (const InternalError& e) {
    throw InputError(what, e.what());
  }
  return s;
}

}  // namespace moe::results
