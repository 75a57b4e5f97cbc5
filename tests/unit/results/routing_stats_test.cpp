// Routing statistics groups in HDF5: write/read round trip, derived views, bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "results/h5.h"
#include "results/routing_stats.h"
#include "runtime/core/error.h"

namespace moe::results {
namespace {

RoutingStats small_stats() {
  RoutingStats s;
  s.importance = "softmax";
  s.tokens = "content";
  s.consistency_pairs = 7;
  s.seed = 18446744073709551615ull;  // u64 max survives the text attribute
  s.num_seqs = 2;
  s.num_layers = 2;
  s.num_experts = 3;
  s.top_k = 1;
  s.layers = {1, 3};
  s.counted_tokens = {4, 1};
  for (int i = 0; i < 12; ++i) {
    s.importance_q.push_back(float(i) / 12);
    s.frequency.push_back(float(i % 3) / 3);
  }
  s.entropy = {0.1f, 0.2f, 0.3f, 0.4f};
  s.importance_entropy = {0.5f, 0.6f, 0.7f, 0.8f};
  s.consistency = {0.25f, 0.5f, std::numeric_limits<float>::quiet_NaN(),
                   std::numeric_limits<float>::quiet_NaN()};
  s.activation_tokens = {1, 2, 2, 5, 0, 0};
  s.total_tokens = {5, 5};
  s.raw_offsets = {0, 4, 5};
  s.raw_logits.assign(5 * 2 * 3, 0x3f80);
  return s;
}

TEST(RoutingStatsFile, RoundTripKeepsEveryArrayAndLabel) {
  const auto path = std::filesystem::temp_directory_path() / "moe_routing_stats_rt.h5";
  const RoutingStats s = small_stats();
  const Labels labels{{"model", "tiny"}, {"language", "de"}};
  {
    auto f = h5::File::create(path);
    write_routing_stats(f.root().group("routing/tiny/flores/de"), s, labels);
  }
  auto f = h5::File::open(path);
  Labels got_labels;
  const RoutingStats r = read_routing_stats(f.root().open_group("routing/tiny/flores/de"),
                                            &got_labels);
  EXPECT_EQ(got_labels, labels);
  EXPECT_EQ(r.importance, "softmax");
  EXPECT_EQ(r.tokens, "content");
  EXPECT_EQ(r.seed, s.seed);
  EXPECT_EQ(r.layers, s.layers);
  EXPECT_EQ(r.importance_q, s.importance_q);
  EXPECT_EQ(r.frequency, s.frequency);
  EXPECT_EQ(r.activation_tokens, s.activation_tokens);
  EXPECT_EQ(r.raw_logits, s.raw_logits);
  EXPECT_EQ(r.raw_offsets, s.raw_offsets);
  EXPECT_TRUE(std::isnan(r.consistency[2]));
  std::filesystem::remove(path);
}

TEST(RoutingStatsFile, LayerMeanSkipsUndefinedSequences) {
  const RoutingStats s = small_stats();
  const auto m = s.layer_mean(s.consistency);
  EXPECT_DOUBLE_EQ(m[0], 0.25);
  EXPECT_DOUBLE_EQ(m[1], 0.5);
  const auto e = s.layer_mean(s.entropy);
  EXPECT_NEAR(e[0], 0.2, 1e-7);  // (0.1 + 0.3) / 2
}

TEST(RoutingStatsFile, PooledFrequencyIsCountOverTokens) {
  const auto f = small_stats().pooled_frequency();
  EXPECT_DOUBLE_EQ(f.layer(0)[1], 0.4);
  EXPECT_DOUBLE_EQ(f.layer(1)[0], 1.0);
}

TEST(RoutingStatsFile, MisShapedArrayIsAnInputErrorNamingTheObject) {
  const auto path = std::filesystem::temp_directory_path() / "moe_routing_stats_bad.h5";
  {
    auto f = h5::File::create(path);
    RoutingStats s = small_stats();
    auto g = f.root().group("r");
    write_routing_stats(g, s, {});
    H5Ldelete(g.id(), "frequency", H5P_DEFAULT);
    g.write("frequency", std::vector<float>(16, 0.0f), {2, 2, 4});
  }
  auto f = h5::File::open(path);
  try {
    read_routing_stats(f.root().open_group("r"));
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("/r/frequency"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("shape [2, 2, 3]"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace moe::results
