// Dispatcher against the local expert path (Backend::moe_experts on a process holding every
// expert): for R = 1..4 ranks (threads, ThreadCommunicator test double), uneven token counts,
// ranks with no tokens, ranks that run different numbers of steps, uneven and explicit
// placements, f32 and bf16-emulating backends. The reference backend computes every row on its
// own and the dispatcher sums in top-k order, so outputs must be bitwise equal.
#include <gtest/gtest.h>

#include <cstring>

#include "expert_parallel/dispatcher.h"
#include "runtime/core/random.h"
#include "tests/unit/ep/thread_communicator.h"

namespace moe::ep {
namespace {

using testing::run_ranks;

struct Case {
  int E = 8, k = 3, H = 16, I = 12, layers = 2;
  bool bf16 = false;
  uint64_t seed = 7;
};

std::shared_ptr<Backend> backend(const Case& c) {
  BackendOptions o;
  o.name = "cpu-ref";
  o.bf16_rounding = c.bf16;
  return make_backend(o);
}

Tensor random(Rng& rng, Shape shape, double scale) {
  Tensor t = Tensor::empty(DType::F32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = float(scale * rng.normal());
  return t;
}

// Every layer's experts; `hold(layer, e)` false leaves expert e undefined.
std::vector<ExpertWeights> experts(const Case& c, const std::function<bool(int, int)>& hold) {
  std::vector<ExpertWeights> out;
  for (int l = 0; l < c.layers; ++l) {
    Rng rng(c.seed * 1000 + uint64_t(l));
    ExpertWeights w;
    w.hidden = c.H;
    w.intermediate = c.I;
    w.gate.resize(size_t(c.E));
    w.up.resize(size_t(c.E));
    w.down.resize(size_t(c.E));
    for (int e = 0; e < c.E; ++e) {
      Tensor g = random(rng, {c.I, c.H}, 0.3), u = random(rng, {c.I, c.H}, 0.3),
             d = random(rng, {c.H, c.I}, 0.3);
      if (hold && !hold(l, e)) continue;
      w.gate[size_t(e)] = g;
      w.up[size_t(e)] = u;
      w.down[size_t(e)] = d;
    }
    out.push_back(std::move(w));
  }
  return out;
}

// The tokens of one rank's call: x [T, H], experts [T, k] (distinct per token), weights [T, k].
struct Tokens {
  Tensor x, ex, w;
};
Tokens tokens(const Case& c, int64_t T, uint64_t seed) {
  Rng rng(seed);
  Tokens t{random(rng, {T, c.H}, 1.0), Tensor::empty(DType::I32, {T, c.k}),
           Tensor::empty(DType::F32, {T, c.k})};
  for (int64_t i = 0; i < T; ++i) {
    const auto pick = sample_without_replacement(size_t(c.E), size_t(c.k), rng);
    for (int j = 0; j < c.k; ++j) {
      t.ex.data<int32_t>()[i * c.k + j] = int32_t(pick[size_t(j)]);
      t.w.data<float>()[i * c.k + j] = float(rng.uniform());
    }
  }
  return t;
}

Tensor local_reference(const Case& c, int layer, const Tokens& t) {
  auto be = backend(c);
  const auto all = experts(c, {});
  Tensor out = Tensor::empty(DType::F32, {t.x.size(0), c.H});
  be->moe_experts(t.x, t.ex, t.w, all[size_t(layer)], out);
  return out;
}

void expect_bitwise(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_EQ(a.data<float>()[i], b.data<float>()[i]) << what << " element " << i;
}

// Rank r runs steps[r] steps of every layer with tokens_per_step(r, step) tokens, then serves;
// every output is compared with the local path.
// Both transports: all-to-all-v exchange and shared memory (the test double's threads share it).
void check(const Case& c, int R, const std::function<int64_t(int, int)>& tokens_per_step,
           const std::vector<int>& steps, std::optional<ExpertPlacement> placement = {}) {
  const ExpertPlacement p = placement ? *placement : ExpertPlacement::contiguous(c.layers, c.E, R);
  for (Transport tr : {Transport::kExchange, Transport::kSharedMemory})
    run_ranks(R, [&](std::shared_ptr<Communicator> comm) {
      const int r = comm->rank();
      Dispatcher d(comm, comm, p, backend(c), experts(c, p.hold_fn(r)), {}, tr);
      EXPECT_EQ(d.transport(), tr);
      for (int s = 0; s < steps[size_t(r)]; ++s)
        for (int l = 0; l < c.layers; ++l) {
          const Tokens t = tokens(c, tokens_per_step(r, s), uint64_t(100 * r + 10 * s + l));
          Tensor out = Tensor::empty(DType::F32, {t.x.size(0), c.H});
          d.run(l, t.x, t.ex, t.w, out);
          expect_bitwise(
              out, local_reference(c, l, t),
              fmt::format("{} R={} rank {} step {} layer {}", transport_name(tr), R, r, s, l));
        }
      d.serve_until_all_idle();
    });
}

TEST(Dispatcher, OneRankEqualsTheLocalExpertPathBitwise) {
  check(Case{}, 1, [](int, int) { return 9; }, {2});
}

TEST(Dispatcher, TwoToFourRanksEqualTheLocalExpertPathBitwise) {
  for (int R : {2, 3, 4})
    check(
        Case{}, R, [](int r, int s) { return 5 + 3 * r + s; }, std::vector<int>(size_t(R), 2));
}

TEST(Dispatcher, RanksWithZeroTokensStillServeTheirExperts) {
  // Rank 1 has steps with no tokens at all; its experts are still needed by ranks 0 and 2.
  check(Case{}, 3, [](int r, int s) { return r == 1 ? 0 : 7 + s; }, {2, 2, 2});
}

TEST(Dispatcher, RanksThatFinishEarlyServeUntilEveryRankIsDone) {
  // Rank 0 runs 3 steps, rank 1 one step, rank 2 none (serves only), rank 3 two.
  check(Case{}, 4, [](int r, int) { return 4 + r; }, {3, 1, 0, 2});
}

TEST(Dispatcher, UnevenPlacementWhenRanksDoNotDivideExperts) {
  Case c;
  c.E = 10;
  c.k = 4;
  check(c, 4, [](int r, int) { return 6 + r; }, {1, 2, 1, 1});
}

TEST(Dispatcher, ExplicitPlacementWithARankHoldingNoExpertsOfALayer) {
  Case c;
  c.E = 6;
  c.k = 2;
  // Layer 0: rank 1 holds nothing; layer 1: round robin.
  auto p = ExpertPlacement::from_owners({{0, 0, 2, 2, 0, 2}, {0, 1, 2, 0, 1, 2}}, 3, "test");
  check(
      c, 3, [](int, int s) { return 5 + s; }, {2, 2, 2}, p);
}

TEST(Dispatcher, Bf16RoundingBackendStaysBitwiseEqual) {
  Case c;
  c.bf16 = true;
  check(c, 2, [](int r, int) { return 8 - r; }, {2, 2});
}

TEST(Dispatcher, SharedMemoryPartsGrowWhenAStepNeedsMore) {
  // Rank 1's third step needs far more rows than the parts allocated for the first two.
  check(Case{}, 3, [](int r, int s) { return r == 1 && s == 2 ? 90 : 2 + s; }, {3, 3, 3});
}

TEST(Dispatcher, TransportChoiceAndErrors) {
  EXPECT_EQ(parse_transport("shared_memory", "k"), Transport::kSharedMemory);
  EXPECT_EQ(parse_transport("exchange", "k"), Transport::kExchange);
  EXPECT_EQ(parse_transport("auto", "k"), Transport::kAuto);
  try {
    parse_transport("shm", "MOE_EP_TRANSPORT");
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("MOE_EP_TRANSPORT"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("\"shm\""), std::string::npos) << e.what();
  }
  // A communicator that cannot share memory: auto takes the exchange, shared_memory is refused.
  Case c;
  const ExpertPlacement p = ExpertPlacement::contiguous(c.layers, c.E, 1);
  auto local = std::make_shared<LocalCommunicator>();
  Dispatcher d(local, local, p, backend(c), experts(c, {}));
  EXPECT_EQ(d.transport(), Transport::kExchange);
  EXPECT_THROW(
      Dispatcher(local, local, p, backend(c), experts(c, {}), {}, Transport::kSharedMemory),
      InputError);
  // Threads share memory: auto takes it.
  run_ranks(2, [&](std::shared_ptr<Communicator> comm) {
    const ExpertPlacement p2 = ExpertPlacement::contiguous(c.layers, c.E, 2);
    Dispatcher d2(comm, comm, p2, backend(c), experts(c, p2.hold_fn(comm->rank())));
    EXPECT_EQ(d2.transport(), Transport::kSharedMemory);
  });
}

TEST(Dispatcher, AutoFallsBackToTheExchangeWhenSharedMemoryCannotBeMapped) {
  // A /dev/shm that holds the first steps' parts but not the larger ones of rank 1's third step:
  // auto switches to the exchange (every rank, same step) and stays bitwise equal to the local
  // path. (An explicit shared_memory aborts the job there, as any failed exchange does.)
  Case c;
  const int R = 3;
  const ExpertPlacement p = ExpertPlacement::contiguous(c.layers, c.E, R);
  const size_t limit = 64 << 10;  // 64 KiB: parts for 2-4 tokens of H = 16, not for 90
  run_ranks(
      R,
      [&](std::shared_ptr<Communicator> comm) {
        const int r = comm->rank();
        Dispatcher d(comm, comm, p, backend(c), experts(c, p.hold_fn(r)));
        EXPECT_EQ(d.transport(), Transport::kSharedMemory);
        for (int s = 0; s < 4; ++s)
          for (int l = 0; l < c.layers; ++l) {
            const Tokens t =
                tokens(c, r == 1 && s == 2 ? 900 : 2 + s, uint64_t(100 * r + 10 * s + l));
            Tensor out = Tensor::empty(DType::F32, {t.x.size(0), c.H});
            d.run(l, t.x, t.ex, t.w, out);
            expect_bitwise(out, local_reference(c, l, t),
                           fmt::format("rank {} step {} layer {}", r, s, l));
            EXPECT_EQ(d.transport(), s < 2 ? Transport::kSharedMemory : Transport::kExchange)
                << "step " << s;
          }
        d.serve_until_all_idle();
      },
      limit);
}

TEST(Dispatcher, StatsCountRowsOncePerOwnerAndOneResultPerPair) {
  // E = 4 over 2 ranks: experts 0,1 on rank 0 and 2,3 on rank 1. Rank 0 has two tokens:
  // token 0 -> {0, 1} (rank 0 only), token 1 -> {1, 2} (both ranks). Rank 1 has no tokens.
  Case c;
  c.E = 4;
  c.k = 2;
  c.layers = 1;
  const ExpertPlacement p = ExpertPlacement::contiguous(1, 4, 2);
  for (Transport tr : {Transport::kExchange, Transport::kSharedMemory})
    run_ranks(2, [&](std::shared_ptr<Communicator> comm) {
      Dispatcher d(comm, comm, p, backend(c), experts(c, p.hold_fn(comm->rank())), {}, tr);
      if (comm->rank() == 0) {
        Tokens t = tokens(c, 2, 1);
        const int32_t ids[] = {0, 1, 1, 2};
        std::memcpy(t.ex.data<int32_t>(), ids, sizeof(ids));
        Tensor out = Tensor::empty(DType::F32, {2, c.H});
        d.run(0, t.x, t.ex, t.w, out);
        expect_bitwise(out, local_reference(c, 0, t), "rank 0");
      }
      d.serve_until_all_idle();
      const DispatchStats& s = d.stats();
      if (comm->rank() == 0) {
        EXPECT_EQ(s.layer_calls, 1);
        EXPECT_EQ(s.tokens, 2);
        EXPECT_EQ(s.rows_sent, 3);       // token 0 -> rank 0; token 1 -> ranks 0 and 1
        EXPECT_EQ(s.rows_received, 2);   // its own two rows
        EXPECT_EQ(s.pairs_computed, 3);  // (0,0) (0,1) (1,1)
        EXPECT_EQ(s.served, 0);
      } else {
        EXPECT_EQ(s.layer_calls, 0);
        EXPECT_EQ(s.served, 1);
        EXPECT_EQ(s.rows_received, 1);   // token 1
        EXPECT_EQ(s.pairs_computed, 1);  // (1,2)
        EXPECT_EQ(s.rows_sent, 0);
      }
    });
}

}  // namespace
}  // namespace moe::ep
