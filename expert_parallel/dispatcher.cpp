#include "expert_parallel/dispatcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <exception>

#include "runtime/core/error.h"

namespace moe::ep {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

constexpr int32_t kIdle = 0, kActive = 1;

std::vector<int64_t> exclusive_scan(const std::vector<int64_t>& v) {
  std::vector<int64_t> d(v.size(), 0);
  for (size_t i = 1; i < v.size(); ++i) d[i] = d[i - 1] + v[i - 1];
  return d;
}
// counts with this rank's own entry zeroed (its part is copied locally, not exchanged).
std::vector<int64_t> without_self(std::vector<int64_t> counts, int me) {
  counts[size_t(me)] = 0;
  return counts;
}
int64_t total(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

}  // namespace

// First message of every exchange, one per peer.
struct Dispatcher::Header {
  int32_t state = 0;  // kIdle or kActive
  int32_t moe_layer = -1;
  int64_t rows = 0;   // token rows the sender sends to the receiver
  int64_t pairs = 0;  // (token, expert) pairs among them
};

// One (token, expert) pair as the owner receives it.
struct Dispatcher::PairMeta {
  int32_t row = 0;     // index of the token row among the rows from this sender
  int32_t expert = 0;  // global expert id
  float weight = 0.0f;
};

// This rank's outgoing tokens of one layer, grouped by destination rank.
struct Dispatcher::Plan {
  std::vector<int64_t> rows_to, pairs_to;      // [R]
  std::vector<int64_t> row_displ, pair_displ;  // [R]
  std::vector<int32_t> send_tokens;            // [sum rows_to] token of each sent row
  std::vector<PairMeta> meta;                  // [sum pairs_to] destination-major, (t, j) order
  std::vector<int32_t> slot;                   // [T * k] result row of pair (t, j)
  std::vector<int32_t> experts;                // [T * k] global expert of pair (t, j)
  int k = 0;
  static_assert(sizeof(Header) == 24 && sizeof(PairMeta) == 12, "wire structs have no padding");

  explicit Plan(int R)
      : rows_to(size_t(R), 0),
        pairs_to(size_t(R), 0),
        row_displ(size_t(R), 0),
        pair_displ(size_t(R), 0) {}
};

Dispatcher::Dispatcher(std::shared_ptr<Communicator> control, std::shared_ptr<Communicator> data,
                       ExpertPlacement placement, std::shared_ptr<Backend> backend,
                       std::vector<ExpertWeights> experts, ExpertCompute compute)
    : control_(std::move(control)),
      data_(std::move(data)),
      placement_(std::move(placement)),
      backend_(std::move(backend)),
      experts_(std::move(experts)),
      compute_(std::move(compute)) {
  MOE_ASSERT(control_ && data_ && backend_, "dispatcher without communicators or backend");
  MOE_ASSERT(control_->device() == Device::CPU, "the control communicator must use host memory");
  MOE_ASSERT(data_->device() == backend_->device(), "data communicator on {} memory, backend on {}",
             int(data_->device()), int(backend_->device()));
  MOE_ASSERT(control_->size() == data_->size() && control_->rank() == data_->rank(),
             "control and data communicators differ");
  MOE_ASSERT(placement_.ranks() == control_->size(), "placement for {} ranks, replica of {}",
             placement_.ranks(), control_->size());
  MOE_ASSERT(int(experts_.size()) == placement_.num_moe_layers(), "{} MoE layers, placement {}",
             experts_.size(), placement_.num_moe_layers());
  if (!compute_) {
    compute_ = [this](int layer, const Tensor& x, std::span<const int64_t> offsets,
                      std::span<const float> w, Tensor& y) {
      backend_->expert_ffn(x, offsets, w, experts_[size_t(layer)], y);
    };
  }
}

namespace {
std::vector<ExpertWeights> model_experts(Model& m) {
  std::vector<ExpertWeights> v;
  for (int l = 0; l < m.num_moe_layers(); ++l) v.push_back(m.experts(l));
  return v;
}
}  // namespace

Dispatcher::Dispatcher(std::shared_ptr<Communicator> control, std::shared_ptr<Communicator> data,
                       ExpertPlacement placement, Model& model)
    : Dispatcher(std::move(control), std::move(data), std::move(placement), model.backend_ptr(),
                 model_experts(model)) {}

void Dispatcher::run(int moe_layer, const Tensor& x, const Tensor& experts, const Tensor& weights,
                     Tensor& out) {
  const auto t0 = Clock::now();
  const int R = control_->size();
  const int64_t T = x.size(0);
  const int k = int(experts.size(1));
  const int E = placement_.num_experts();
  const Tensor he = backend_->to_host(experts), hw = backend_->to_host(weights);
  const int32_t* ex = he.data<int32_t>();
  const float* wt = hw.data<float>();
  const std::span<const int> owner = placement_.owners(moe_layer);

  // Count rows (a token once per owner rank) and pairs per destination.
  Plan plan(R);
  plan.k = k;
  std::vector<int64_t> last(size_t(R), -1);
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      const int32_t e = ex[t * k + j];
      MOE_ASSERT(e >= 0 && e < E, "expert id {} out of [0, {})", e, E);
      const size_t d = size_t(owner[size_t(e)]);
      ++plan.pairs_to[d];
      if (last[d] != t) {
        last[d] = t;
        ++plan.rows_to[d];
      }
    }
  plan.row_displ = exclusive_scan(plan.rows_to);
  plan.pair_displ = exclusive_scan(plan.pairs_to);
  plan.send_tokens.resize(size_t(total(plan.rows_to)));
  plan.meta.resize(size_t(total(plan.pairs_to)));
  plan.slot.resize(size_t(T * k));
  plan.experts.assign(ex, ex + T * k);
  std::vector<int64_t> nrow(size_t(R), 0), npair(size_t(R), 0);
  last.assign(size_t(R), -1);
  for (int64_t t = 0; t < T; ++t)
    for (int j = 0; j < k; ++j) {
      const int32_t e = ex[t * k + j];
      const size_t d = size_t(owner[size_t(e)]);
      if (last[d] != t) {
        last[d] = t;
        plan.send_tokens[size_t(plan.row_displ[d] + nrow[d]++)] = int32_t(t);
      }
      const int64_t p = plan.pair_displ[d] + npair[d]++;
      plan.meta[size_t(p)] = PairMeta{int32_t(nrow[d] - 1), e, wt[t * k + j]};
      plan.slot[size_t(t * k + j)] = int32_t(p);
    }
  ++stats_.layer_calls;
  stats_.tokens += T;
  const std::vector<Header> in = header_round(kActive, moe_layer, plan);
  stats_.seconds_dispatch += since(t0);
  agreed_layer(in);  // throws on every rank if ranks disagree
  exchange(moe_layer, plan, in, &x, &out);
}

void Dispatcher::serve_until_all_idle() {
  const Plan none(control_->size());
  while (true) {
    const auto t0 = Clock::now();
    const std::vector<Header> in = header_round(kIdle, -1, none);
    stats_.seconds_dispatch += since(t0);
    const int layer = agreed_layer(in);
    if (layer < 0) return;  // every rank is idle: all leave in this same round
    ++stats_.served;
    exchange(layer, none, in, nullptr, nullptr);
  }
}

std::vector<Dispatcher::Header> Dispatcher::header_round(int32_t state, int moe_layer,
                                                         const Plan& plan) {
  const size_t R = size_t(control_->size());
  std::vector<Header> out(R), in(R);
  for (size_t d = 0; d < R; ++d)
    out[d] = Header{state, moe_layer, plan.rows_to[d], plan.pairs_to[d]};
  control_->alltoall(out.data(), in.data(), sizeof(Header));
  stats_.bytes_sent += int64_t(R * sizeof(Header));
  stats_.bytes_received += int64_t(R * sizeof(Header));
  return in;
}

// The MoE layer every active rank is at, -1 when all are idle. Every rank receives the same
// (state, layer) from each peer, so every rank reaches the same verdict.
int Dispatcher::agreed_layer(const std::vector<Header>& in) const {
  int layer = -1;
  for (size_t s = 0; s < in.size(); ++s) {
    if (in[s].state != kActive) continue;
    if (layer >= 0 && in[s].moe_layer != layer)
      throw InternalError(
          fmt::format("expert-parallel exchange: ranks of the replica are at "
                      "different MoE layers ({} and {} on rank {})",
                      layer, in[s].moe_layer, s));
    layer = in[s].moe_layer;
  }
  return layer;
}

void Dispatcher::exchange(int moe_layer, const Plan& plan, const std::vector<Header>& hin,
                          const Tensor* x, Tensor* out) {
  try {
    exchange_rows(moe_layer, plan, hin, x, out);
  } catch (const std::exception& e) {
    // The peers are inside the same exchange and cannot learn of the failure: end the job.
    control_->abort(
        fmt::format("expert-parallel exchange at MoE layer {} failed: {}", moe_layer, e.what()));
  }
}

void Dispatcher::exchange_rows(int moe_layer, const Plan& plan, const std::vector<Header>& hin,
                               const Tensor* x, Tensor* out) {
  auto t0 = Clock::now();
  const size_t R = size_t(control_->size());
  const int64_t H = experts_[size_t(moe_layer)].hidden;
  const int E = placement_.num_experts();
  const int me = control_->rank();
  Backend& be = *backend_;

  // Metadata (host) and token rows (device) to the owners.
  std::vector<int64_t> rows_from(R), pairs_from(R);
  for (size_t s = 0; s < R; ++s) {
    rows_from[s] = hin[s].rows;
    pairs_from[s] = hin[s].pairs;
  }
  const std::vector<int64_t> row_from_displ = exclusive_scan(rows_from);
  const std::vector<int64_t> pair_from_displ = exclusive_scan(pairs_from);
  const int64_t n_rows_in = total(rows_from), n_pairs = total(pairs_from);
  const int64_t n_rows_out = int64_t(plan.send_tokens.size());
  const int64_t n_pairs_out = int64_t(plan.meta.size());
  std::vector<PairMeta> meta(static_cast<size_t>(n_pairs));
  control_->alltoallv(plan.meta.data(), plan.pairs_to, plan.pair_displ, meta.data(), pairs_from,
                      pair_from_displ, sizeof(PairMeta));
  // This rank's own rows skip the exchange: they are gathered straight into rows_in.
  Tensor send_rows = buffer(kSendRows, n_rows_out, H);
  Tensor rows_in = buffer(kRowsIn, n_rows_in, H);
  if (x)
    gather_segments(*x, plan.send_tokens, plan.row_displ, plan.rows_to, send_rows,
                    rows_in.slice_rows(row_from_displ[size_t(me)],
                                       row_from_displ[size_t(me)] + rows_from[size_t(me)]));
  data_->alltoallv(send_rows.raw(), without_self(plan.rows_to, me), plan.row_displ, rows_in.raw(),
                   without_self(rows_from, me), row_from_displ, size_t(H) * 4);
  stats_.rows_sent += n_rows_out;
  stats_.rows_received += n_rows_in;
  stats_.bytes_sent +=
      n_pairs_out * int64_t(sizeof(PairMeta)) + (n_rows_out - plan.rows_to[size_t(me)]) * H * 4;
  stats_.bytes_received +=
      n_pairs * int64_t(sizeof(PairMeta)) + (n_rows_in - rows_from[size_t(me)]) * H * 4;

  // One row per received pair, grouped by expert (stable: sender, then the sender's order).
  std::vector<int64_t> offsets(size_t(E) + 1, 0);
  for (size_t s = 0; s < R; ++s)
    for (int64_t i = pair_from_displ[s]; i < pair_from_displ[s] + pairs_from[s]; ++i) {
      const PairMeta& m = meta[size_t(i)];
      MOE_ASSERT(m.expert >= 0 && m.expert < E && placement_.owner(moe_layer, m.expert) == me,
                 "rank {} received expert {} of MoE layer {}, which it does not hold", me, m.expert,
                 moe_layer);
      MOE_ASSERT(m.row >= 0 && m.row < rows_from[s], "row {} of {} from rank {}", m.row,
                 rows_from[s], s);
      ++offsets[size_t(m.expert) + 1];
    }
  for (int e = 0; e < E; ++e) offsets[size_t(e) + 1] += offsets[size_t(e)];
  std::vector<int64_t> next(offsets.begin(), offsets.end() - 1);
  std::vector<int32_t> gather(static_cast<size_t>(n_pairs)), back(static_cast<size_t>(n_pairs));
  std::vector<float> row_weight(static_cast<size_t>(n_pairs));
  for (size_t s = 0; s < R; ++s)
    for (int64_t i = pair_from_displ[s]; i < pair_from_displ[s] + pairs_from[s]; ++i) {
      const PairMeta& m = meta[size_t(i)];
      const int64_t r = next[size_t(m.expert)]++;
      gather[size_t(r)] = int32_t(row_from_displ[s] + m.row);
      row_weight[size_t(r)] = m.weight;
      back[size_t(i)] = int32_t(r);
    }
  Tensor expert_in = buffer(kPairsA, n_pairs, H);
  be.gather_rows(rows_in, gather, expert_in);
  stats_.seconds_dispatch += since(t0);

  t0 = Clock::now();
  Tensor expert_out = buffer(kPairsB, n_pairs, H);
  compute_(moe_layer, expert_in, offsets, row_weight, expert_out);
  stats_.pairs_computed += n_pairs;
  stats_.seconds_experts += since(t0);

  // Results back in each sender's pair order, then the top-k sum at the origin.
  t0 = Clock::now();
  // This rank's own results go straight into results_in.
  Tensor results_out = buffer(kPairsA, n_pairs, H);  // expert_in is no longer needed
  Tensor results_in = buffer(kResultsIn, n_pairs_out, H);
  gather_segments(expert_out, back, pair_from_displ, pairs_from, results_out,
                  results_in.slice_rows(plan.pair_displ[size_t(me)],
                                        plan.pair_displ[size_t(me)] + plan.pairs_to[size_t(me)]));
  data_->alltoallv(results_out.raw(), without_self(pairs_from, me), pair_from_displ,
                   results_in.raw(), without_self(plan.pairs_to, me), plan.pair_displ,
                   size_t(H) * 4);
  stats_.bytes_sent += (n_pairs - pairs_from[size_t(me)]) * H * 4;
  stats_.bytes_received += (n_pairs_out - plan.pairs_to[size_t(me)]) * H * 4;
  if (out) be.combine(results_in, plan.slot, plan.experts, plan.k, *out);
  stats_.seconds_combine += since(t0);
}

void Dispatcher::gather_segments(const Tensor& src, std::span<const int32_t> idx,
                                 const std::vector<int64_t>& displs,
                                 const std::vector<int64_t>& counts, Tensor& others,
                                 Tensor self_dst) {
  const size_t me = size_t(control_->rank());
  const int64_t lo = displs[me], hi = displs[me] + counts[me], n = int64_t(idx.size());
  if (lo > 0) {
    Tensor head = others.slice_rows(0, lo);
    backend_->gather_rows(src, idx.subspan(0, size_t(lo)), head);
  }
  if (hi > lo) backend_->gather_rows(src, idx.subspan(size_t(lo), size_t(hi - lo)), self_dst);
  if (n > hi) {
    Tensor tail = others.slice_rows(hi, n);
    backend_->gather_rows(src, idx.subspan(size_t(hi)), tail);
  }
}

Tensor Dispatcher::buffer(Buffer which, int64_t rows, int64_t H) {
  Tensor& b = buffers_[size_t(which)];
  if (!b.defined() || b.numel() == 0 || b.size(1) != H || b.size(0) < rows)
    b = backend_->alloc(DType::F32, {std::max<int64_t>(rows + rows / 4, 1), H});
  return b.slice_rows(0, rows);
}

}  // namespace moe::ep
