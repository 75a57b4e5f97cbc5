#include "runtime/routing/statistics.h"

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include "results/metrics.h"
#include "runtime/core/dtype.h"
#include "runtime/core/error.h"
#include "runtime/core/random.h"
#include "runtime/routing/routing.h"

namespace moe::routing {

std::string_view importance_name(Importance v) {
  switch (v) {
    case Importance::kTopkRenorm: return "topk_renorm";
    case Importance::kRouterWeights: return "router_weights";
    case Importance::kSoftmax: return "softmax";
  }
  return "?";
}

Importance parse_importance(std::string_view name, const std::string& where) {
  for (Importance v : {Importance::kTopkRenorm, Importance::kRouterWeights, Importance::kSoftmax})
    if (importance_name(v) == name) return v;
  throw input_error(where, "expected topk_renorm, router_weights or softmax, found '{}'", name);
}

namespace {

uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// The pair (s, u), s < u, of index c in the order (0,1), (0,2), (1,2), (0,3), ...
std::pair<int64_t, int64_t> unrank_pair(uint64_t c) {
  auto tri = [](uint64_t u) { return u * (u - 1) / 2; };
  uint64_t u = uint64_t((1.0 + std::sqrt(1.0 + 8.0 * double(c))) / 2.0);
  while (u > 1 && tri(u) > c) --u;
  while (tri(u + 1) <= c) ++u;
  return {int64_t(c - tri(u)), int64_t(u)};
}

// Per-token entropy of the softmax p of z: H = -sum p ln p = ln s - sum p (z - m), with
// p = exp(z - m) / s. This equals -sum p ln(p + 1e-10) (sweeps/METHODS.md B) up to E * 1e-10
// (each term differs by at most p * ln(1 + 1e-10 / p) <= 1e-10), and needs one log instead of E.
// `p` receives the softmax.
double softmax_entropy(const float* z, int E, float* p) {
  float m = -std::numeric_limits<float>::infinity();
  for (int e = 0; e < E; ++e) m = std::max(m, z[e]);
  if (m == -std::numeric_limits<float>::infinity()) m = 0.0f;
  float s = 0.0f;
  for (int e = 0; e < E; ++e) {
    p[e] = std::exp(z[e] - m);
    s += p[e];
  }
  const float inv = 1.0f / s;
  double zp = 0.0;
  for (int e = 0; e < E; ++e) {
    p[e] *= inv;
    if (p[e] > 0.0f) zp += double(p[e]) * double(z[e] - m);
  }
  return std::log(double(s)) - zp;
}

}  // namespace

uint64_t pair_seed(uint64_t seed, uint64_t stream) { return splitmix64(seed ^ splitmix64(stream)); }

std::vector<std::pair<int64_t, int64_t>> draw_token_pairs(int64_t n, int count, uint64_t seed,
                                                          uint64_t stream) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (n < 2 || count <= 0) return out;
  const uint64_t M = uint64_t(n) * uint64_t(n - 1) / 2;
  Rng rng(pair_seed(seed, stream));
  out.reserve(size_t(count));
  if (M >= uint64_t(count)) {
    std::unordered_set<uint64_t> seen;
    while (out.size() < size_t(count)) {
      const uint64_t c = rng.below(M);
      if (seen.insert(c).second) out.push_back(unrank_pair(c));
    }
  } else {
    for (int i = 0; i < count; ++i) out.push_back(unrank_pair(rng.below(M)));
  }
  return out;
}

struct RoutingStatsCollector::State {
  int L = 0, E = 0, k = 0, W = 0;  // W: u64 words of one expert bitmask
  CollectorOptions opt;

  struct Row {
    CollectedSequence seq;
    int64_t counted = 0;               // count_end - count_begin
    std::vector<int64_t> seen;         // [L] tokens that passed each layer
    std::vector<uint64_t> bits;        // [counted, L, W] selected-expert bitmasks (in flight)
    std::vector<uint16_t> raw;         // [counted, L, E] bf16 logits (raw_logits only)
    bool complete = false;
  };
  std::vector<Row> rows;
  std::unordered_map<uint64_t, int> row_of_tag;
  std::vector<int32_t> layers;       // [L]
  std::vector<double> imp_sum;       // [N, L, E]
  std::vector<int32_t> counts;       // [N, L, E]
  std::vector<double> ent_sum;       // [N, L]
  std::vector<double> consistency;   // [N, L]

  // Step scratch, reused.
  std::vector<int64_t> row_step;     // [N] last step that used the row (one slot per row)
  int64_t step = 0;
  std::vector<int32_t> slot_row;     // [S]
  std::vector<int32_t> order;        // counted tokens grouped by slot
  std::vector<int32_t> slot_begin;   // [S + 1] into order

  // Forgets every sequence (keeps shape, options and the layer map).
  void clear() {
    rows.clear();
    row_of_tag.clear();
    imp_sum.clear();
    counts.clear();
    ent_sum.clear();
    consistency.clear();
    row_step.clear();
  }

  void complete(Row& r, int row) {
    const auto pairs = draw_token_pairs(r.counted, opt.consistency_pairs, opt.seed,
                                        r.seq.pair_stream);
    for (int l = 0; l < L; ++l) {
      double sum = 0.0;
      for (const auto& [a, b] : pairs) {
        const uint64_t* x = &r.bits[(size_t(a) * L + l) * W];
        const uint64_t* y = &r.bits[(size_t(b) * L + l) * W];
        int inter = 0, uni = 0;
        for (int w = 0; w < W; ++w) {
          inter += std::popcount(x[w] & y[w]);
          uni += std::popcount(x[w] | y[w]);
        }
        sum += uni > 0 ? double(inter) / double(uni) : 1.0;
      }
      consistency[size_t(row) * L + l] =
          pairs.empty() ? std::numeric_limits<double>::quiet_NaN() : sum / double(pairs.size());
    }
    r.bits = {};
    r.complete = true;
  }
};

RoutingStatsCollector::RoutingStatsCollector(int num_layers, int num_experts, int top_k,
                                             CollectorOptions options)
    : s_(std::make_unique<State>()) {
  MOE_ASSERT(num_layers > 0 && num_experts > 0 && top_k > 0 && top_k <= num_experts,
             "collector shape L={} E={} k={}", num_layers, num_experts, top_k);
  MOE_ASSERT(options.consistency_pairs >= 0, "negative consistency_pairs");
  s_->L = num_layers;
  s_->E = num_experts;
  s_->k = top_k;
  s_->W = (num_experts + 63) / 64;
  s_->opt = options;
  s_->layers.assign(size_t(num_layers), -1);
}

RoutingStatsCollector::~RoutingStatsCollector() = default;

void RoutingStatsCollector::add(std::span<const CollectedSequence> sequences) {
  State& s = *s_;
  for (const CollectedSequence& q : sequences) {
    State::Row r;
    r.seq = q;
    if (r.seq.count_end < 0) r.seq.count_end = q.num_tokens;
    MOE_ASSERT(r.seq.count_begin >= 0 && r.seq.count_begin < r.seq.count_end &&
                   r.seq.count_end <= q.num_tokens,
               "sequence tag {}: counted span [{}, {}) outside its {} tokens or empty", q.tag,
               r.seq.count_begin, r.seq.count_end, q.num_tokens);
    const int row = int(s.rows.size());
    MOE_ASSERT(s.row_of_tag.emplace(q.tag, row).second, "sequence tag {} registered twice",
               q.tag);
    r.counted = r.seq.count_end - r.seq.count_begin;
    r.seen.assign(size_t(s.L), 0);
    s.rows.push_back(std::move(r));
  }
  const size_t N = s.rows.size();
  s.imp_sum.resize(N * s.L * s.E, 0.0);
  s.counts.resize(N * s.L * s.E, 0);
  s.ent_sum.resize(N * s.L, 0.0);
  s.consistency.resize(N * s.L, std::numeric_limits<double>::quiet_NaN());
  s.row_step.resize(N, -1);
}

void RoutingStatsCollector::on_routed(const RouterContext& ctx, const Tensor& logits,
                                      const Tensor& experts, const Tensor& weights) {
  State& s = *s_;
  const int L = s.L, E = s.E, k = s.k, W = s.W;
  const int l = ctx.moe_layer;
  MOE_ASSERT(ctx.device == Device::CPU, "the statistics collector runs on the CPU");
  MOE_ASSERT(l >= 0 && l < L, "MoE layer {} outside the collector's {} layers", l, L);
  MOE_ASSERT(logits.ndim() == 2 && logits.size(1) == E && experts.size(1) == k &&
                 weights.size(1) == k && logits.size(0) == ctx.num_tokens,
             "router tensors {} {} do not match E={} k={}", shape_str(logits.shape()),
             shape_str(experts.shape()), E, k);
  s.layers[size_t(l)] = ctx.layer;
  ++s.step;

  // Slots -> rows, then the counted tokens grouped by slot (counting sort, token order kept).
  const int S = ctx.num_seqs;
  const int64_t T = ctx.num_tokens;
  s.slot_row.assign(size_t(S), -1);
  bool any = false;
  for (int q = 0; q < S; ++q) {
    if (!ctx.seq_prefill[q]) continue;
    auto it = s.row_of_tag.find(ctx.seq_tag[q]);
    if (it == s.row_of_tag.end()) continue;
    const int row = it->second;
    if (s.row_step[size_t(row)] == s.step)
      throw Error(fmt::format("routing statistics: tag {} is carried by two sequences of one step",
                              ctx.seq_tag[q]));
    s.row_step[size_t(row)] = s.step;
    s.slot_row[size_t(q)] = row;
    any = true;
  }
  if (!any) return;
  s.slot_begin.assign(size_t(S) + 1, 0);
  auto counted = [&](int64_t t) {
    const int row = s.slot_row[size_t(ctx.token_seq[t])];
    if (row < 0) return false;
    const CollectedSequence& q = s.rows[size_t(row)].seq;
    const int64_t pos = ctx.token_pos[t];
    MOE_ASSERT(pos < q.num_tokens, "sequence tag {}: token at position {} beyond its {} tokens",
               q.tag, pos, q.num_tokens);
    return pos >= q.count_begin && pos < q.count_end;
  };
  for (int64_t t = 0; t < T; ++t)
    if (counted(t)) ++s.slot_begin[size_t(ctx.token_seq[t]) + 1];
  for (int q = 0; q < S; ++q) s.slot_begin[size_t(q) + 1] += s.slot_begin[size_t(q)];
  s.order.resize(size_t(s.slot_begin[size_t(S)]));
  {
    std::vector<int32_t> fill(s.slot_begin.begin(), s.slot_begin.end() - 1);
    for (int64_t t = 0; t < T; ++t)
      if (counted(t)) s.order[size_t(fill[size_t(ctx.token_seq[t])]++)] = int32_t(t);
  }

  const float* Z = logits.data<float>();
  const int32_t* SEL = experts.data<int32_t>();
  const float* WGT = weights.data<float>();
  for (int32_t t : s.order)
    for (int j = 0; j < k; ++j)
      MOE_ASSERT(SEL[t * k + j] >= 0 && SEL[t * k + j] < E, "selected expert {} outside [0, {})",
                 SEL[t * k + j], E);
  const Importance variant = s.opt.importance;
  const bool keep_raw = s.opt.raw_logits;
  // One sequence per iteration: its row has a single writer.
#pragma omp parallel if (s.order.size() * size_t(E) > 32768)
  {
    std::vector<float> p(static_cast<size_t>(E));
    std::vector<int32_t> top(static_cast<size_t>(k));
#pragma omp for schedule(dynamic)
    for (int q = 0; q < S; ++q) {
      const int row = s.slot_row[size_t(q)];
      if (row < 0 || s.slot_begin[size_t(q)] == s.slot_begin[size_t(q) + 1]) continue;
      State::Row& r = s.rows[size_t(row)];
      double* imp = &s.imp_sum[(size_t(row) * L + l) * E];
      int32_t* cnt = &s.counts[(size_t(row) * L + l) * E];
      double ent = 0.0;
      if (r.bits.empty()) r.bits.assign(size_t(r.counted) * L * W, 0);
      if (keep_raw && r.raw.empty()) r.raw.assign(size_t(r.counted) * L * E, 0);
      for (int32_t i = s.slot_begin[size_t(q)]; i < s.slot_begin[size_t(q) + 1]; ++i) {
        const int64_t t = s.order[size_t(i)];
        const float* z = Z + t * E;
        const int32_t* sel = SEL + t * k;
        const float* w = WGT + t * k;
        const int64_t c = ctx.token_pos[t] - r.seq.count_begin;  // counted index
        ent += softmax_entropy(z, E, p.data());
        switch (variant) {
          case Importance::kSoftmax:
            for (int e = 0; e < E; ++e) imp[e] += p[size_t(e)];
            break;
          case Importance::kTopkRenorm: {
            topk_indices(p.data(), E, k, top.data());
            const float thr = p[size_t(top[size_t(k - 1)])];
            double kept = 0.0;
            for (int e = 0; e < E; ++e)
              if (p[size_t(e)] >= thr) kept += p[size_t(e)];
            const double inv = 1.0 / (kept + kTopkRenormEps);
            for (int e = 0; e < E; ++e)
              if (p[size_t(e)] >= thr) imp[e] += double(p[size_t(e)]) * inv;
            break;
          }
          case Importance::kRouterWeights: {
            double sum = 0.0;
            for (int j = 0; j < k; ++j) sum += w[j];
            if (sum > 0.0)
              for (int j = 0; j < k; ++j) imp[sel[j]] += double(w[j]) / sum;
            break;
          }
        }
        uint64_t* bits = &r.bits[(size_t(c) * L + l) * W];
        for (int j = 0; j < k; ++j) {
          const int e = sel[j];
          ++cnt[e];
          bits[e >> 6] |= uint64_t(1) << (e & 63);
        }
        if (keep_raw) {
          uint16_t* dst = &r.raw[(size_t(c) * L + l) * E];
          for (int e = 0; e < E; ++e) dst[e] = f32_to_bf16(z[e]);
        }
      }
      s.ent_sum[size_t(row) * L + l] += ent;
      r.seen[size_t(l)] += s.slot_begin[size_t(q) + 1] - s.slot_begin[size_t(q)];
      if (l == L - 1 && r.seen[size_t(l)] == r.counted &&
          std::all_of(r.seen.begin(), r.seen.end(), [&](int64_t v) { return v == r.counted; }))
        s.complete(r, row);
    }
  }
}

results::RoutingStats RoutingStatsCollector::finish() {
  State& s = *s_;
  const int L = s.L, E = s.E;
  const size_t N = s.rows.size();
  results::RoutingStats out;
  out.importance = std::string(importance_name(s.opt.importance));
  out.tokens = s.opt.content_only ? "content" : "all";
  out.consistency_pairs = s.opt.consistency_pairs;
  out.seed = s.opt.seed;
  out.num_seqs = int(N);
  out.num_layers = L;
  out.num_experts = E;
  out.top_k = s.k;
  out.layers = s.layers;
  out.counted_tokens.resize(N);
  out.importance_q.resize(N * L * E);
  out.frequency.resize(N * L * E);
  out.entropy.resize(N * L);
  out.importance_entropy.resize(N * L);
  out.consistency.resize(N * L);
  out.activation_tokens.assign(size_t(L) * E, 0);
  out.total_tokens.assign(size_t(L), 0);
  if (s.opt.raw_logits) out.raw_offsets.assign(N + 1, 0);
  std::vector<double> q(static_cast<size_t>(E));
  for (size_t i = 0; i < N; ++i) {
    State::Row& r = s.rows[i];
    for (int l = 0; l < L; ++l)
      if (r.seen[size_t(l)] != r.counted)
        throw Error(fmt::format(
            "routing statistics: sequence tag {} has {} of its {} counted tokens at MoE layer {}",
            r.seq.tag, r.seen[size_t(l)], r.counted, l));
    if (!r.complete) s.complete(r, int(i));
    const double n = double(r.counted);
    out.counted_tokens[i] = r.counted;
    for (int l = 0; l < L; ++l) {
      const size_t il = i * L + size_t(l);
      for (int e = 0; e < E; ++e) {
        q[size_t(e)] = s.imp_sum[il * E + size_t(e)] / n;
        out.importance_q[il * E + size_t(e)] = float(q[size_t(e)]);
        const int32_t c = s.counts[il * E + size_t(e)];
        out.frequency[il * E + size_t(e)] = float(double(c) / n);
        out.activation_tokens[size_t(l) * E + size_t(e)] += c;
      }
      out.total_tokens[size_t(l)] += r.counted;
      out.entropy[il] = float(s.ent_sum[il] / n);
      out.importance_entropy[il] = float(metrics::entropy(q));
      out.consistency[il] = float(s.consistency[il]);
    }
    if (s.opt.raw_logits) {
      out.raw_offsets[i + 1] = out.raw_offsets[i] + r.counted;
      out.raw_logits.insert(out.raw_logits.end(), r.raw.begin(), r.raw.end());
    }
  }
  s.clear();
  return out;
}

}  // namespace moe::routing
