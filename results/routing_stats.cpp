#include "results/routing_stats.h"

#include <cmath>
#include <limits>

#include "results/h5.h"
#include "runtime/core/error.h"

namespace moe::results {

namespace {

std::vector<double> to_double(const std::vector<float>& v) {
  return std::vector<double>(v.begin(), v.end());
}

}  // namespace

metrics::SequenceDistributions RoutingStats::importance_distributions() const {
  return metrics::SequenceDistributions(num_seqs, num_layers, num_experts, to_double(importance_q));
}

metrics::SequenceDistributions RoutingStats::frequency_distributions() const {
  return metrics::SequenceDistributions(num_seqs, num_layers, num_experts, to_double(frequency));
}

metrics::LayerDistributions RoutingStats::pooled_frequency() const {
  std::vector<double> f(size_t(num_layers) * num_experts, 0.0);
  for (int l = 0; l < num_layers; ++l)
    for (int e = 0; e < num_experts; ++e)
      if (total_tokens[size_t(l)] > 0)
        f[size_t(l) * num_experts + e] =
            double(activation_tokens[size_t(l) * num_experts + e]) / double(total_tokens[size_t(l)]);
  return metrics::LayerDistributions(num_layers, num_experts, std::move(f));
}

std::vector<double> RoutingStats::layer_mean(const std::vector<float>& per_sequence) const {
  MOE_ASSERT(per_sequence.size() == size_t(num_seqs) * num_layers, "[N, L] array expected");
  std::vector<double> out(size_t(num_layers), std::numeric_limits<double>::quiet_NaN());
  for (int l = 0; l < num_layers; ++l) {
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < num_seqs; ++i) {
      const float v = per_sequence[size_t(i) * num_layers + l];
      if (std::isnan(v)) continue;
      sum += v;
      ++n;
    }
    if (n > 0) out[size_t(l)] = sum / n;
  }
  return out;
}

void RoutingStats::check() const {
  const size_t N = size_t(num_seqs), L = size_t(num_layers), E = size_t(num_experts);
  auto need = [](const char* name, size_t got, size_t want) {
    MOE_ASSERT(got == want, "routing statistics: {} has {} values, expected {}", name, got, want);
  };
  need("layers", layers.size(), L);
  need("counted_tokens", counted_tokens.size(), N);
  need("importance", importance_q.size(), N * L * E);
  need("frequency", frequency.size(), N * L * E);
  need("entropy", entropy.size(), N * L);
  need("importance_entropy", importance_entropy.size(), N * L);
  need("consistency", consistency.size(), N * L);
  need("activation_tokens", activation_tokens.size(), L * E);
  need("total_tokens", total_tokens.size(), L);
  if (!raw_offsets.empty()) {
    need("raw_offsets", raw_offsets.size(), N + 1);
    need("raw_logits", raw_logits.size(), size_t(raw_offsets.back()) * L * E);
  }
}

void write_routing_stats(const h5::Group& g, const RoutingStats& s, const Labels& labels) {
  s.check();
  const uint64_t N = uint64_t(s.num_seqs), L = uint64_t(s.num_layers), E = uint64_t(s.num_experts);
  g.set_attr("importance", s.importance);
  g.set_attr("tokens", s.tokens);
  g.set_attr("consistency_pairs", int64_t(s.consistency_pairs));
  g.set_attr("seed", std::to_string(s.seed));  // u64: as decimal text
  g.set_attr("num_sequences", int64_t(s.num_seqs));
  g.set_attr("num_layers", int64_t(s.num_layers));
  g.set_attr("num_experts", int64_t(s.num_experts));
  g.set_attr("top_k", int64_t(s.top_k));
  std::vector<std::string> keys;
  for (const auto& [k, v] : labels) {
    g.set_attr(k, v);
    keys.push_back(k);
  }
  if (!keys.empty()) g.set_attr("labels", keys);
  g.write("layers", s.layers);
  g.write("counted_tokens", s.counted_tokens);
  g.write("importance", s.importance_q, {N, L, E}, true);
  g.write("frequency", s.frequency, {N, L, E}, true);
  g.write("entropy", s.entropy, {N, L}, true);
  g.write("importance_entropy", s.importance_entropy, {N, L}, true);
  g.write("consistency", s.consistency, {N, L}, true);
  g.write("activation_tokens", s.activation_tokens, {L, E});
  g.write("total_tokens", s.total_tokens);
  if (!s.raw_offsets.empty()) {
    g.set_attr("raw_logits_dtype", std::string("bf16"));
    g.write("raw_logits", s.raw_logits, {uint64_t(s.raw_offsets.back()), L, E}, true);
    g.write("raw_offsets", s.raw_offsets);
  }
}

RoutingStats read_routing_stats(const h5::Group& g, Labels* labels) {
  RoutingStats s;
  // The shape comes from the importance array; the collection options are optional attributes
  // (a group assembled from sample ranges may carry them elsewhere).
  const std::vector<uint64_t> dims = g.dataset_shape("importance");
  if (dims.size() != 3)
    throw InputError(g.file().string() + ":" + g.path() + "/importance",
                     expected_found("a [N, L, E] array", std::to_string(dims.size()) + " dimensions"));
  s.num_seqs = int(dims[0]);
  s.num_layers = int(dims[1]);
  s.num_experts = int(dims[2]);
  auto text = [&](const char* name, const std::string& dflt) {
    return g.has_attr(name) ? g.attr_string(name) : dflt;
  };
  s.importance = text("importance", "unknown");
  s.tokens = text("tokens", "unknown");
  s.consistency_pairs = g.has_attr("consistency_pairs") ? int(g.attr_int("consistency_pairs")) : 0;
  s.seed = std::stoull(text("seed", "0"));
  s.top_k = g.has_attr("top_k") ? int(g.attr_int("top_k")) : 0;
  if (labels) labels->clear();
  if (labels && g.has_attr("labels")) {
    for (const std::string& k : g.attr_strings("labels")) labels->emplace_back(k, g.attr_string(k));
  }
  const uint64_t N = dims[0], L = dims[1], E = dims[2];
  auto read = [&](auto& dst, const char* name, std::vector<uint64_t> want) {
    std::vector<uint64_t> shape;
    dst = g.read<typename std::decay_t<decltype(dst)>::value_type>(name, &shape);
    if (shape != want) {
      std::string w, f;
      for (auto d : want) w += (w.empty() ? "" : ", ") + std::to_string(d);
      for (auto d : shape) f += (f.empty() ? "" : ", ") + std::to_string(d);
      throw InputError(g.file().string() + ":" + g.path() + "/" + name, expected_found("shape [" + w + "]", "[" + f + "]"));
    }
  };
  read(s.layers, "layers", {L});
  read(s.counted_tokens, "counted_tokens", {N});
  read(s.importance_q, "importance", {N, L, E});
  read(s.frequency, "frequency", {N, L, E});
  read(s.entropy, "entropy", {N, L});
  read(s.importance_entropy, "importance_entropy", {N, L});
  read(s.consistency, "consistency", {N, L});
  read(s.activation_tokens, "activation_tokens", {L, E});
  read(s.total_tokens, "total_tokens", {L});
  if (g.has("raw_offsets")) {
    read(s.raw_offsets, "raw_offsets", {N + 1});
    read(s.raw_logits, "raw_logits", {uint64_t(s.raw_offsets.back()), L, E});
  }
  return s;
}

}  // namespace moe::results
