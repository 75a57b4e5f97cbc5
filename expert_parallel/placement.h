// ExpertPlacement: which rank of a replica holds each expert of each MoE layer.
//
// Kinds:
//   contiguous   (default) rank r holds a contiguous block of experts in every MoE layer. With
//                E % R == 0 that is [r E/R, (r+1) E/R); otherwise the first E % R ranks hold
//                one expert more (uneven, still dropless).
//   round_robin  expert e lives on rank e % R.
//   explicit     an owner table owner[moe_layer][expert] (e.g. to balance measured loads),
//                read from a JSON file: {"owners": [[r, r, ...], ...]} with one row per MoE
//                layer, or a single row used for every layer.
// Every rank must hold at least one expert of every layer only for `contiguous`/`round_robin`
// (R <= E is checked); an explicit table may leave a rank without experts in a layer.
// The placement is a plain value computed identically on every rank (no communication).
// Thread-safety: immutable after construction; safe to share.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace moe::ep {

class ExpertPlacement {
 public:
  ExpertPlacement() = default;
  static ExpertPlacement contiguous(int num_moe_layers, int num_experts, int ranks);
  static ExpertPlacement round_robin(int num_moe_layers, int num_experts, int ranks);
  // owner: [num_moe_layers][num_experts] rank of each expert, each in [0, ranks). `where` names
  // the source for errors (InputError on a bad table).
  static ExpertPlacement from_owners(std::vector<std::vector<int>> owner, int ranks,
                                     const std::string& where);
  // The JSON file described above, checked against the model's dimensions.
  static ExpertPlacement load_json(const std::filesystem::path& file, int num_moe_layers,
                                   int num_experts, int ranks);
  // "contiguous", "round_robin" or a path to a JSON owner table; InputError naming `where`.
  static ExpertPlacement parse(const std::string& spec, int num_moe_layers, int num_experts,
                               int ranks, const std::string& where);

  int num_moe_layers() const { return int(owner_.size()); }
  int num_experts() const { return owner_.empty() ? 0 : int(owner_[0].size()); }
  int ranks() const { return ranks_; }
  int owner(int moe_layer, int expert) const { return owner_[size_t(moe_layer)][size_t(expert)]; }
  // [num_experts] owner of each expert of one layer.
  std::span<const int> owners(int moe_layer) const { return owner_[size_t(moe_layer)]; }
  // Global ids held by `rank` in `moe_layer`, ascending.
  std::vector<int> experts_of(int moe_layer, int rank) const;
  // Experts held by `rank` summed over layers.
  int64_t count_held(int rank) const;
  // For ModelLoadOptions::hold_expert: true iff `rank` holds (moe_layer, expert).
  std::function<bool(int moe_layer, int expert)> hold_fn(int rank) const;

 private:
  std::vector<std::vector<int>> owner_;  // [L][E]
  int ranks_ = 1;
};

}  // namespace moe::ep
