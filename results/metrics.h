// Metrics over routing distributions (sweeps/METHODS.md B): entropy, Jensen-Shannon divergence, the
// entropy-normalised JSD, divergence from English per layer, cross-language similarity, and
// Pearson/Spearman correlation across languages.
//
// Pure functions over plain double arrays; nothing here knows about models or files. Inputs are
// distributions over E experts (each should sum to 1, but nothing is renormalised here: a caller
// passes exactly what it measured). Conventions (sweeps/METHODS.md B):
//   H(q)      = -sum_e q_e ln(q_e + 1e-10)
//   JSD(p,q)  = 0.5 KL(p||m) + 0.5 KL(q||m), m_e = max(0.5 (p_e + q_e), 1e-10),
//               KL(p||m) = sum_e p_e (ln p_e - ln m_e) with 0 ln 0 = 0 (terms with p_e = 0 vanish)
//   D_HJS     = JSD / max(ln E - 0.5 (H(p) + H(q)), 1e-6)
// Mismatched sizes are caller bugs (MOE_ASSERT), except the sequence counts of a paired
// divergence, which come from user data and raise InputError.
// Thread-safety: pure functions and value types.
#pragma once

#include <span>
#include <string>
#include <vector>

namespace moe::metrics {

inline constexpr double kEntropyEps = 1e-10;      // inside the log of H(q)
inline constexpr double kMixtureFloor = 1e-10;    // floor of m in JSD
inline constexpr double kNormalizerFloor = 1e-6;  // floor of the D_HJS denominator

// One distribution over E experts per layer: [L, E] row-major.
struct LayerDistributions {
  int num_layers = 0;
  int num_experts = 0;
  std::vector<double> data;  // [L, E]

  LayerDistributions() = default;
  LayerDistributions(int layers, int experts, std::vector<double> values);
  std::span<const double> layer(int l) const;
};

// One distribution per (sequence, layer) of a corpus: [N, L, E] row-major (e.g. the per-sequence
// expert importance q_i, or the per-sequence activation frequency a_i / L_i).
struct SequenceDistributions {
  int num_seqs = 0;
  int num_layers = 0;
  int num_experts = 0;
  std::vector<double> data;  // [N, L, E]

  SequenceDistributions() = default;
  SequenceDistributions(int seqs, int layers, int experts, std::vector<double> values);
  std::span<const double> at(int seq, int layer) const;
  // Mean over sequences: [L, E]. REQUIRES: num_seqs > 0.
  LayerDistributions mean() const;
};

double entropy(std::span<const double> q);
double jsd(std::span<const double> p, std::span<const double> q);
// D_HJS with E = p.size().
double normalized_jsd(std::span<const double> p, std::span<const double> q);

// Divergence from English per layer.
struct DivergenceCurve {
  // "paired": mean over index-aligned sequence pairs i of D_HJS(q_i^eng, q_i^lang).
  // "unpaired_corpus_mean": D_HJS between the two corpora's mean distributions (sequences could
  // not be paired; a different quantity, never to be mixed with paired curves).
  std::string method;
  bool paired = false;
  int num_pairs = 0;              // paired: N; unpaired: 0
  int reference_seqs = 0;         // sequences in the English corpus
  int language_seqs = 0;          // sequences in the other language's corpus
  std::vector<double> per_layer;  // [L]
};

// Paired divergence. Throws InputError (naming `what`, e.g. "FLORES dev zho_Hans vs eng_Latn")
// when the corpora do not have the same number of sequences, or one is empty.
DivergenceCurve paired_divergence(const SequenceDistributions& reference,
                                  const SequenceDistributions& language, const std::string& what);
// Unpaired divergence of corpus-mean distributions (flagged as such in the result).
DivergenceCurve unpaired_divergence(const SequenceDistributions& reference,
                                    const SequenceDistributions& language, const std::string& what);

// Mean of a curve over layers [first, last] (0-indexed, inclusive), e.g. the middle layers whose
// divergence the first study correlates with accuracy. REQUIRES: 0 <= first <= last < L.
double mean_in_layers(const DivergenceCurve& curve, int first, int last);

// Cross-language similarity per layer: S[l][a][b] = 1 - JSD(mean_a[l], mean_b[l]) (plain JSD,
// not normalised, so S is in [1 - ln 2, 1] and S[l][a][a] = 1).
// Returns [L, A, A] row-major.
std::vector<double> similarity_matrices(std::span<const LayerDistributions> languages);

// Correlation across languages. Fewer than 2 points or a constant input give NaN (undefined).
double pearson(std::span<const double> x, std::span<const double> y);
// Pearson correlation of the ranks; ties get the average of the ranks they span.
double spearman(std::span<const double> x, std::span<const double> y);
// 1-based ranks with ties averaged, e.g. {10, 20, 20, 5} -> {2, 3.5, 3.5, 1}.
std::vector<double> average_ranks(std::span<const double> x);

struct LayerCorrelation {
  int layer = 0;
  int n = 0;  // languages
  double pearson = 0;
  double spearman = 0;
};
// For each layer l: correlation across languages a of divergence[a][l] and score[a].
// divergence: [A][L] (one curve per language), score: [A].
std::vector<LayerCorrelation> correlate_per_layer(std::span<const DivergenceCurve> divergence,
                                                  std::span<const double> score);

}  // namespace moe::metrics
