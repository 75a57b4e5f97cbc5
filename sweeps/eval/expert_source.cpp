#include "sweeps/eval/expert_source.h"

#include <fmt/format.h>

#include "results/h5.h"
#include "runtime/core/error.h"

namespace moe::eval {

std::vector<std::string> list_expert_sets(const std::filesystem::path& file) {
  const h5::File f = h5::File::open(file);
  const h5::Group root = f.root();
  std::vector<std::string> out;
  if (!root.has("experts")) return out;
  const h5::Group ex = root.open_group("experts");
  for (const std::string& model : ex.children()) {
    const h5::Group m = ex.open_group(model);
    for (const std::string& name : m.children()) out.push_back(model + "/" + name);
  }
  return out;
}

experts::ExpertSet read_expert_set(const std::filesystem::path& file, const std::string& set) {
  const std::vector<std::string> all = list_expert_sets(file);
  std::string path;
  for (const std::string& s : all)
    if (s == set || s.substr(s.find('/') + 1) == set) {
      if (!path.empty())
        throw input_error(file.string(),
                          "expert set '{}' is ambiguous ({} and {}): write model/name", set, path,
                          s);
      path = s;
      if (s == set) break;
    }
  if (path.empty()) {
    std::string list;
    for (const auto& s : all) list += (list.empty() ? "" : ", ") + s;
    throw input_error(file.string(), "expected expert set '{}' under /experts, found {}", set,
                      list.empty() ? "no expert sets" : list);
  }
  const h5::File f = h5::File::open(file);
  const h5::Group g = f.root().open_group("experts/" + path);
  const std::string where = fmt::format("{}: /experts/{}", file.string(), path);
  experts::ExpertSet out;
  out.rule = g.has_attr("rule") ? g.attr_string("rule") : "";
  if (g.has_attr("params"))
    for (const std::string& k : g.attr_strings("params"))
      out.params.emplace_back(k, g.has_attr("param_" + k) ? g.attr_string("param_" + k) : "");
  // A sweep's merged file keeps the set as its unit wrote it: tables/experts (layer, expert,
  // score) and arrays/per_layer_count, the rule's parameters as notes.
  const bool sweep = g.has("tables/experts") && g.has("arrays/per_layer_count");
  const h5::Group cols = sweep ? g.open_group("tables/experts") : g.open_group(".");
  for (const char* name : {"layer", "expert", "score"})
    if (!cols.has(name))
      throw input_error(where, "expected dataset '{}' of an expert set, found none", name);
  if (!sweep && !g.has("per_layer_count"))
    throw input_error(where, "expected dataset 'per_layer_count' of an expert set, found none");
  const auto layer = cols.read<int64_t>("layer");
  const auto expert = cols.read<int64_t>("expert");
  const auto score = cols.read<double>("score");
  const auto count = sweep ? g.open_group("arrays").read<int64_t>("per_layer_count")
                           : g.read<int64_t>("per_layer_count");
  if (layer.size() != expert.size() || layer.size() != score.size())
    throw input_error(where,
                      "expected layer, expert and score columns of equal length, found {}, "
                      "{} and {}",
                      layer.size(), expert.size(), score.size());
  out.layers.resize(count.size());
  for (size_t i = 0; i < layer.size(); ++i) {
    if (layer[i] < 0 || layer[i] >= int64_t(count.size()))
      throw input_error(where, "row {}: expected a layer in [0, {}), found {}", i, count.size(),
                        layer[i]);
    out.layers[size_t(layer[i])].push_back(experts::SelectedExpert{int(expert[i]), score[i]});
  }
  for (size_t l = 0; l < count.size(); ++l)
    if (int64_t(out.layers[l].size()) != count[l])
      throw input_error(where, "layer {}: per_layer_count says {} experts, the table has {}", l,
                        count[l], out.layers[l].size());
  return out;
}

routing::LayerExperts layer_experts(const experts::ExpertSet& set) {
  routing::LayerExperts out(set.layers.size());
  for (size_t l = 0; l < set.layers.size(); ++l)
    for (const experts::SelectedExpert& e : set.layers[l])
      out[l].push_back(routing::ExpertScore{e.expert, e.score});
  return out;
}

}  // namespace moe::eval
