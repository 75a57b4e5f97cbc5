// ep_dispatch_bench: expert-parallel dispatch + combine throughput for one MoE layer shaped like
// Qwen3-30B-A3B (hidden 2048, 128 experts, top-8, expert intermediate 768; random bf16 weights
// made in memory, only this rank's experts), next to a raw MPI_Alltoallv of the same bytes in
// the same run, and the peak memory of each rank.
//
// Run under mpirun: all ranks form one replica (R = number of ranks); bench/run_ep_bench.sh
// runs R = 1, 2 and 4. Each iteration every rank dispatches `--tokens` tokens routed uniformly
// at random (8 distinct experts each) through the Dispatcher. What is timed as dispatch+combine
// is everything the dispatcher does except the expert computation (counting, headers, pair
// metadata, token rows out, expansion by expert, result rows back, top-k sum); the expert
// computation itself is replaced by a stand-in (y = weight * x, one pass over the rows) so that
// the figures are about communication, not GEMM speed. The reference is MPI_Alltoallv with the
// very same per-peer byte counts as the dispatcher's token rows and result rows (what the
// dispatcher must move at least), timed in the same run. A rank's time is the slowest rank's.
// --transport picks how the dispatcher moves rows (dispatcher.h): shared_memory (what auto picks
// on one node) or exchange (all-to-all-v; what a replica spanning nodes uses).
// With R = 1 there is no communication: it reports the local path (bucket, gather, stand-in,
// combine) and the memory of a process holding every expert.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "bench/machine_figures.h"
#include "expert_parallel/dispatcher.h"
#include "expert_parallel/mpi_communicator.h"
#include "runtime/core/random.h"

namespace {

using namespace moe;
using namespace moe::ep;
using moe::bench::Clock;
using moe::bench::median;
using moe::bench::seconds_since;

// VmHWM (peak resident set) of this process in bytes.
int64_t peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return -1;
}

// Random bf16 tensor, every page touched (resident).
Tensor random_bf16(Rng& rng, Shape shape) {
  Tensor t = Tensor::empty(DType::BF16, std::move(shape));
  uint64_t s = rng.next() | 1;
  uint16_t* p = t.data<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;  // LCG: cheap, not for statistics
    p[i] = f32_to_bf16(float(int64_t(s >> 40) - (int64_t(1) << 23)) * 1e-9f);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Expert-parallel dispatch+combine throughput vs raw MPI_Alltoallv"};
  int64_t T = 1024;
  int iters = 10, warmup = 2, H = 2048, E = 128, k = 8, I = 768;
  std::string backend_name = "cpu-ref", transport_name_arg = "auto";
  double r1_peak_gib = 0;
  app.add_option("--tokens", T, "tokens per rank per layer call");
  app.add_option("--iters", iters,
                 "timed iterations (default 10, or 200 below 256 tokens, where one call takes "
                 "well under a millisecond)");
  app.add_option("--warmup", warmup, "untimed iterations first");
  app.add_option("--hidden", H, "hidden size");
  app.add_option("--experts", E, "experts per layer");
  app.add_option("--top-k", k, "experts per token");
  app.add_option("--intermediate", I, "expert intermediate size (weights held for memory)");
  app.add_option("--backend", backend_name, "backend for gather/combine kernels");
  app.add_option("--transport", transport_name_arg, "auto | shared_memory | exchange");
  app.add_option("--r1-peak-gib", r1_peak_gib,
                 "peak RSS of the R = 1 run (GiB), to print each rank's peak against it");
  CLI11_PARSE(app, argc, argv);
  if (app.count("--iters") == 0 && T < 256) iters = 200;

  MpiSession mpi;
  std::shared_ptr<Communicator> comm = MpiCommunicator::world();
  const int R = comm->size(), me = comm->rank();
  BackendOptions bo;
  bo.name = backend_name;
  std::shared_ptr<Backend> be = make_backend(bo);

  // This rank's experts: bf16 gate/up [I, H], down [H, I]; the others stay undefined.
  const ExpertPlacement placement = ExpertPlacement::contiguous(1, E, R);
  ExpertWeights w;
  w.hidden = H;
  w.intermediate = I;
  w.gate.resize(size_t(E));
  w.up.resize(size_t(E));
  w.down.resize(size_t(E));
  Rng wrng(uint64_t(1000 + me));
  int64_t weight_bytes = 0;
  for (int e : placement.experts_of(0, me)) {
    w.gate[size_t(e)] = random_bf16(wrng, {I, H});
    w.up[size_t(e)] = random_bf16(wrng, {I, H});
    w.down[size_t(e)] = random_bf16(wrng, {H, I});
    weight_bytes += 3 * int64_t(I) * H * 2;
  }

  // Tokens and uniform random routing (k distinct experts per token).
  Rng rng(uint64_t(7 + me));
  Tensor x = Tensor::empty(DType::F32, {T, H});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(rng.uniform() - 0.5);
  Tensor ex = Tensor::empty(DType::I32, {T, k}), wt = Tensor::empty(DType::F32, {T, k});
  for (int64_t t = 0; t < T; ++t) {
    const auto pick = sample_without_replacement(size_t(E), size_t(k), rng);
    for (int j = 0; j < k; ++j) {
      ex.data<int32_t>()[t * k + j] = int32_t(pick[size_t(j)]);
      wt.data<float>()[t * k + j] = float(rng.uniform());
    }
  }
  Tensor out = Tensor::empty(DType::F32, {T, H});

  // Stand-in expert: y = weight * x (one pass over the rows).
  auto stand_in = [&](int, const Tensor& xr, std::span<const int64_t>, std::span<const float> rw,
                      Tensor& yr) {
    const float* a = xr.data<float>();
    float* b = yr.data<float>();
    for (int64_t r = 0; r < xr.size(0); ++r)
      for (int64_t c = 0; c < H; ++c) b[r * H + c] = rw[size_t(r)] * a[r * H + c];
  };

  const double gib = 1024.0 * 1024.0 * 1024.0;
  if (R == 1) {
    // The local path: what R = 1 runs (no communication at all).
    std::vector<double> times;
    for (int it = 0; it < warmup + iters; ++it) {
      const auto t0 = Clock::now();
      ExpertBuckets b = bucket_by_expert(ex.data<int32_t>(), wt.data<float>(), T, k, E);
      Tensor rows = be->alloc(DType::F32, {T * k, H}), y = be->alloc(DType::F32, {T * k, H});
      be->gather_rows(x, b.token, rows);
      const auto t1 = Clock::now();
      stand_in(0, rows, b.offsets, b.weight, y);
      const double experts = seconds_since(t1);
      be->combine(y, b.slot_row, std::span<const int32_t>(ex.data<int32_t>(), size_t(T * k)), k,
                  out);
      if (it >= warmup) times.push_back(seconds_since(t0) - experts);
    }
    fmt::print("R=1 (no communication): local bucket+gather+combine {:.2f} ms per layer call "
               "({:.0f} tokens/s), expert weights held {:.2f} GiB, peak RSS {:.2f} GiB\n",
               1e3 * median(times), double(T) / median(times), double(weight_bytes) / gib,
               double(peak_rss_bytes()) / gib);
    return 0;
  }

  Dispatcher d(comm, comm, placement, be, {w}, stand_in,
               parse_transport(transport_name_arg, "--transport"));

  // Per-peer row and pair counts of this routing (what the dispatcher sends), for the
  // reference exchange of the same bytes.
  std::vector<int64_t> rows_to(static_cast<size_t>(R), 0), pairs_to(static_cast<size_t>(R), 0);
  for (int64_t t = 0; t < T; ++t) {
    std::vector<bool> seen(static_cast<size_t>(R), false);
    for (int j = 0; j < k; ++j) {
      const int o = placement.owner(0, ex.data<int32_t>()[t * k + j]);
      ++pairs_to[size_t(o)];
      if (!seen[size_t(o)]) {
        seen[size_t(o)] = true;
        ++rows_to[size_t(o)];
      }
    }
  }
  std::vector<int64_t> rows_from(static_cast<size_t>(R)), pairs_from(static_cast<size_t>(R));
  comm->alltoall(rows_to.data(), rows_from.data(), sizeof(int64_t));
  comm->alltoall(pairs_to.data(), pairs_from.data(), sizeof(int64_t));
  auto displs = [](const std::vector<int64_t>& c) {
    std::vector<int64_t> d(c.size(), 0);
    for (size_t i = 1; i < c.size(); ++i) d[i] = d[i - 1] + c[i - 1];
    return d;
  };
  auto sum = [](const std::vector<int64_t>& c) {
    int64_t s = 0;
    for (int64_t v : c) s += v;
    return s;
  };
  const int64_t n_rows_out = sum(rows_to), n_rows_in = sum(rows_from);
  const int64_t n_pairs_out = sum(pairs_to), n_pairs_in = sum(pairs_from);
  std::vector<float> a_send(size_t(n_rows_out * H)), a_recv(size_t(n_rows_in * H));
  std::vector<float> b_send(size_t(n_pairs_in * H)), b_recv(size_t(n_pairs_out * H));
  for (size_t i = 0; i < a_send.size(); ++i) a_send[i] = float(i % 97);
  for (size_t i = 0; i < b_send.size(); ++i) b_send[i] = float(i % 89);
  // Bytes of token rows and result rows this rank sends (self included, as MPI moves them).
  const int64_t bulk_bytes = (n_rows_out + n_pairs_in) * H * 4;
  int64_t all_bulk = bulk_bytes;
  comm->allreduce(&all_bulk, 1, DType::I64, ReduceOp::kSum);

  std::vector<double> t_disp, t_raw;
  for (int it = 0; it < warmup + iters; ++it) {
    // Dispatcher: everything but the stand-in expert computation; the slowest rank counts.
    d.reset_stats();
    comm->barrier();
    d.run(0, x, ex, wt, out);
    double t = d.stats().seconds_dispatch + d.stats().seconds_combine;
    comm->allreduce(&t, 1, DType::F64, ReduceOp::kMax);
    // Raw MPI_Alltoallv of the same token-row and result-row bytes.
    comm->barrier();
    const auto t0 = Clock::now();
    comm->alltoallv(a_send.data(), rows_to, displs(rows_to), a_recv.data(), rows_from,
                    displs(rows_from), size_t(H) * 4);
    comm->alltoallv(b_send.data(), pairs_from, displs(pairs_from), b_recv.data(), pairs_to,
                    displs(pairs_to), size_t(H) * 4);
    double r = seconds_since(t0);
    comm->allreduce(&r, 1, DType::F64, ReduceOp::kMax);
    if (it >= warmup) {
      t_disp.push_back(t);
      t_raw.push_back(r);
    }
  }
  d.reset_stats();
  d.run(0, x, ex, wt, out);
  const DispatchStats st = d.stats();
  double peak = double(peak_rss_bytes());
  std::vector<double> peaks(static_cast<size_t>(R));
  comm->allgather(&peak, peaks.data(), sizeof(double));

  if (me == 0) {
    const double td = median(t_disp), tr = median(t_raw);
    const double tokens = double(T) * R;
    fmt::print("R={} ranks, {} tokens/rank, hidden {}, {} experts top-{} (placement contiguous, "
               "{} experts/rank), {} iterations (median), backend {}, transport {}\n",
               R, T, H, E, k, E / R, iters, backend_name, transport_name(d.transport()));
    fmt::print("  bulk bytes per layer call (token rows out + result rows back, all ranks): "
               "{:.1f} MiB; metadata+headers add {:.2f} MiB\n",
               double(all_bulk) / (1024.0 * 1024.0),
               double(int64_t(R) * T * k * 12 + int64_t(R) * R * 24) / (1024.0 * 1024.0));
    fmt::print("  dispatcher dispatch+combine: {:8.2f} ms  {:7.2f} GB/s  {:9.0f} tokens/s\n",
               1e3 * td, double(all_bulk) / td / 1e9, tokens / td);
    fmt::print("  raw MPI_Alltoallv same bytes: {:7.2f} ms  {:7.2f} GB/s  {:9.0f} tokens/s\n",
               1e3 * tr, double(all_bulk) / tr / 1e9, tokens / tr);
    fmt::print("  dispatcher / raw throughput: {:.1f}% (target >= 80%: {})\n", 100.0 * tr / td,
               tr >= 0.8 * td ? "met" : "MISSED");
    fmt::print("  rank 0 phases (last call): dispatch {:.2f} ms, stand-in experts {:.2f} ms, "
               "combine {:.2f} ms\n",
               1e3 * st.seconds_dispatch, 1e3 * st.seconds_experts, 1e3 * st.seconds_combine);
    const double all_weights = 3.0 * double(I) * H * 2 * E;  // what R = 1 holds
    fmt::print("  expert weights held per rank {:.2f} GiB ({:.0f}% of R=1's {:.2f} GiB); peak RSS "
               "per rank:",
               double(weight_bytes) / gib, 100.0 * double(weight_bytes) / all_weights,
               all_weights / gib);
    for (int r = 0; r < R; ++r) fmt::print(" {:.2f}", peaks[size_t(r)] / gib);
    if (r1_peak_gib > 0)
      fmt::print(" GiB (max {:.0f}% of R=1's {:.2f} GiB)\n",
                 100.0 * *std::max_element(peaks.begin(), peaks.end()) / gib / r1_peak_gib,
                 r1_peak_gib);
    else
      fmt::print(" GiB\n");
  }
  return 0;
}
