#include "expert_parallel/dispatcher.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <exception>

#include "runtime/core/error.h"

namespace moe::ep {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Header state bits: kActive (in a forward pass) or idle (0); kCancel: the sender asks the
// replica to give up its run (request_cancel).
constexpr int32_t kIdle = 0, kActive = 1, kCancel = 2;

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
  int32_t state = 0;  // kIdle or kActive, | kCancel
  int32_t moe_layer = -1;
  int64_t tokens = 0;  // the sender's tokens (all of them)
  int64_t rows = 0;    // token rows the sender sends to the receiver
  int64_t pairs = 0;   // (token, expert) pairs among them
};

// One (token, expert) pair as the owner receives it.
struct Dispatcher::PairMeta {
  int32_t row = 0;     // kExchange: index among the rows from this sender; kSharedMemory: token
  int32_t expert = 0;  // global expert id
  float weight = 0.0f;
};

// The received pairs grouped by expert: the input of the local experts.
struct Dispatcher::Grouped {
  std::vector<int64_t> offsets;  // [E + 1] grouped rows of expert e: [offsets[e], offsets[e+1])
  std::vector<int32_t> gather;   // [n] source row of each grouped row
  std::vector<float> weight;     // [n] routing weight of each grouped row
  std::vector<int32_t> back;     // [n] grouped row of received pair i (sender-major order)
};

// This rank's outgoing tokens of one layer, grouped by destination rank.
struct Dispatcher::Plan {
  std::vector<int64_t> rows_to, pairs_to;      // [R]
  std::vector<int64_t> row_displ, pair_displ;  // [R]
  std::vector<int32_t> send_tokens;            // [sum rows_to] token of each sent row
  std::vector<PairMeta> meta;                  // [sum pairs_to] destination-major, (t, j) order
  std::vector<int32_t> slot;                   // [T * k] result row of pair (t, j)
  std::vector<int32_t> experts;                // [T * k] global expert of pair (t, j)
  int64_t tokens = 0;
  int k = 0;
  static_assert(sizeof(Header) == 32 && sizeof(PairMeta) == 12, "wire structs have no padding");

  explicit Plan(int R)
      : rows_to(size_t(R), 0),
        pairs_to(size_t(R), 0),
        row_displ(size_t(R), 0),
        pair_displ(size_t(R), 0) {}
};

Dispatcher::Dispatcher(std::shared_ptr<Communicator> control, std::shared_ptr<Communicator> data,
                       ExpertPlacement placement, std::shared_ptr<Backend> backend,
                       std::vector<ExpertWeights> experts, ExpertCompute compute,
                       Transport transport)
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
  const bool can_share = data_->device() == Device::CPU && data_->can_share_memory();
  if (transport == Transport::kSharedMemory && !can_share)
    throw InputError("expert-parallel transport",
                     fmt::format("shared_memory needs every rank of the replica on one node and a "
                                 "host communicator; the {} communicator of {} ranks cannot map "
                                 "memory across them (use exchange or auto)",
                                 data_->name(), data_->size()));
  requested_ = transport;
  transport_ = transport != Transport::kExchange && can_share ? Transport::kSharedMemory
                                                              : Transport::kExchange;
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
                       ExpertPlacement placement, Model& model, Transport transport)
    : Dispatcher(std::move(control), std::move(data), std::move(placement), model.backend_ptr(),
                 model_experts(model), {}, transport) {}

namespace {
constexpr const char* kTransportNames[] = {"auto", "shared_memory", "exchange"};  // by Transport
}  // namespace

const char* transport_name(Transport t) {
  return kTransportNames[int(t)];
}

Transport parse_transport(const std::string& s, const std::string& where) {
  for (int t = 0; t < 3; ++t)
    if (s == kTransportNames[t]) return Transport(t);
  throw InputError(where, fmt::format("expected auto, shared_memory or exchange, found \"{}\"", s));
}

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
  plan.tokens = T;
  const bool rows_are_tokens = transport_ == Transport::kSharedMemory;
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
      plan.meta[size_t(p)] =
          PairMeta{rows_are_tokens ? int32_t(t) : int32_t(nrow[d] - 1), e, wt[t * k + j]};
      plan.slot[size_t(t * k + j)] = int32_t(p);
    }
  ++stats_.layer_calls;
  stats_.tokens += T;
  // Shared memory: the rows and metadata go out before the header round when they fit (the
  // header round then also tells the peers they are there).
  if (transport_ == Transport::kSharedMemory)
    publish_shared(experts_[size_t(moe_layer)].hidden, plan, &x);
  const std::vector<Header> all = header_round(kActive, moe_layer, plan);
  stats_.seconds_dispatch += since(t0);
  agreed_layer(all);  // throws on every rank if ranks disagree
  exchange(moe_layer, plan, all, &x, &out);
}

void Dispatcher::serve_until_all_idle() {
  const Plan none(control_->size());
  while (true) {
    const auto t0 = Clock::now();
    const std::vector<Header> all = header_round(kIdle, -1, none);
    stats_.seconds_dispatch += since(t0);
    const int layer = agreed_layer(all);
    if (layer < 0) return;  // every rank is idle: all leave in this same round
    ++stats_.served;
    exchange(layer, none, all, nullptr, nullptr);
  }
}

std::vector<Dispatcher::Header> Dispatcher::header_round(int32_t state, int moe_layer,
                                                         const Plan& plan) {
  const size_t R = size_t(control_->size());
  std::vector<Header> out(R), all(R * R);
  for (size_t d = 0; d < R; ++d)
    out[d] = Header{state | (cancel_ ? kCancel : 0), moe_layer, plan.tokens, plan.rows_to[d],
                    plan.pairs_to[d]};
  control_->allgather(out.data(), all.data(), R * sizeof(Header));
  for (size_t s = 0; s < R; ++s) cancel_seen_ = cancel_seen_ || (all[s * R].state & kCancel);
  stats_.bytes_sent += int64_t(R * sizeof(Header));
  stats_.bytes_received += int64_t(R * R * sizeof(Header));
  return all;
}

// The MoE layer every active rank is at, -1 when all are idle. Every rank sees the same
// headers, so every rank reaches the same verdict.
int Dispatcher::agreed_layer(const std::vector<Header>& all) const {
  const size_t R = size_t(control_->size());
  int layer = -1;
  for (size_t s = 0; s < R; ++s) {
    const Header& h = all[s * R];
    if (!(h.state & kActive)) continue;
    if (layer >= 0 && h.moe_layer != layer)
      throw InternalError(
          fmt::format("expert-parallel exchange: ranks of the replica are at "
                      "different MoE layers ({} and {} on rank {})",
                      layer, h.moe_layer, s));
    layer = h.moe_layer;
  }
  return layer;
}

void Dispatcher::exchange(int moe_layer, const Plan& plan, const std::vector<Header>& all,
                          const Tensor* x, Tensor* out) {
  try {
    if (transport_ == Transport::kExchange) {
      exchange_rows(moe_layer, plan, all, x, out);
    } else if (!exchange_shared(moe_layer, plan, all, x, out)) {
      transport_ = Transport::kExchange;  // every rank, from this exchange on
      exchange_rows(moe_layer, as_row_plan(plan), all, x, out);
    }
  } catch (const std::exception& e) {
    // The peers are inside the same exchange and cannot learn of the failure: end the job.
    control_->abort(
        fmt::format("expert-parallel exchange at MoE layer {} failed: {}", moe_layer, e.what()));
  }
}

namespace {
// Received counts from every sender: column `me` of the header matrix.
template <class F>
std::vector<int64_t> column(const std::vector<F>& all, size_t R, size_t me, int64_t F::*field) {
  std::vector<int64_t> v(R);
  for (size_t s = 0; s < R; ++s) v[s] = all[s * R + me].*field;
  return v;
}
}  // namespace

Dispatcher::Grouped Dispatcher::group_by_expert(int moe_layer, const std::vector<PairMeta>& meta,
                                                const std::vector<int64_t>& pair_displ,
                                                const std::vector<int64_t>& pairs,
                                                const std::vector<int64_t>& row_base,
                                                const std::vector<int64_t>& row_limit) const {
  const int E = placement_.num_experts();
  const int me = control_->rank();
  const size_t n = meta.size();
  Grouped g;
  g.offsets.assign(size_t(E) + 1, 0);
  for (size_t s = 0; s < pairs.size(); ++s)
    for (int64_t i = pair_displ[s]; i < pair_displ[s] + pairs[s]; ++i) {
      const PairMeta& m = meta[size_t(i)];
      MOE_ASSERT(m.expert >= 0 && m.expert < E && placement_.owner(moe_layer, m.expert) == me,
                 "rank {} received expert {} of MoE layer {}, which it does not hold", me, m.expert,
                 moe_layer);
      MOE_ASSERT(m.row >= 0 && m.row < row_limit[s], "row {} of {} from rank {}", m.row,
                 row_limit[s], s);
      ++g.offsets[size_t(m.expert) + 1];
    }
  for (int e = 0; e < E; ++e) g.offsets[size_t(e) + 1] += g.offsets[size_t(e)];
  std::vector<int64_t> next(g.offsets.begin(), g.offsets.end() - 1);
  g.gather.resize(n);
  g.weight.resize(n);
  g.back.resize(n);
  for (size_t s = 0; s < pairs.size(); ++s)
    for (int64_t i = pair_displ[s]; i < pair_displ[s] + pairs[s]; ++i) {
      const PairMeta& m = meta[size_t(i)];
      const int64_t r = next[size_t(m.expert)]++;
      g.gather[size_t(r)] = int32_t(row_base[s] + m.row);
      g.weight[size_t(r)] = m.weight;
      g.back[size_t(i)] = int32_t(r);
    }
  return g;
}

void Dispatcher::run_local_experts(int moe_layer, const Tensor& src, const Grouped& g, Tensor& y,
                                   Clock::time_point t0) {
  const int64_t n = int64_t(g.gather.size());
  Tensor x_rows = buffer(kPairsA, n, src.size(1));
  backend_->gather_rows(src, g.gather, x_rows);
  stats_.seconds_dispatch += since(t0);
  const auto t1 = Clock::now();
  compute_(moe_layer, x_rows, g.offsets, g.weight, y);
  stats_.pairs_computed += n;
  stats_.seconds_experts += since(t1);
}

void Dispatcher::exchange_rows(int moe_layer, const Plan& plan, const std::vector<Header>& all,
                               const Tensor* x, Tensor* out) {
  auto t0 = Clock::now();
  const size_t R = size_t(control_->size());
  const int64_t H = experts_[size_t(moe_layer)].hidden;
  const int me = control_->rank();

  // Metadata (host) and token rows (device) to the owners.
  const std::vector<int64_t> rows_from = column(all, R, size_t(me), &Header::rows);
  const std::vector<int64_t> pairs_from = column(all, R, size_t(me), &Header::pairs);
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

  // One row per received pair, grouped by expert.
  const Grouped g =
      group_by_expert(moe_layer, meta, pair_from_displ, pairs_from, row_from_displ, rows_from);
  Tensor expert_out = buffer(kPairsB, n_pairs, H);
  run_local_experts(moe_layer, rows_in, g, expert_out, t0);

  // Results back in each sender's pair order, then the top-k sum at the origin.
  t0 = Clock::now();
  // This rank's own results go straight into results_in; the experts' input rows (kPairsA)
  // are no longer needed.
  Tensor results_out = buffer(kPairsA, n_pairs, H);
  Tensor results_in = buffer(kResultsIn, n_pairs_out, H);
  gather_segments(expert_out, g.back, pair_from_displ, pairs_from, results_out,
                  results_in.slice_rows(plan.pair_displ[size_t(me)],
                                        plan.pair_displ[size_t(me)] + plan.pairs_to[size_t(me)]));
  data_->alltoallv(results_out.raw(), without_self(pairs_from, me), pair_from_displ,
                   results_in.raw(), without_self(plan.pairs_to, me), plan.pair_displ,
                   size_t(H) * 4);
  stats_.bytes_sent += (n_pairs - pairs_from[size_t(me)]) * H * 4;
  stats_.bytes_received += (n_pairs_out - plan.pairs_to[size_t(me)]) * H * 4;
  if (out) backend_->combine(results_in, plan.slot, plan.experts, plan.k, *out);
  stats_.seconds_combine += since(t0);
}

int64_t Dispatcher::meta_capacity(const SharedLayout& L) {
  return L.meta_rows * L.H * 4 / int64_t(sizeof(PairMeta));
}

Dispatcher::PairMeta* Dispatcher::shared_meta(int rank) {
  const SharedLayout& L = shm_layout_;
  return reinterpret_cast<PairMeta*>(shm_->data() +
                                     size_t((rank * L.part() + L.tok + L.res) * L.H) * 4);
}

bool Dispatcher::publish_shared(int64_t H, const Plan& plan, const Tensor* x) {
  if (!shm_ || shm_layout_.H != H || plan.tokens > shm_layout_.tok ||
      int64_t(plan.meta.size()) > meta_capacity(shm_layout_))
    return false;
  const int me = control_->rank();
  if (x && plan.tokens > 0) {
    MOE_ASSERT(x->dtype() == DType::F32 && x->size(1) == H, "tokens must be [T, {}] f32", H);
    std::memcpy(shm_->data() + size_t(me * shm_layout_.part() * H) * 4, x->raw(),
                size_t(plan.tokens * H) * 4);
  }
  if (!plan.meta.empty())
    std::memcpy(shared_meta(me), plan.meta.data(), plan.meta.size() * sizeof(PairMeta));
  shm_->fence();  // before the collective that tells the peers
  return true;
}

bool Dispatcher::exchange_shared(int moe_layer, const Plan& plan, const std::vector<Header>& all,
                                 const Tensor* x, Tensor* out) {
  auto t0 = Clock::now();
  const size_t R = size_t(control_->size());
  const int64_t H = experts_[size_t(moe_layer)].hidden;
  const int me = control_->rank();

  // Every rank's needs, from the headers every rank holds: every rank decides the same.
  int64_t max_tokens = 0, max_pairs_out = 0, max_pairs_in = 0;
  for (size_t r = 0; r < R; ++r) {
    int64_t out_r = 0, in_r = 0;
    for (size_t d = 0; d < R; ++d) {
      out_r += all[r * R + d].pairs;
      in_r += all[d * R + r].pairs;
    }
    max_tokens = std::max(max_tokens, all[r * R].tokens);
    max_pairs_out = std::max(max_pairs_out, out_r);
    max_pairs_in = std::max(max_pairs_in, in_r);
  }
  const bool fits = shm_ && shm_layout_.H == H && max_tokens <= shm_layout_.tok &&
                    max_pairs_out <= meta_capacity(shm_layout_) && max_pairs_in <= shm_layout_.res;
  if (!fits) {
    // Some rank's rows did not fit (or this is the first exchange): every rank maps larger
    // parts, publishes again and waits for the others to have done so.
    try {
      reserve_shared(H, max_tokens, max_pairs_in, max_pairs_out);
    } catch (const Error& e) {
      if (requested_ != Transport::kAuto) throw;
      if (me == 0)
        spdlog::warn(
            "expert-parallel transport: {}; switching to the all-to-all-v exchange for "
            "the rest of this run (MOE_EP_TRANSPORT=exchange skips the attempt)",
            e.what());
      return false;
    }
    const bool ok = publish_shared(H, plan, x);
    MOE_ASSERT(ok, "the shared parts were grown and still do not fit");
    control_->barrier();
  }
  shm_->fence();  // the senders' token rows and metadata are visible from here
  const SharedLayout& L = shm_layout_;

  // This rank's pairs from every sender, read from the sender's metadata.
  const std::vector<int64_t> pairs_from = column(all, R, size_t(me), &Header::pairs);
  const std::vector<int64_t> pair_from_displ = exclusive_scan(pairs_from);
  const int64_t n_pairs = total(pairs_from), n_pairs_out = int64_t(plan.meta.size());
  std::vector<PairMeta> meta(static_cast<size_t>(n_pairs));
  std::vector<int64_t> row_base(R), row_limit(R);
  for (size_t s = 0; s < R; ++s) {
    int64_t displ = 0;  // where the sender's pairs for this rank start in its metadata
    for (size_t d = 0; d < size_t(me); ++d) displ += all[s * R + d].pairs;
    if (pairs_from[s] > 0)
      std::memcpy(meta.data() + pair_from_displ[s], shared_meta(int(s)) + displ,
                  size_t(pairs_from[s]) * sizeof(PairMeta));
    row_base[s] = int64_t(s) * L.part();
    row_limit[s] = all[s * R].tokens;
  }
  // Every rank's parts as rows: [R * part, H] f32.
  Tensor shared = Tensor::view(DType::F32, {int64_t(R) * L.part(), H}, shm_->data(), nullptr);
  const Grouped g =
      group_by_expert(moe_layer, meta, pair_from_displ, pairs_from, row_base, row_limit);
  stats_.rows_sent += int64_t(plan.send_tokens.size());
  stats_.rows_received += total(column(all, R, size_t(me), &Header::rows));
  stats_.bytes_sent += n_pairs * 4;
  stats_.bytes_received += n_pairs_out * 4;
  const int64_t res0 = me * L.part() + L.tok;  // this rank's result rows
  Tensor expert_out = shared.slice_rows(res0, res0 + n_pairs);
  run_local_experts(moe_layer, shared, g, expert_out, t0);

  // Each pair's result row index back to its sender; the origin reads the rows in place.
  t0 = Clock::now();
  shm_->fence();  // the results, before the all-to-all-v that publishes them
  std::vector<int32_t> back_in(static_cast<size_t>(n_pairs_out));
  control_->alltoallv(g.back.data(), pairs_from, pair_from_displ, back_in.data(), plan.pairs_to,
                      plan.pair_displ, sizeof(int32_t));
  shm_->fence();
  if (out) {
    const std::span<const int> owner = placement_.owners(moe_layer);
    std::vector<int32_t> slot(plan.slot.size());
    for (size_t i = 0; i < slot.size(); ++i) {
      const int64_t o = owner[size_t(plan.experts[i])];
      slot[i] = int32_t(o * L.part() + L.tok + back_in[size_t(plan.slot[i])]);
    }
    backend_->combine(shared, slot, plan.experts, plan.k, *out);
  }
  stats_.seconds_combine += since(t0);
  return true;
}

Dispatcher::Plan Dispatcher::as_row_plan(const Plan& plan) {
  Plan p = plan;
  std::vector<int32_t> row_of(size_t(plan.tokens));  // token -> its row among those to d
  for (size_t d = 0; d < plan.rows_to.size(); ++d) {
    for (int64_t i = 0; i < plan.rows_to[d]; ++i)
      row_of[size_t(plan.send_tokens[size_t(plan.row_displ[d] + i)])] = int32_t(i);
    for (int64_t i = plan.pair_displ[d]; i < plan.pair_displ[d] + plan.pairs_to[d]; ++i)
      p.meta[size_t(i)].row = row_of[size_t(plan.meta[size_t(i)].row)];
  }
  return p;
}

void Dispatcher::reserve_shared(int64_t H, int64_t tokens, int64_t results, int64_t pairs) {
  SharedLayout L;
  if (shm_ && shm_layout_.H == H) L = shm_layout_;
  shm_.reset();  // every rank reaches this from the same headers
  auto grow = [](int64_t have, int64_t need) {
    return std::max(have, std::max<int64_t>(need + need / 4, 1));
  };
  L.H = H;
  L.tok = grow(L.tok, tokens);
  L.res = grow(L.res, results);
  const int64_t row_bytes = H * 4;
  L.meta_rows = grow(L.meta_rows, (pairs * int64_t(sizeof(PairMeta)) + row_bytes - 1) / row_bytes);
  const int64_t rows_total = int64_t(control_->size()) * L.part();
  MOE_ASSERT(rows_total <= INT32_MAX, "shared parts of {} rows exceed the int32 row index",
             rows_total);
  shm_ = data_->allocate_shared(size_t(L.part() * row_bytes));
  MOE_ASSERT(shm_, "the {} communicator could share memory and then did not", data_->name());
  shm_layout_ = L;
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
