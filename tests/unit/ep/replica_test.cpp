// Replica: a model split over R ranks (threads, ThreadCommunicator test double) gives the same
// greedy tokens, loglikelihoods, logits (bitwise, reference backend), selected experts, routing
// statistics and interventions as the whole model in one process, for qwen3_moe and olmoe;
// each rank holds only its experts; errors on one rank reach every rank.
#include <gtest/gtest.h>

#include "expert_parallel/replica.h"
#include "tests/unit/ep/ep_equivalence.h"
#include "tests/unit/ep/thread_communicator.h"
#include "tests/unit/models/tiny_model.h"

namespace moe::ep {
namespace {

using moe::testing::TinySpec;
using testing::Outcome;
using testing::run_ranks;

ModelLoadOptions ref_options() {
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  return o;
}

Outcome reference(const TinySpec& s, bool intervene) {
  auto m = build_model(moe::testing::tiny_config(s), moe::testing::tiny_weights(s), ref_options());
  return testing::run_requests(m, testing::make_requests(s.vocab), intervene,
                               [](const std::function<void()>& f) { f(); });
}

void check_replica(const TinySpec& s, int R, bool intervene) {
  const Outcome ref = reference(s, intervene);
  const io::ModelConfig config = moe::testing::tiny_config(s);
  const MapWeights weights = moe::testing::tiny_weights(s);
  run_ranks(R, [&](std::shared_ptr<Communicator> comm) {
    ReplicaOptions ro;
    ro.expert_parallel = R;
    Replica rep(comm, ro);
    auto model = rep.build_model(config, weights, ref_options());
    ASSERT_NE(rep.dispatcher(*model), nullptr);
    // Only this rank's experts are loaded.
    const ExpertPlacement p = rep.placement_for(config);
    for (int l = 0; l < model->num_moe_layers(); ++l)
      for (int e = 0; e < s.experts; ++e)
        EXPECT_EQ(model->experts(l).down[size_t(e)].defined(), p.owner(l, e) == rep.rank())
            << "layer " << l << " expert " << e;

    const auto mine = testing::share(testing::make_requests(s.vocab), rep.rank(), R);
    Outcome got = testing::run_requests(
        model, mine, intervene, [&](const std::function<void()>& f) { rep.run(*model, f); });
    testing::compare(ref, got, 0.0, fmt::format("R={} rank {}", R, rep.rank()));
    // Routing statistics summed over the replica equal the single-process counts.
    std::vector<int64_t> counts = got.rec.counts;
    counts.resize(ref.rec.counts.size(), 0);
    allreduce_sum(rep.comm(), counts);
    EXPECT_EQ(counts, ref.rec.counts) << "R=" << R << " rank " << rep.rank();
  });
}

TEST(Replica, Qwen3MoeOverTwoThreeFourRanksEqualsOneProcessBitwise) {
  TinySpec s;
  for (int R : {2, 3, 4}) check_replica(s, R, false);
}

TEST(Replica, OlmoeOverTwoAndFourRanksEqualsOneProcessBitwise) {
  TinySpec s;
  s.family = io::Family::kOlmoe;
  for (int R : {2, 4}) check_replica(s, R, false);
}

TEST(Replica, PerSequenceInterventionIsIdenticalAcrossRanks) {
  TinySpec s;
  // The intervention must change routing, or the comparison would not test it.
  EXPECT_GT(testing::count_changed_records(reference(s, false), reference(s, true)), 0);
  check_replica(s, 3, true);
}

TEST(Replica, Bf16CheckpointOverTwoRanksEqualsOneProcessBitwise) {
  TinySpec s;
  s.dtype = DType::BF16;
  check_replica(s, 2, true);
}

TEST(Replica, SplitMakesReplicasOfConsecutiveRanks) {
  run_ranks(4, [](std::shared_ptr<Communicator> world) {
    ReplicaOptions ro;
    ro.expert_parallel = 2;
    Replica rep = Replica::split(*world, ro);
    EXPECT_EQ(rep.size(), 2);
    EXPECT_EQ(rep.count(), 2);
    EXPECT_EQ(rep.index(), world->rank() / 2);
    EXPECT_EQ(rep.rank(), world->rank() % 2);
    // The replica's communicator reaches exactly its two ranks.
    int64_t who = world->rank();
    std::vector<int64_t> v{who};
    allreduce_sum(rep.comm(), v);
    EXPECT_EQ(v[0], rep.index() == 0 ? 0 + 1 : 2 + 3);
    // Results of any size gathered over the replica, in rank order.
    const auto got = allgather_strings(rep.comm(), std::string(size_t(world->rank()), 'x'));
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].size(), size_t(2 * rep.index()));
    EXPECT_EQ(got[1].size(), size_t(2 * rep.index() + 1));
    // The same to the leader only.
    const auto led = gather_strings(rep.comm(), std::string(size_t(world->rank()), 'y'), 0);
    ASSERT_EQ(led.size(), rep.rank() == 0 ? 2u : 0u);
    if (rep.rank() == 0) {
      EXPECT_EQ(led[0], std::string(size_t(2 * rep.index()), 'y'));
      EXPECT_EQ(led[1], std::string(size_t(2 * rep.index() + 1), 'y'));
    }
    // Strings travel in padded 4 KiB blocks: sizes just below, at and above block boundaries,
    // with contents that tell every byte's position and sender apart.
    auto text = [](int64_t bytes, int64_t from) {
      std::string t(size_t(bytes), '\0');
      for (int64_t i = 0; i < bytes; ++i) t[size_t(i)] = char((i * 7 + from * 31) % 251);
      return t;
    };
    for (int64_t base : {int64_t(4095), int64_t(4096), int64_t(8191), int64_t(12289)}) {
      const int64_t me = world->rank();
      const auto all = allgather_strings(rep.comm(), text(base + me, me));
      const auto to_leader = gather_strings(rep.comm(), text(base - me, me), 0);
      ASSERT_EQ(all.size(), 2u);
      ASSERT_EQ(to_leader.size(), rep.rank() == 0 ? 2u : 0u);
      for (int r = 0; r < 2; ++r) {
        const int64_t from = 2 * rep.index() + r;
        EXPECT_EQ(all[size_t(r)], text(base + from, from)) << base << " from " << from;
        if (rep.rank() == 0) {
          EXPECT_EQ(to_leader[size_t(r)], text(base - from, from)) << base << " from " << from;
        }
      }
    }
  });
}

TEST(Replica, RanksThatDoNotDivideTheWorldAreAnInputError) {
  run_ranks(3, [](std::shared_ptr<Communicator> world) {
    ReplicaOptions ro;
    ro.expert_parallel = 2;
    ro.where = "configs/x.yaml: models.m.expert_parallel";
    try {
      Replica::split(*world, ro);
      ADD_FAILURE() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where(), ro.where);
      EXPECT_NE(std::string(e.what()).find("divides the 3 ranks, found 2"), std::string::npos)
          << e.what();
    }
  });
}

TEST(Replica, AFailureOnOneRankIsRaisedOnEveryRank) {
  TinySpec s;
  const io::ModelConfig config = moe::testing::tiny_config(s);
  const MapWeights weights = moe::testing::tiny_weights(s);
  run_ranks(3, [&](std::shared_ptr<Communicator> comm) {
    ReplicaOptions ro;
    ro.expert_parallel = 3;
    Replica rep(comm, ro);
    auto model = rep.build_model(config, weights, ref_options());
    Engine engine(model, TextDecoder{});
    // Rank 1 sends a bad request (empty prompt) while the others generate normally.
    std::vector<GenerateRequest> reqs(1);
    reqs[0].prompt = rep.rank() == 1 ? std::vector<int32_t>{} : std::vector<int32_t>{1, 2, 3};
    reqs[0].max_new_tokens = 3;
    try {
      rep.run(*model, [&] { engine.generate(reqs); });
      ADD_FAILURE() << "rank " << rep.rank() << ": no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where(), "generate request 0") << "rank " << rep.rank();
    }
    // Something other than bad input: the others see a ReplicaError naming rank 2.
    try {
      rep.run(*model, [&] {
        if (rep.rank() == 2) throw std::runtime_error("disk full");
        engine.generate(std::vector<GenerateRequest>{});
      });
      ADD_FAILURE() << "rank " << rep.rank() << ": no error";
    } catch (const ReplicaError& e) {
      EXPECT_NE(rep.rank(), 2);
      EXPECT_EQ(e.failed_rank(), 2);
      EXPECT_NE(std::string(e.what()).find("disk full"), std::string::npos);
    } catch (const std::runtime_error& e) {
      EXPECT_EQ(rep.rank(), 2);
    }
    // The replica still works afterwards.
    std::vector<GenerateRequest> ok(1);
    ok[0].prompt = {4, 5};
    ok[0].max_new_tokens = 2;
    std::vector<GenerateResult> res;
    rep.run(*model, [&] { res = engine.generate(ok); });
    EXPECT_EQ(res.size(), 1u);
  });
}

TEST(Replica, ACancelFromOneRankReachesTheOthersThroughTheExchanges) {
  // What a sweep's model runner does to abandon a batch: the leader's step check calls cancel()
  // and gives up before its third step; the other rank's step check sees cancelled() a step or
  // so later and gives up too, before its first request (6 steps) is done, rather than after
  // all eight requests (48 steps).
  TinySpec s;
  const io::ModelConfig config = moe::testing::tiny_config(s);
  const MapWeights weights = moe::testing::tiny_weights(s);
  run_ranks(2, [&](std::shared_ptr<Communicator> comm) {
    ReplicaOptions ro;
    ro.expert_parallel = 2;
    Replica rep(comm, ro);
    auto model = rep.build_model(config, weights, ref_options());
    EngineOptions eo;
    eo.max_batch_seqs = 1;  // one request at a time: rank 1 finishes its first after 6 steps
    Engine engine(model, TextDecoder{}, eo);
    const bool leader = rep.rank() == 0;
    std::vector<GenerateRequest> reqs(leader ? 1 : 8);
    for (size_t i = 0; i < reqs.size(); ++i) {
      reqs[i].prompt = {int32_t(1 + i), 2, 3};
      reqs[i].max_new_tokens = leader ? 20 : 6;
    }
    int steps = 0;
    int64_t finished = 0;
    rep.cancel();  // outside run(): nothing
    EXPECT_FALSE(rep.cancelled());
    engine.set_step_check([&] {
      if (leader && steps == 2) rep.cancel();  // asks the others, and gives up at once
      if ((leader && steps == 2) || (!leader && rep.cancelled()))
        throw std::runtime_error("given up");
      ++steps;
    });
    try {
      rep.run(*model,
              [&] { engine.generate(reqs, {}, [&](int64_t done, int64_t) { finished = done; }); });
      ADD_FAILURE() << "rank " << rep.rank() << ": no error";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "given up") << "rank " << rep.rank();
    }
    EXPECT_EQ(finished, 0) << "rank " << rep.rank();
    EXPECT_LT(steps, 6) << "rank " << rep.rank();
    EXPECT_FALSE(rep.cancelled());
    // The next run starts without the request.
    engine.set_step_check([&] { EXPECT_FALSE(rep.cancelled()); });
    std::vector<GenerateResult> res;
    rep.run(*model, [&] { res = engine.generate(reqs); });
    EXPECT_EQ(res.size(), reqs.size());
  });
}

TEST(Replica, OneRankInstallsNoDispatcherAndCommunicatesNothing) {
  TinySpec s;
  auto comm = std::make_shared<LocalCommunicator>();
  Replica rep(comm, ReplicaOptions{});
  auto model =
      rep.build_model(moe::testing::tiny_config(s), moe::testing::tiny_weights(s), ref_options());
  EXPECT_EQ(rep.dispatcher(*model), nullptr);
  for (int l = 0; l < model->num_moe_layers(); ++l)
    for (int e = 0; e < s.experts; ++e) EXPECT_TRUE(model->experts(l).down[size_t(e)].defined());
  bool ran = false;
  rep.run(*model, [&] { ran = true; });
  EXPECT_TRUE(ran);
}

}  // namespace
}  // namespace moe::ep
