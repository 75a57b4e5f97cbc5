// ExpertPlacement: contiguous (even and uneven), round robin, explicit owner tables from JSON,
// and the errors for bad tables, against hand-written expectations.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>

#include <unistd.h>

#include "expert_parallel/communicator.h"
#include "expert_parallel/placement.h"
#include "runtime/core/error.h"

namespace moe::ep {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Placement, ContiguousBlocksWhenRanksDivideExperts) {
  const auto p = ExpertPlacement::contiguous(2, 8, 4);
  EXPECT_EQ(p.experts_of(0, 0), (std::vector<int>{0, 1}));
  EXPECT_EQ(p.experts_of(1, 3), (std::vector<int>{6, 7}));
  EXPECT_EQ(p.count_held(2), 4);  // 2 experts x 2 layers
}

TEST(Placement, ContiguousGivesTheFirstRanksOneMoreWhenUneven) {
  const auto p = ExpertPlacement::contiguous(1, 10, 4);  // 3, 3, 2, 2
  EXPECT_EQ(p.experts_of(0, 0), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(p.experts_of(0, 1), (std::vector<int>{3, 4, 5}));
  EXPECT_EQ(p.experts_of(0, 2), (std::vector<int>{6, 7}));
  EXPECT_EQ(p.experts_of(0, 3), (std::vector<int>{8, 9}));
}

TEST(Placement, RoundRobinAndHoldFunction) {
  const auto p = ExpertPlacement::round_robin(1, 5, 2);
  EXPECT_EQ(p.experts_of(0, 1), (std::vector<int>{1, 3}));
  const auto hold = p.hold_fn(0);
  EXPECT_TRUE(hold(0, 4));
  EXPECT_FALSE(hold(0, 3));
}

TEST(Placement, MoreRanksThanExpertsIsAnInputError) {
  EXPECT_NE(error_of([] {
              ExpertPlacement::contiguous(1, 4, 8);
            }).find("expected at most as many ranks per replica as experts per layer (4), found 8"),
            std::string::npos);
}

TEST(Placement, ExplicitTableIsValidated) {
  EXPECT_NE(error_of([] {
              ExpertPlacement::from_owners({{0, 1}, {0, 2}}, 2, "t.json");
            }).find("t.json: owners[1][1]: expected a rank in [0, 2), found 2"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              ExpertPlacement::from_owners({{0, 1}, {0}}, 2, "t.json");
            }).find("owners[1]: expected 2 experts like owners[0], found 1"),
            std::string::npos);
}

class PlacementJson : public ::testing::Test {
 protected:
  std::filesystem::path write(const std::string& text) {
    const auto p =
        std::filesystem::temp_directory_path() /
        ("moe_placement_" + std::to_string(::getpid()) + "_" + std::to_string(n_++) + ".json");
    std::ofstream(p) << text;
    files_.push_back(p);
    return p;
  }
  void TearDown() override {
    for (const auto& f : files_) std::filesystem::remove(f);
  }
  std::vector<std::filesystem::path> files_;
  int n_ = 0;
};

TEST_F(PlacementJson, OneRowPerLayerOrOneRowForAll) {
  const auto a =
      ExpertPlacement::load_json(write(R"({"owners": [[1, 0, 1], [0, 0, 1]]})"), 2, 3, 2);
  EXPECT_EQ(a.experts_of(0, 1), (std::vector<int>{0, 2}));
  EXPECT_EQ(a.experts_of(1, 0), (std::vector<int>{0, 1}));
  const auto b = ExpertPlacement::parse(write(R"({"owners": [1, 1, 0]})").string(), 3, 3, 2, "k");
  for (int l = 0; l < 3; ++l) EXPECT_EQ(b.experts_of(l, 0), (std::vector<int>{2}));
}

TEST_F(PlacementJson, BadFilesNameTheKeyAndWhatWasFound) {
  EXPECT_NE(
      error_of([&] {
        ExpertPlacement::load_json(write(R"({"owners": [[0, 1]]})"), 2, 2, 2);
      }).find("key 'owners': expected one row per MoE layer (2) or a single row, found 1 rows"),
      std::string::npos);
  EXPECT_NE(error_of([&] {
              ExpertPlacement::load_json(write(R"({"owners": [0, "x"]})"), 1, 2, 2);
            }).find("key 'owners[1]': expected an integer rank, found \"x\""),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ExpertPlacement::load_json(write(R"({"owners": [0, 1)"), 1, 2, 2);
            }).find("expected JSON, found a syntax error"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              ExpertPlacement::load_json(write(R"({"owner": []})"), 1, 2, 2);
            }).find("key 'owners': expected an array of owner rows, found none"),
            std::string::npos);
  EXPECT_NE(
      error_of([] { ExpertPlacement::parse("striped", 1, 2, 2, "cfg.yaml: expert_placement"); })
          .find("cfg.yaml: expert_placement: expected 'contiguous', 'round_robin' or a .json "
                "owner table, found 'striped'"),
      std::string::npos);
}

TEST(LocalCommunicator, CollectivesOfOneRankCopyOrDoNothing) {
  LocalCommunicator c;
  const float send[] = {1, 2, 3, 4};
  float recv[4] = {};
  const int64_t counts[] = {2}, sd[] = {1}, rd[] = {2};
  c.alltoallv(send, counts, sd, recv, counts, rd, sizeof(float));
  EXPECT_EQ(recv[2], 2);
  EXPECT_EQ(recv[3], 3);
  int64_t v = 5;
  c.allreduce(&v, 1, DType::I64, ReduceOp::kSum);
  EXPECT_EQ(v, 5);
  EXPECT_EQ(c.split(3, 0)->size(), 1);
}

}  // namespace
}  // namespace moe::ep
