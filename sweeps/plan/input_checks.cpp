#include "sweeps/plan/input_checks.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "runtime/io/model_config.h"

namespace moe::sweeps {

namespace {

bool sets_axis(const GridFactor& f, const std::string& axis) {
  return std::find(f.axes.begin(), f.axes.end(), axis) != f.axes.end();
}

// The models a layer-range choice of `layers` is combined with in block `blk`: its own model
// when the two are zipped, else every choice of the block's model factor, else every model.
std::vector<int> models_with(const SweepConfig& c, const GridBlock& blk, const GridFactor& layers,
                             const PointDraft& choice) {
  std::vector<int> out;
  if (sets_axis(layers, "model")) {
    out.push_back(c.model_index(*choice.model));
    return out;
  }
  // The config loader refuses an axis given twice in a block: at most one factor sets `model`.
  for (const GridFactor& f : blk.factors)
    if (sets_axis(f, "model"))
      for (const PointDraft& m : f.choices) out.push_back(c.model_index(*m.model));
  if (out.empty())
    for (size_t m = 0; m < c.models.size(); ++m) out.push_back(int(m));
  return out;
}

}  // namespace

void check_layers(const SweepConfig& c) {
  std::map<int, int> moe_layers;  // model index -> MoE layers of its checkpoint
  auto moe_layers_of = [&](int model) {
    if (auto it = moe_layers.find(model); it != moe_layers.end()) return it->second;
    const ModelSpec& m = c.models[size_t(model)];
    int n = 0;
    try {
      n = io::load_model_config(m.path).num_moe_layers();
    } catch (const InputError& e) {
      throw InputError(m.path_where,
                       fmt::format("cannot read the checkpoint's config.json, which the grid's "
                                   "layer ranges are checked against: {}",
                                   e.what()));
    }
    return moe_layers[model] = n;
  };
  const int first = c.layers_one_based ? 1 : 0;  // as the config writes layers
  for (const GridBlock& blk : c.grid) {
    for (const GridFactor& f : blk.factors) {
      if (!sets_axis(f, "layers")) continue;
      for (const PointDraft& d : f.choices) {
        if (!d.layers || d.layers->empty()) continue;
        for (int model : models_with(c, blk, f, d)) {
          const int n = moe_layers_of(model);
          if (d.layers->end < n) continue;
          const std::string layers =
              n > 0 ? fmt::format("{}-{}", first, n - 1 + first) : std::string("none");
          throw InputError(
              d.layers_where,
              expected_found(fmt::format("a range within the MoE layers of model '{}' ({}, "
                                         "{}; {} MoE layers in {})",
                                         c.models[size_t(model)].name, layers,
                                         c.layers_one_based ? "1-indexed" : "0-indexed", n,
                                         (c.models[size_t(model)].path / "config.json").string()),
                             d.layers_text));
        }
      }
    }
  }
}

}  // namespace moe::sweeps
