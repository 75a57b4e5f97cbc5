// Expert parallelism over real MPI ranks (run by ctest under `mpirun -np 2` and `-np 4`):
//  - MpiCommunicator collectives against hand-computed values;
//  - models split over replicas of R = 2 and R = world size ranks (-np 4 with R = 2: two
//    replicas side by side) against the whole model run in one process (each rank computes
//    that reference itself): identical selected experts and routing weights, identical greedy
//    output, routing statistics (counts summed over the replica) identical, per-sequence
//    interventions identical, logits and loglikelihoods bitwise equal on the reference backend;
//    for in-memory qwen3_moe and olmoe models, the golden fixture checkpoints of all four
//    families (tests/golden, f32 and bf16) and the checkpoints listed in MOE_EP_CHECKPOINTS
//    (directories, e.g. written by `moe-sweep make-model`, separated by ':');
//  - the NCCL communicator across ranks where every rank has a GPU (skipped otherwise).
// Every rank runs every test; failures are printed by the rank that sees them, and the exit
// status is the worst over all ranks.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "expert_parallel/mpi_communicator.h"
#include "expert_parallel/nccl_communicator.h"
#include "expert_parallel/replica.h"
#include "runtime/io/model_config.h"
#include "tests/unit/ep/ep_equivalence.h"
#include "tests/unit/models/tiny_model.h"

#if MOE_HAVE_CUDA
#include <cuda_runtime.h>
#endif

namespace moe::ep {
namespace {

std::unique_ptr<MpiCommunicator> g_world;

ModelLoadOptions ref_options() {
  ModelLoadOptions o;
  o.backend.name = "cpu-ref";
  return o;
}

TEST(MpiCommunicator, AlltoallvWithDifferentCountsPerPair) {
  Communicator& w = *g_world;
  const int R = w.size(), me = w.rank();
  // Rank p sends (p + q + 1) elements to q; element i is 1000 p + 10 q + i.
  std::vector<int64_t> sc(static_cast<size_t>(R)), sd(static_cast<size_t>(R)),
      rc(static_cast<size_t>(R)), rd(static_cast<size_t>(R));
  std::vector<int32_t> send, recv;
  for (int q = 0; q < R; ++q) {
    sc[size_t(q)] = me + q + 1;
    sd[size_t(q)] = int64_t(send.size());
    for (int i = 0; i < me + q + 1; ++i) send.push_back(1000 * me + 10 * q + i);
  }
  int64_t n = 0;
  for (int p = 0; p < R; ++p) {
    rc[size_t(p)] = p + me + 1;
    rd[size_t(p)] = n;
    n += p + me + 1;
  }
  recv.assign(size_t(n), -1);
  w.alltoallv(send.data(), sc, sd, recv.data(), rc, rd, sizeof(int32_t));
  for (int p = 0; p < R; ++p)
    for (int i = 0; i < p + me + 1; ++i)
      EXPECT_EQ(recv[size_t(rd[size_t(p)] + i)], 1000 * p + 10 * me + i) << "from " << p;
}

TEST(MpiCommunicator, ReductionsBroadcastGatherAndSplit) {
  Communicator& w = *g_world;
  const int R = w.size(), me = w.rank();
  std::vector<int64_t> a{me, 1};
  allreduce_sum(w, a);
  EXPECT_EQ(a[0], int64_t(R) * (R - 1) / 2);
  EXPECT_EQ(a[1], R);
  EXPECT_EQ(allreduce_max(w, me), R - 1);
  float f = float(me) + 0.5f;
  w.allreduce(&f, 1, DType::F32, ReduceOp::kMin);
  EXPECT_EQ(f, 0.5f);
  double d = me;
  w.allreduce(&d, 1, DType::F64, ReduceOp::kSum);
  EXPECT_EQ(d, double(R) * (R - 1) / 2);
  int32_t b = me == R - 1 ? 42 : 0;
  w.broadcast(&b, sizeof(b), R - 1);
  EXPECT_EQ(b, 42);
  std::vector<int32_t> all(static_cast<size_t>(R));
  const int32_t mine = 7 * me;
  w.allgather(&mine, all.data(), sizeof(mine));
  for (int p = 0; p < R; ++p) EXPECT_EQ(all[size_t(p)], 7 * p);
  std::vector<int32_t> blocks(static_cast<size_t>(R)), got(static_cast<size_t>(R));
  for (int q = 0; q < R; ++q) blocks[size_t(q)] = 100 * me + q;
  w.alltoall(blocks.data(), got.data(), sizeof(int32_t));
  for (int p = 0; p < R; ++p) EXPECT_EQ(got[size_t(p)], 100 * p + me);
  w.barrier();
  const auto strings = allgather_strings(w, std::string(size_t(me), char('a' + me)));
  ASSERT_EQ(strings.size(), size_t(R));
  for (int p = 0; p < R; ++p) EXPECT_EQ(strings[size_t(p)], std::string(size_t(p), char('a' + p)));
  // The same to the last rank only.
  const auto at_last = gather_strings(w, std::string(size_t(me + 1), char('a' + me)), R - 1);
  ASSERT_EQ(at_last.size(), me == R - 1 ? size_t(R) : 0u);
  for (size_t p = 0; p < at_last.size(); ++p)
    EXPECT_EQ(at_last[p], std::string(p + 1, char('a' + p)));
  // Across the 4 KiB blocks strings travel in: each rank's size and bytes its own.
  auto text = [](int p) {
    std::string t(size_t(4095 + 2049 * p), '\0');
    for (size_t i = 0; i < t.size(); ++i) t[i] = char((i * 7 + size_t(p) * 31) % 251);
    return t;
  };
  const auto blocks_all = allgather_strings(w, text(me));
  ASSERT_EQ(blocks_all.size(), size_t(R));
  for (int p = 0; p < R; ++p) EXPECT_EQ(blocks_all[size_t(p)], text(p)) << "from " << p;
  // Odd and even ranks, reversed order by key.
  auto half = w.split(me % 2, -me);
  EXPECT_EQ(half->size(), (R + 1 - me % 2) / 2);
  std::vector<int64_t> ids{me};
  allreduce_sum(*half, ids);
  int64_t expect = 0;
  for (int p = me % 2; p < R; p += 2) expect += p;
  EXPECT_EQ(ids[0], expect);
}

// The equivalence scenario for one model on replicas of R ranks.
void check_model(const std::function<std::shared_ptr<Model>(Replica*)>& load, int R, int64_t vocab,
                 const std::string& what) {
  const auto all = testing::make_requests(vocab);
  testing::Outcome plain;
  for (bool intervene : {false, true}) {
    // Reference: the whole model, every request, in this process.
    const testing::Outcome ref = testing::run_requests(load(nullptr), all, intervene,
                                                       [](const std::function<void()>& f) { f(); });
    if (!intervene) plain = ref;
    // The intervention must change the routing, or comparing it would prove nothing.
    if (intervene) {
      EXPECT_GT(testing::count_changed_records(plain, ref), 0) << what;
    }
    // The ranks of this test share one node: both transports run.
    for (Transport tr : {Transport::kSharedMemory, Transport::kExchange}) {
      ReplicaOptions ro;
      ro.expert_parallel = R;
      ro.transport = tr;
      Replica rep = Replica::split(*g_world, ro);
      auto model = load(&rep);
      int64_t held = 0;
      for (int l = 0; l < model->num_moe_layers(); ++l)
        for (const Tensor& t : model->experts(l).down) held += t.defined() ? 1 : 0;
      EXPECT_EQ(held, rep.placement_for(model->config()).count_held(rep.rank())) << what;
      const auto mine = testing::share(all, rep.rank(), R);
      testing::Outcome got = testing::run_requests(
          model, mine, intervene, [&](const std::function<void()>& f) { rep.run(*model, f); });
      const std::string label = fmt::format("{} R={} {} replica {} rank {} intervene {}", what, R,
                                            transport_name(tr), rep.index(), rep.rank(), intervene);
      testing::compare(ref, got, 0.0, label);
      std::vector<int64_t> counts = got.rec.counts;
      counts.resize(ref.rec.counts.size(), 0);
      allreduce_sum(rep.comm(), counts);
      EXPECT_EQ(counts, ref.rec.counts) << label << ": routing statistics";
      const DispatchStats& st = rep.dispatcher(*model)->stats();
      EXPECT_EQ(rep.dispatcher(*model)->transport(), tr) << label;
      EXPECT_GT(st.layer_calls + st.served, 0) << label;
    }
  }
}

std::function<std::shared_ptr<Model>(Replica*)> tiny_loader(const moe::testing::TinySpec& s) {
  return [s](Replica* rep) {
    const auto c = moe::testing::tiny_config(s);
    const auto w = moe::testing::tiny_weights(s);
    return rep ? rep->build_model(c, w, ref_options()) : build_model(c, w, ref_options());
  };
}

// R = 2 and R = world size (one replica), each once.
std::vector<int> degrees() {
  std::vector<int> d{2};
  if (g_world->size() != 2) d.push_back(g_world->size());
  return d;
}

TEST(ExpertParallelMpi, TinyQwen3MoeReplicasEqualOneProcess) {
  moe::testing::TinySpec s;
  for (int R : degrees()) check_model(tiny_loader(s), R, s.vocab, "tiny qwen3_moe");
}

TEST(ExpertParallelMpi, TinyOlmoeBf16ReplicasEqualOneProcess) {
  moe::testing::TinySpec s;
  s.family = io::Family::kOlmoe;
  s.dtype = DType::BF16;
  for (int R : degrees()) check_model(tiny_loader(s), R, s.vocab, "tiny olmoe bf16");
}

// The golden fixture checkpoints (written by transformers, tests/golden) of every family, and
// the directories in MOE_EP_CHECKPOINTS (e.g. written by `moe-sweep make-model`).
std::vector<std::string> checkpoints() {
  std::vector<std::string> out;
  if (const char* src = std::getenv("MOE_SOURCE_DIR"))
    for (const char* f : {"qwen3_moe", "olmoe", "gpt_oss", "phimoe"})
      for (const char* dt : {"f32", "bf16"})
        out.push_back(fmt::format("{}/tests/golden/{}_{}", src, f, dt));
  if (const char* env = std::getenv("MOE_EP_CHECKPOINTS")) {
    std::stringstream ss(env);
    for (std::string dir; std::getline(ss, dir, ':');)
      if (!dir.empty()) out.push_back(dir);
  }
  return out;
}

class EpCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(EpCheckpoint, ReplicasEqualOneProcess) {
  const std::filesystem::path dir = GetParam();
  ASSERT_TRUE(std::filesystem::exists(dir / "config.json")) << dir;
  const io::ModelConfig c = io::load_model_config(dir);
  auto load = [&](Replica* rep) {
    return rep ? rep->load_model(dir, ref_options()) : load_model(dir, ref_options());
  };
  for (int R : degrees())
    check_model(load, R, c.vocab_size,
                fmt::format("{} ({})", dir.filename().string(), io::family_name(c.family)));
}

INSTANTIATE_TEST_SUITE_P(Checkpoints, EpCheckpoint, ::testing::ValuesIn(checkpoints()),
                         [](const auto& info) {
                           std::string n = std::filesystem::path(info.param).filename().string();
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(EpCheckpoint);

TEST(NcclCommunicatorMpi, AlltoallvAcrossRanksOnTheirGpus) {
  std::string why;
  const int gpus = cuda_device_count(&why);
  // Every rank must see enough GPUs for one each; decide together so all ranks skip or run.
  const int64_t min_gpus = -allreduce_max(*g_world, -int64_t(gpus));
  if (!nccl_built()) GTEST_SKIP() << "this build has no NCCL (CUDA toolkit not found)";
  if (min_gpus < g_world->size())
    GTEST_SKIP() << "needs one GPU per rank (" << g_world->size() << "), found " << min_gpus
                 << (why.empty() ? "" : ": " + why) << "; NCCL is compiled but not run here";
#if MOE_HAVE_CUDA
  const int R = g_world->size(), me = g_world->rank();
  auto nccl = make_nccl_communicator(*g_world, me);
  // Rank p sends p + q + 1 floats to q, valued 1000 p + 10 q + i.
  std::vector<int64_t> sc(static_cast<size_t>(R)), sd(static_cast<size_t>(R)),
      rc(static_cast<size_t>(R)), rd(static_cast<size_t>(R));
  std::vector<float> send;
  for (int q = 0; q < R; ++q) {
    sc[size_t(q)] = me + q + 1;
    sd[size_t(q)] = int64_t(send.size());
    for (int i = 0; i < me + q + 1; ++i) send.push_back(float(1000 * me + 10 * q + i));
  }
  int64_t n = 0;
  for (int p = 0; p < R; ++p) {
    rc[size_t(p)] = p + me + 1;
    rd[size_t(p)] = n;
    n += p + me + 1;
  }
  float *d_send = nullptr, *d_recv = nullptr;
  ASSERT_EQ(cudaMalloc(&d_send, send.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_recv, size_t(n) * sizeof(float)), cudaSuccess);
  cudaMemcpy(d_send, send.data(), send.size() * sizeof(float), cudaMemcpyHostToDevice);
  nccl->alltoallv(d_send, sc, sd, d_recv, rc, rd, sizeof(float));
  std::vector<float> recv(static_cast<size_t>(n));
  cudaMemcpy(recv.data(), d_recv, recv.size() * sizeof(float), cudaMemcpyDeviceToHost);
  for (int p = 0; p < R; ++p)
    for (int i = 0; i < p + me + 1; ++i)
      EXPECT_EQ(recv[size_t(rd[size_t(p)] + i)], float(1000 * p + 10 * me + i)) << "from " << p;
  cudaFree(d_send);
  cudaFree(d_recv);
#endif
}

// Prints failures of non-zero ranks, prefixed by the rank (rank 0 keeps gtest's printer).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::cerr << "[rank " << rank_ << "] " << (r.file_name() ? r.file_name() : "?") << ":"
                << r.line_number() << ": " << r.summary() << "\n";
  }

 private:
  int rank_;
};

}  // namespace
}  // namespace moe::ep

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  moe::ep::MpiSession mpi;
  moe::ep::g_world = moe::ep::MpiCommunicator::world();
  const int rank = moe::ep::g_world->rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new moe::ep::RankFailurePrinter(rank));
  }
  int rc = RUN_ALL_TESTS();
  rc = int(moe::ep::allreduce_max(*moe::ep::g_world, rc));
  moe::ep::g_world.reset();
  return rc;
}
