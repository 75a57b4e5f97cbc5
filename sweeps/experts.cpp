#include "sweeps/experts.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "runtime/core/error.h"

namespace moe::experts {

using metrics::LayerDistributions;
using metrics::SequenceDistributions;

size_t ExpertSet::size() const {
  size_t n = 0;
  for (const auto& l : layers) n += l.size();
  return n;
}

size_t ExpertSet::size_in_layers(int first, int last) const {
  size_t n = 0;
  for (int l = std::max(first, 0); l <= last && l < int(layers.size()); ++l) n += layers[l].size();
  return n;
}

const std::string& ExpertSet::param(const std::string& name) const {
  for (const auto& [k, v] : params)
    if (k == name) return v;
  MOE_ASSERT(false, "expert set '{}' has no parameter '{}'", rule, name);
  throw InternalError("unreachable");
}

ExpertSet ExpertSet::restricted_to_layers(int first, int last) const {
  ExpertSet r = *this;
  for (int l = 0; l < int(r.layers.size()); ++l)
    if (l < first || l > last) r.layers[l].clear();
  r.params.emplace_back("layers", fmt::format("{}-{}", first, last));
  return r;
}

LayerDistributions delta(const SequenceDistributions& dataset1,
                         const SequenceDistributions& dataset2, const std::string& what) {
  if (dataset1.num_layers != dataset2.num_layers || dataset1.num_experts != dataset2.num_experts)
    throw input_error(what,
                      "expected activation frequencies of the same shape [L, E], found "
                      "[{}, {}] and [{}, {}]",
                      dataset1.num_layers, dataset1.num_experts, dataset2.num_layers,
                      dataset2.num_experts);
  if (dataset1.num_seqs == 0 || dataset2.num_seqs == 0)
    throw input_error(what, "expected at least one sequence per dataset, found {} and {}",
                      dataset1.num_seqs, dataset2.num_seqs);
  LayerDistributions a = dataset1.mean();
  const LayerDistributions b = dataset2.mean();
  for (size_t i = 0; i < a.data.size(); ++i) a.data[i] -= b.data[i];
  return a;
}

namespace {

std::string num(double v) {
  return fmt::format("{}", v);
}

ExpertSet select_where(const LayerDistributions& scores, std::string rule,
                       std::vector<std::pair<std::string, std::string>> params,
                       const std::vector<double>& threshold_per_layer) {
  ExpertSet s{std::move(rule), std::move(params), {}};
  s.layers.resize(scores.num_layers);
  for (int l = 0; l < scores.num_layers; ++l) {
    const auto row = scores.layer(l);
    for (int e = 0; e < scores.num_experts; ++e)
      if (row[e] > threshold_per_layer[l]) s.layers[l].push_back({e, row[e]});
  }
  return s;
}

}  // namespace

ExpertSet select_by_threshold(const LayerDistributions& delta, double tau) {
  return select_where(delta, "delta_threshold", {{"tau", num(tau)}},
                      std::vector<double>(delta.num_layers, tau));
}

ExpertSet select_by_sigma(const LayerDistributions& delta, double multiplier) {
  MOE_ASSERT(delta.num_experts >= 2, "a standard deviation over {} experts", delta.num_experts);
  std::vector<double> thr(delta.num_layers);
  for (int l = 0; l < delta.num_layers; ++l) {
    const auto row = delta.layer(l);
    const double m = std::accumulate(row.begin(), row.end(), 0.0) / double(row.size());
    double ss = 0;
    for (double v : row) ss += (v - m) * (v - m);
    thr[l] = multiplier * std::sqrt(ss / double(row.size() - 1));
  }
  return select_where(delta, "delta_sigma", {{"multiplier", num(multiplier)}, {"std", "sample"}},
                      thr);
}

ExpertSet multilingual_union(std::span<const std::string> languages,
                             std::span<const ExpertSet> sets) {
  MOE_ASSERT(languages.size() == sets.size(), "{} names for {} sets", languages.size(),
             sets.size());
  if (sets.empty())
    throw input_error("multilingual experts", "expected at least one language, found none");
  const ExpertSet& first = sets[0];
  for (size_t i = 1; i < sets.size(); ++i)
    if (sets[i].rule != first.rule || sets[i].params != first.params ||
        sets[i].layers.size() != first.layers.size())
      throw input_error(fmt::format("multilingual experts, language '{}'", languages[i]),
                        "expected the rule, parameters and layer count of '{}' ({}, {} layers), "
                        "found ({}, {} layers)",
                        languages[0], first.rule, first.layers.size(), sets[i].rule,
                        sets[i].layers.size());
  ExpertSet u{"multilingual_union", {}, {}};
  u.params.emplace_back("member_rule", first.rule);
  for (const auto& [k, v] : first.params) u.params.emplace_back(k, v);
  u.params.emplace_back("languages", fmt::format("{}", fmt::join(languages, ",")));
  u.layers.resize(first.layers.size());
  for (size_t l = 0; l < first.layers.size(); ++l) {
    std::vector<SelectedExpert> all;
    for (const auto& s : sets) all.insert(all.end(), s.layers[l].begin(), s.layers[l].end());
    std::sort(all.begin(), all.end(), [](const SelectedExpert& a, const SelectedExpert& b) {
      return a.expert != b.expert ? a.expert < b.expert : a.score > b.score;
    });
    for (const auto& x : all)
      if (u.layers[l].empty() || u.layers[l].back().expert != x.expert) u.layers[l].push_back(x);
  }
  return u;
}

int Affinity::index_of(const std::string& language) const {
  for (size_t i = 0; i < languages.size(); ++i)
    if (languages[i] == language) return int(i);
  return -1;
}

Affinity normalized_affinity(std::span<const std::string> languages,
                             std::span<const LayerDistributions> frequencies, int top_k) {
  MOE_ASSERT(languages.size() == frequencies.size(), "{} names for {} frequency tables",
             languages.size(), frequencies.size());
  const std::string where = "normalised affinity";
  if (languages.empty())
    throw input_error(where, "expected a non-empty language set S, found {{}}");
  if (std::set<std::string>(languages.begin(), languages.end()).size() != languages.size())
    throw input_error(where, "expected distinct languages in S, found [{}]",
                      fmt::join(languages, ", "));
  Affinity w;
  w.languages.assign(languages.begin(), languages.end());
  w.top_k = top_k;
  w.num_layers = frequencies[0].num_layers;
  w.num_experts = frequencies[0].num_experts;
  for (size_t s = 0; s < frequencies.size(); ++s)
    if (frequencies[s].num_layers != w.num_layers || frequencies[s].num_experts != w.num_experts)
      throw input_error(where + ", language '" + languages[s] + "'",
                        "expected frequencies of shape [{}, {}], found [{}, {}]", w.num_layers,
                        w.num_experts, frequencies[s].num_layers, frequencies[s].num_experts);
  if (top_k < 1 || top_k > w.num_experts)
    throw input_error(where, "expected K in [1, {}], found {}", w.num_experts, top_k);

  const size_t S = languages.size(), L = w.num_layers, E = w.num_experts;
  std::vector<double> fk(S * L * E, 0.0);  // [S, L, E]
  std::vector<int> order(E);
  for (size_t s = 0; s < S; ++s)
    for (size_t l = 0; l < L; ++l) {
      const auto f = frequencies[s].layer(int(l));
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return f[a] > f[b]; });
      for (int i = 0; i < top_k; ++i) fk[(s * L + l) * E + order[i]] = f[order[i]];
    }
  w.weights.assign(S * L * E, 0.0);
  for (size_t l = 0; l < L; ++l)
    for (size_t e = 0; e < E; ++e) {
      double sum = 0;
      for (size_t s = 0; s < S; ++s) sum += fk[(s * L + l) * E + e];
      for (size_t s = 0; s < S; ++s)
        w.weights[(s * L + l) * E + e] = fk[(s * L + l) * E + e] / (sum + 1e-10);
    }
  return w;
}

namespace {

std::vector<std::pair<std::string, std::string>> affinity_params(const Affinity& w) {
  return {{"K", num(w.top_k)}, {"S", fmt::format("{}", fmt::join(w.languages, ","))}};
}

}  // namespace

ExpertSet exclusive_experts(const Affinity& w, std::span<const std::string> targets, double thr) {
  if (targets.empty())
    throw input_error("exclusive experts", "expected a non-empty target set T, found {{}}");
  std::vector<int> t;
  for (const auto& name : targets) {
    const int i = w.index_of(name);
    if (i < 0)
      throw input_error("exclusive experts",
                        "expected target '{}' to be in S = [{}], found it "
                        "missing",
                        name, fmt::join(w.languages, ", "));
    t.push_back(i);
  }
  ExpertSet out{"affinity_exclusive", affinity_params(w), {}};
  out.params.emplace_back("T", fmt::format("{}", fmt::join(targets, ",")));
  out.params.emplace_back("thr", num(thr));
  out.layers.resize(w.num_layers);
  for (int l = 0; l < w.num_layers; ++l)
    for (int e = 0; e < w.num_experts; ++e) {
      double sum = 0;
      for (int s : t) sum += w.at(s, l, e);
      if (sum > thr) out.layers[l].push_back({e, sum});
    }
  return out;
}

ExpertSet shared_experts(const Affinity& w, double thr) {
  ExpertSet out{"affinity_shared", affinity_params(w), {}};
  out.params.emplace_back("thr", num(thr));
  out.layers.resize(w.num_layers);
  const int S = int(w.languages.size());
  for (int l = 0; l < w.num_layers; ++l)
    for (int e = 0; e < w.num_experts; ++e) {
      bool some_positive = false, all_below = true;
      for (int s = 0; s < S; ++s) {
        some_positive |= w.at(s, l, e) > 0;
        all_below &= w.at(s, l, e) < thr;
      }
      if (some_positive && all_below) out.layers[l].push_back({e, w.at(0, l, e)});
    }
  return out;
}

}  // namespace moe::experts
