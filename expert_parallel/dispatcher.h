// Dispatcher: the expert-parallel ExpertRunner of one rank of a replica of R ranks.
//
// Each rank runs attention etc. for its own sequences and holds only its experts (placement.h).
// At every MoE layer the model calls run() after the router hooks, with this rank's tokens and
// their routing on global expert ids. run():
//   1. counts: each (token, slot j) pair goes to the owner of its expert; a token's hidden row
//      goes once to every rank that owns at least one of its experts;
//   2. header all-gather (state, layer, tokens, rows and pairs per peer, from every rank) on the
//      control communicator;
//   3. the pair metadata (row index, expert id, weight) and the token rows reach the owners;
//   4. the owner assembles one row per pair, sorted by expert (stable: source rank, then the
//      source's pair order), and runs its local experts in one grouped call
//      (Backend::expert_ffn over contiguous rows per expert, rows scaled by their weight);
//   5. the origin sums each token's k result rows in ascending expert id order with
//      Backend::combine, exactly as the local path (Backend::moe_experts).
// How rows move in 3-5 (Transport):
//   kExchange      metadata all-to-all-v on the control communicator, token rows all-to-all-v
//                  on the data communicator, one result row per pair back by all-to-all-v (rows
//                  for this rank's own experts, and their results, are copied locally, not
//                  exchanged). Any communicator; the one for NCCL. Four rounds per layer.
//   kSharedMemory  every rank of the replica on one node: before the header round each rank
//                  copies its token rows and metadata into its part of memory that every rank
//                  maps (Communicator::allocate_shared); after it the owner reads the senders'
//                  metadata and gathers its grouped expert rows straight from their parts, and
//                  its experts write their results into its own part; the owner returns only
//                  each pair's result row index (all-to-all-v of int32), and the origin's combine
//                  reads the owners' parts directly. No send or receive buffers: a token row
//                  goes into shared memory, then straight into the owner's grouped rows; a
//                  result row is written once and read in place. Two rounds per layer (a
//                  third, a barrier, when a rank's rows outgrow the parts and every rank maps
//                  larger ones).
//   kAuto          kSharedMemory where the data communicator can share memory, else kExchange.
//                  If the shared parts cannot be mapped (say /dev/shm is too small), every rank
//                  learns it in the same collective and kAuto switches to kExchange from that
//                  exchange on, with a warning; an explicit kSharedMemory fails instead.
// Both transports run the same kernels on the same rows in the same order, so their outputs
// are identical.
// Since every expert row is computed by the same kernel from the same input row and the same
// weight, and the sum runs in the same order, the output equals R = 1's whenever the backend's
// per-row results do not depend on which other rows share the call (true for cpu-ref: outputs
// are bitwise identical; a blocked GEMM backend may differ in the last bits).
// Dropless: no capacity factor; every pair is computed.
// Shared-memory ordering: a rank writes its rows and metadata before the header all-gather and
// owners read them after it; an owner writes results before returning their indices and an
// origin reads them after receiving those. A peer reads a rank's rows and metadata only when
// it has pairs from that rank, and answers with their indices, which the rank waits for: so a
// rank rewrites its rows only once every reader is done. An owner rewrites its results only
// after the next header all-gather, which every origin enters only when done with this one.
//
// Step protocol. Every rank of a replica must take part in every layer exchange of every other
// rank, but ranks hold different sequences and finish at different steps. Each exchange starts
// with a header all-gather in which a rank states whether it is active (in a forward pass, at
// MoE layer l) or idle. A rank that has no more work calls serve_until_all_idle(): it keeps
// answering exchanges (zero tokens of its own, its experts still compute for the others) until
// a header round finds every rank idle; all ranks see the same headers, so all leave together.
// A header also carries whether its sender asks the replica to cancel (request_cancel).
// Replica::run() (replica.h) wraps every engine call with this. A rank with an empty step never
// calls forward; it serves. An exception inside an exchange (after the header round) cannot be
// recovered by the peers: the dispatcher aborts the job through the control communicator.
//
// Ownership: holds the communicators (shared with the replica), the backend, copies of the
// ExpertWeights handles (views of the model's weights, kept alive by their owners' handles) and
// its exchange buffers, which it keeps between calls (sized by the largest step so far).
// Thread-safety: one call at a time (the model's forward thread).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "expert_parallel/communicator.h"
#include "expert_parallel/placement.h"
#include "runtime/models/model.h"

namespace moe::ep {

struct DispatchStats {
  int64_t layer_calls = 0;     // run() calls on this rank
  int64_t served = 0;          // exchanges answered while idle (serve_until_all_idle)
  int64_t tokens = 0;          // own tokens dispatched
  int64_t rows_sent = 0;       // token rows sent (one per token and owner rank, self included)
  int64_t rows_received = 0;   // token rows received for the local experts
  int64_t pairs_computed = 0;  // (token, expert) rows computed by the local experts
  int64_t bytes_sent = 0;      // bytes through the communicators (own rows are copied locally)
  int64_t bytes_received = 0;
  double seconds_dispatch = 0;  // counting, headers, metadata, rows, expansion by expert
  double seconds_experts = 0;   // the grouped expert computation
  double seconds_combine = 0;   // results back and the top-k sum
};

enum class Transport { kAuto, kSharedMemory, kExchange };  // values index the names
const char* transport_name(Transport t);                   // "auto", "shared_memory", "exchange"
// Parses transport_name()'s strings; InputError naming `where` otherwise.
Transport parse_transport(const std::string& s, const std::string& where);

// The grouped expert computation of one layer: rows [offsets[e], offsets[e+1]) of x_rows go
// through local expert e, row r scaled by row_weight[r].  x_rows, y_rows: [N, H];
// offsets: [E + 1] host; row_weight: [N] host. The default is Backend::expert_ffn.
using ExpertCompute =
    std::function<void(int moe_layer, const Tensor& x_rows, std::span<const int64_t> offsets,
                       std::span<const float> row_weight, Tensor& y_rows)>;

class Dispatcher final : public ExpertRunner {
 public:
  // control: host communicator of the replica (headers, metadata); data: the one that moves
  // rows, on the backend's device (on the CPU the same object). experts: [L] the model's
  // ExpertWeights per MoE layer (this rank's experts defined, others empty). `compute` replaces
  // the expert computation (benchmarks); empty = backend->expert_ffn. transport: see above;
  // kSharedMemory where the data communicator cannot share memory is an InputError.
  // Collective over the replica (the ranks agree on the transport).
  Dispatcher(std::shared_ptr<Communicator> control, std::shared_ptr<Communicator> data,
             ExpertPlacement placement, std::shared_ptr<Backend> backend,
             std::vector<ExpertWeights> experts, ExpertCompute compute = {},
             Transport transport = Transport::kAuto);
  // Convenience: the model's backend and experts.
  Dispatcher(std::shared_ptr<Communicator> control, std::shared_ptr<Communicator> data,
             ExpertPlacement placement, Model& model, Transport transport = Transport::kAuto);

  // x: [T, H] f32; experts: [T, k] i32 global ids; weights: [T, k] f32; out: [T, H] f32.
  void run(int moe_layer, const Tensor& x, const Tensor& experts, const Tensor& weights,
           Tensor& out) override;
  // Answers other ranks' exchanges with no tokens of its own until every rank is idle.
  void serve_until_all_idle();

  // Cancelling the replica's current work: a rank asks (request_cancel); its next headers carry
  // the request, and from that header round on cancel_requested() is true on every rank (each
  // rank's own code decides what to give up). clear_cancel() forgets both; Replica::run calls it
  // before each run, when no exchange is under way.
  void request_cancel() { cancel_ = true; }
  bool cancel_requested() const { return cancel_seen_; }
  void clear_cancel() { cancel_ = cancel_seen_ = false; }

  const ExpertPlacement& placement() const { return placement_; }
  Transport transport() const { return transport_; }  // kSharedMemory or kExchange
  const DispatchStats& stats() const { return stats_; }
  void reset_stats() { stats_ = {}; }

 private:
  struct Header;    // per-peer opening message of an exchange (wire format)
  struct PairMeta;  // one (token, expert) pair (wire format)
  struct Plan;      // this rank's outgoing tokens of one layer
  struct Grouped;   // the received pairs grouped by expert
  // Every rank's headers for every peer: [R * R], sender-major.
  std::vector<Header> header_round(int32_t state, int moe_layer, const Plan& plan);
  int agreed_layer(const std::vector<Header>& all) const;
  // x, out: null when serving without tokens of its own.
  void exchange(int moe_layer, const Plan& plan, const std::vector<Header>& all, const Tensor* x,
                Tensor* out);
  void exchange_rows(int moe_layer, const Plan& plan, const std::vector<Header>& all,
                     const Tensor* x, Tensor* out);
  // False (nothing exchanged) when the parts had to grow, could not be mapped and kAuto may
  // switch to kExchange; then every rank returns false.
  bool exchange_shared(int moe_layer, const Plan& plan, const std::vector<Header>& all,
                       const Tensor* x, Tensor* out);
  // The plan of a kSharedMemory exchange (pairs name token rows) as kExchange's (pairs name
  // their row among those sent to the owner).
  static Plan as_row_plan(const Plan& plan);
  // Received pairs (meta, sender-major in segments pair_displ/pairs) grouped by expert; the
  // grouped row of a pair from sender s reads source row row_base[s] + meta.row, which must be
  // below row_base[s] + row_limit[s].
  Grouped group_by_expert(int moe_layer, const std::vector<PairMeta>& meta,
                          const std::vector<int64_t>& pair_displ, const std::vector<int64_t>& pairs,
                          const std::vector<int64_t>& row_base,
                          const std::vector<int64_t>& row_limit) const;
  // Gathers the grouped rows g.gather of src into the experts' input and runs the local experts
  // into y ([n, H]); the gather counts as dispatch time (from t0), the experts as their own.
  void run_local_experts(int moe_layer, const Tensor& src, const Grouped& g, Tensor& y,
                         std::chrono::steady_clock::time_point t0);
  // Maps larger shared parts (collectively: every rank decides from the same headers) holding
  // at least `tokens` token rows, `results` result rows of H floats and `pairs` PairMeta.
  // Throws (on every rank) when the mapping fails.
  void reserve_shared(int64_t H, int64_t tokens, int64_t results, int64_t pairs);
  // Copies this rank's token rows (x, may be null) and pair metadata into its shared part;
  // false (nothing copied) when they do not fit the current parts.
  bool publish_shared(int64_t H, const Plan& plan, const Tensor* x);
  // Rank r's part of the shared mapping, in rows of H floats from row r * part(): token rows
  // [0, tok), result rows [tok, tok + res), then meta_rows rows of PairMeta entries.
  struct SharedLayout {
    int64_t tok = 0, res = 0, meta_rows = 0, H = 0;
    int64_t part() const { return tok + res + meta_rows; }
  };
  static int64_t meta_capacity(const SharedLayout& L);  // PairMeta entries per part
  PairMeta* shared_meta(int rank);                      // rank's metadata in the mapping

  // Exchange buffers on the backend's device, kept between calls (grown to the largest step).
  enum Buffer { kSendRows, kRowsIn, kPairsA, kPairsB, kResultsIn, kNumBuffers };
  Tensor buffer(Buffer which, int64_t rows, int64_t H);  // [rows, H] f32 view
  // out row i = src row idx[i], where idx is laid out in per-peer segments (displs, counts):
  // peers' segments into `others` (same rows), this rank's own segment into `self_dst`.
  void gather_segments(const Tensor& src, std::span<const int32_t> idx,
                       const std::vector<int64_t>& displs, const std::vector<int64_t>& counts,
                       Tensor& others, Tensor self_dst);

  std::shared_ptr<Communicator> control_, data_;
  ExpertPlacement placement_;
  std::shared_ptr<Backend> backend_;
  std::vector<ExpertWeights> experts_;  // [L]
  ExpertCompute compute_;
  Transport requested_ = Transport::kAuto;  // as constructed
  Transport transport_ = Transport::kExchange;
  DispatchStats stats_;
  bool cancel_ = false;       // this rank asked to cancel (carried in its headers)
  bool cancel_seen_ = false;  // some rank's header carried a cancel request
  std::array<Tensor, kNumBuffers> buffers_;
  // kSharedMemory: the mapping of every rank's part, and the parts' layout.
  std::unique_ptr<SharedMemory> shm_;
  SharedLayout shm_layout_;
};

}  // namespace moe::ep
