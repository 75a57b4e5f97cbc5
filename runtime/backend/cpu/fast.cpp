#include "runtime/backend/cpu/fast.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/backend/cpu/kernels.h"
#include "runtime/backend/cpu/onednn.h"
#include "runtime/core/error.h"

namespace moe {

namespace {

// At most this many rows, a bf16 product goes through the streaming kernel (gemm_bf16_small)
// instead of oneDNN. The two give each row different last bits, so the choice must not depend
// on how a batch's tokens are split: a linear's rows are the tokens of this rank's sequences
// (half a replica's with expert parallelism over 2 ranks), so its limit stays low and fixed
// (kSmallM). An expert's rows are the same tokens on whichever rank owns it, so its products may
// use a higher limit: without AMX the kernel measured faster than oneDNN's run-time-M matmul up
// to 64 rows at K = 2048 (bench/small_gemm_bench: 1.13x at 64, 0.99x at 128; at K = 1024 0.97x
// at 64), and batched decode on the OLMoE-shaped bench gained (bench/README.md). With AMX,
// oneDNN's tile kernels: kSmallM, not measured against 64. A level with its own blocked kernel
// (avx2) keeps kSmallM for experts too: its two kernels give the same bits, and the blocked one was as fast
// at 16 rows and faster above (bench/README.md, the avx2 level).
constexpr int64_t kSmallM = 16;
constexpr int64_t kExpertSmallM = 64;
constexpr int64_t kSpreadRows = 16;          // experts spread over threads above this mean
constexpr int64_t kParallelElems = 1 << 15;  // below this, element-wise ops stay serial
constexpr int64_t kMxfp4FusedRows = 4;       // at most this many rows: the fused MXFP4 kernel

template <typename T>
T* grow(std::vector<T>& v, int64_t n) {
  if (int64_t(v.size()) < n) v.resize(size_t(n));
  return v.data();
}

// out[i] = bf16(x[i]) through the level's kernel, or dtype.h's where there is none.
void f32_to_bf16_range(const cpu::Kernels* k, const float* x, uint16_t* out, int64_t n) {
  if (k) {
    k->f32_to_bf16(x, out, n);
    return;
  }
  for (int64_t i = 0; i < n; ++i) out[i] = f32_to_bf16(x[i]);
}

// Converts rows of f32 to bf16 (parallel for large inputs).
void to_bf16(const cpu::Kernels* k, const float* x, uint16_t* out, int64_t n) {
  if (n < kParallelElems) {
    f32_to_bf16_range(k, x, out, n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const int64_t b = n * t / nt / 16 * 16, e = t + 1 == nt ? n : n * (t + 1) / nt / 16 * 16;
    f32_to_bf16_range(k, x + b, out + b, e - b);
  }
}

// Runs fn(n0, n1) on each OpenMP thread over its share of the rows [0, N); on the calling thread
// alone when `work` (multiply-adds) is small.
template <typename Fn>
void split_rows(int64_t N, int64_t work, const Fn& fn) {
#pragma omp parallel if (work > kParallelElems)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    fn(N * t / nt, N * (t + 1) / nt);
  }
}

// y[t, o] += b[o].  b: [n] (any float dtype); y: [T, n]
void add_bias_rows(const Tensor& b, int64_t T, int64_t n, float* y) {
  std::vector<float> bias(static_cast<size_t>(n));
  cpu_load_row(b, 0, n, bias.data());
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < n; ++o) y[t * n + o] += bias[size_t(o)];
}

// dst[r, c] = src[r, c] * weight[r] (dst may be src).  src, dst: [m, H]; weight: [m]
void scale_rows(const float* src, int64_t m, int64_t H, const float* weight, float* dst) {
#pragma omp parallel for if (m * H > kParallelElems)
  for (int64_t r = 0; r < m; ++r)
    for (int64_t c = 0; c < H; ++c) dst[r * H + c] = src[r * H + c] * weight[r];
}

}  // namespace

struct CpuFastBackend::Scratch {
  std::vector<uint16_t> xb, rows, wdec;
  std::vector<float> gate, up;
  // One bf16 expert FFN's intermediates, one set per OpenMP thread (experts_bf16).
  struct Expert {
    std::vector<float> gate, up;  // [m, 2I] or [m, I]; [m, I]
    std::vector<uint16_t> act;          // [m, I]
  };
  std::vector<Expert> experts;
  struct Rope {
    std::vector<float> inv_freq;
    float scale = 1.0f;
    std::vector<float> cos, sin;  // [positions][half]
  };
  std::vector<Rope> ropes;
};

CpuFastBackend::CpuFastBackend(BackendOptions options)
    : CpuReferenceBackend(std::move(options)), s_(std::make_unique<Scratch>()) {
  options_.bf16_rounding = false;  // the fast path keeps f32 activations
  round_ = false;
  k_ = cpu::kernels();
  expert_small_m_ = k_ && (k_->attention_rows_amx || k_->gemm_bf16_large)
                        ? kSmallM
                        : kExpertSmallM;
}

CpuFastBackend::~CpuFastBackend() = default;

DType CpuFastBackend::kv_dtype(DType act) const {
  return act == DType::BF16 && k_ ? DType::BF16 : DType::F32;
}

namespace {

// A bf16 weight's panels (kernels.h), attached by prepare_weight.
struct Bf16Panels : PreparedLayout {
  Tensor data;  // [panels_size(N, K)] bf16
};

}  // namespace

Tensor CpuFastBackend::prepare_weight(const Tensor& w, WeightUse use) {
  if (w.dtype() == DType::F16) return w.to_f32();
  const size_t align = w.dtype() == DType::BF16 ? 2 : w.dtype() == DType::F32 ? 4 : 1;
  Tensor out = reinterpret_cast<uintptr_t>(w.raw()) % align != 0 ? w.clone() : w;
  if (use != WeightUse::kProduct || !k_ || !k_->gemm_bf16_small_panels ||
      w.dtype() != DType::BF16 || w.ndim() != 2 || w.numel() == 0)
    return out;
  // The level's kernels read bf16 weights in panels: made once here, in parallel, so that no
  // product transposes rows again. The rows stay as they are for everything else (and cost
  // nothing more where nothing reads them: a checkpoint's are mapped from the file).
  const int64_t N = out.size(0), K = out.size(1);
  auto panels = std::make_shared<Bf16Panels>();
  panels->data = Tensor::empty(DType::BF16, {cpu::panels_size(N, K)});
  const uint16_t* rows = out.data<uint16_t>();
  uint16_t* dst = panels->data.data<uint16_t>();
  const int64_t count = (N + cpu::kPanelRows - 1) / cpu::kPanelRows;
#pragma omp parallel for schedule(static) if (N * K > kParallelElems)
  for (int64_t p = 0; p < count; ++p) cpu::pack_bf16_panels(rows, N, K, K, p, p + 1, dst);
  return out.with_layout(std::move(panels));
}

CpuFastBackend::Bf16Weight CpuFastBackend::bf16_weight(const Tensor& w) {
  const auto* panels = dynamic_cast<const Bf16Panels*>(w.layout());
  return {w.data<uint16_t>(), panels ? panels->data.data<uint16_t>() : nullptr};
}

void CpuFastBackend::gemm_small(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w, int64_t n0,
                                int64_t n1, float* y, int64_t ldy) const {
  if (w.panels) {
    k_->gemm_bf16_small_panels(x, M, K, K, w.panels, n0, n1, y, ldy);
  } else {
    k_->gemm_bf16_small(x, M, K, K, w.rows, K, n0, n1, y, ldy);
  }
}

void CpuFastBackend::matmul_bf16(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w, int64_t N,
                                 float* y, int64_t ldy) {
  matmul_bf16_upto(x, M, K, w, N, y, ldy, kSmallM);
}

void CpuFastBackend::matmul_bf16_upto(const uint16_t* x, int64_t M, int64_t K, Bf16Weight w,
                                      int64_t N, float* y, int64_t ldy, int64_t small_m) {
  if (M == 0) return;
  if (k_ && M <= small_m) {
    split_rows(N, N * K * M,
               [&](int64_t n0, int64_t n1) { gemm_small(x, M, K, w, n0, n1, y, ldy); });
    return;
  }
  if (k_ && k_->gemm_bf16_large) {
    // The level's own blocked kernel (no fast oneDNN bf16 matmul there): each thread its
    // share of the weight rows, in blocks of 16 (the kernel's panel), with its own scratch.
#pragma omp parallel if (N * K * M > kParallelElems)
    {
      const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
      const int64_t n0 = N * t / nt / 16 * 16, n1 = t + 1 == nt ? N : N * (t + 1) / nt / 16 * 16;
      thread_local std::vector<float> scratch;
      float* s = grow(scratch, k_->gemm_bf16_large_scratch(K));
      if (w.panels && k_->gemm_bf16_large_panels) {
        k_->gemm_bf16_large_panels(x, M, K, K, w.panels, n0, n1, y, ldy, s);
      } else {
        k_->gemm_bf16_large(x, M, K, K, w.rows, K, n0, n1, y, ldy, s);
      }
    }
    return;
  }
  if (cpu::onednn_gemm_bf16(x, M, K, K, w.rows, N, y, ldy)) return;
  // No usable oneDNN kernel on this machine: plain loops.
#pragma omp parallel for
  for (int64_t n = 0; n < N; ++n)
    for (int64_t m = 0; m < M; ++m) {
      float s = 0;
      for (int64_t k = 0; k < K; ++k)
        s += bf16_to_f32(x[m * K + k]) * bf16_to_f32(w.rows[n * K + k]);
      y[m * ldy + n] = s;
    }
}

void CpuFastBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  const int64_t T = x.size(0), in = x.size(1), out = w.size(0);
  MOE_ASSERT(w.size(1) == in && y.size(0) == T && y.size(1) == out, "linear {} x {}^T -> {}",
             shape_str(x.shape()), shape_str(w.shape()), shape_str(y.shape()));
  float* yp = y.data<float>();
  if (w.dtype() == DType::BF16) {
    uint16_t* xb = grow(s_->xb, T * in);
    to_bf16(k_, x.data<float>(), xb, T * in);
    matmul_bf16(xb, T, in, bf16_weight(w), out, yp, out);
  } else if (w.dtype() != DType::F32 ||
             !cpu::onednn_gemm_f32(x.data<float>(), T, in, in, w.data<float>(), out, yp, out)) {
    CpuReferenceBackend::linear(x, w, b, y);
    return;
  }
  if (b) add_bias_rows(*b, T, out, yp);
}

void CpuFastBackend::norm(const Tensor& x, const Tensor& w, const Tensor* b, const NormSpec& spec,
                          Tensor& out) {
  if (spec.kind == NormSpec::Kind::kLayerNorm) {
    CpuReferenceBackend::norm(x, w, b, spec, out);
    return;
  }
  const int64_t N = x.size(0), D = x.size(1);
  std::vector<float> wf(static_cast<size_t>(D));
  cpu_load_row(w, 0, D, wf.data());
  const float* xp = x.data<float>();
  float* op = out.data<float>();
#pragma omp parallel for if (N * D > kParallelElems)
  for (int64_t r = 0; r < N; ++r) {
    const float* xr = xp + r * D;
    float* yr = op + r * D;
    float ss = 0;
    for (int64_t i = 0; i < D; ++i) ss += xr[i] * xr[i];
    const float rstd = 1.0f / std::sqrt(ss / float(D) + spec.eps);
    for (int64_t i = 0; i < D; ++i) yr[i] = wf[size_t(i)] * (xr[i] * rstd);
  }
}

void CpuFastBackend::add(const Tensor& x, Tensor& inout) {
  const int64_t n = x.numel();
  const float* a = x.data<float>();
  float* o = inout.data<float>();
#pragma omp parallel for simd if (n > kParallelElems)
  for (int64_t i = 0; i < n; ++i) o[i] += a[i];
}

void CpuFastBackend::rope(Tensor& x, std::span<const int32_t> pos, const RopeTable& table) {
  const int64_t T = x.size(0), n = x.size(1), d = x.size(2), half = d / 2;
  MOE_ASSERT(int64_t(table.inv_freq.size()) == half, "rope table of {} for head_dim {}",
             table.inv_freq.size(), d);
  // cos/sin per position, computed once per table (same angles as the reference).
  Scratch::Rope* r = nullptr;
  for (Scratch::Rope& c : s_->ropes)
    if (c.inv_freq == table.inv_freq && c.scale == table.scale) r = &c;
  if (!r) {
    s_->ropes.push_back({table.inv_freq, table.scale, {}, {}});
    r = &s_->ropes.back();
  }
  int32_t max_pos = 0;
  for (int32_t p : pos) max_pos = std::max(max_pos, p);
  const int64_t have = int64_t(r->cos.size()) / std::max<int64_t>(half, 1);
  if (max_pos >= have) {
    const int64_t want = std::max<int64_t>(max_pos + 1, 2 * have);
    r->cos.resize(size_t(want * half));
    r->sin.resize(size_t(want * half));
    for (int64_t p = have; p < want; ++p)
      for (int64_t i = 0; i < half; ++i) {
        const float angle = float(p) * table.inv_freq[size_t(i)];
        r->cos[size_t(p * half + i)] = float(std::cos(double(angle))) * table.scale;
        r->sin[size_t(p * half + i)] = float(std::sin(double(angle))) * table.scale;
      }
  }
  float* xp = x.data<float>();
#pragma omp parallel for if (T * n * d > kParallelElems)
  for (int64_t t = 0; t < T; ++t) {
    const float* c = r->cos.data() + int64_t(pos[size_t(t)]) * half;
    const float* s = r->sin.data() + int64_t(pos[size_t(t)]) * half;
    for (int64_t h = 0; h < n; ++h) {
      float* v = xp + (t * n + h) * d;
      for (int64_t i = 0; i < half; ++i) {
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c[i] - x2 * s[i];
        v[i + half] = x2 * c[i] + x1 * s[i];
      }
    }
  }
}

void CpuFastBackend::kv_store(const Tensor& k, const Tensor& v, std::span<const AttentionSeq> seqs,
                              KvLayer& kv) {
  if (kv.k.dtype() != DType::BF16) {
    CpuReferenceBackend::kv_store(k, v, seqs, kv);
    return;
  }
  MOE_ASSERT(kv.block_size == 16, "the bf16 KV layout needs blocks of 16, not {}", kv.block_size);
  const int64_t nkv = k.size(1), D = k.size(2);
  uint16_t* kp = kv.k.data<uint16_t>();
  uint16_t* vp = kv.v.data<uint16_t>();
  for (const AttentionSeq& s : seqs)
    for (int32_t i = 0; i < s.q_len; ++i) {
      const int64_t p = s.ctx_len - s.q_len + i, row = s.q_begin + i;
      const int64_t blk = s.blocks[p / 16];
      for (int64_t h = 0; h < nkv; ++h) {
        const int64_t off = (blk * nkv + h) * 16 * D;
        k_->kv_store_bf16(k.data<float>() + (row * nkv + h) * D,
                           v.data<float>() + (row * nkv + h) * D, int(D), int(p % 16), kp + off,
                           vp + off);
      }
    }
}

void CpuFastBackend::attention(const Tensor& q, const KvLayer& kv,
                               std::span<const AttentionSeq> seqs, const AttentionArgs& args,
                               Tensor& out) {
  const int64_t nh = q.size(1), D = q.size(2), nkv = kv.k.size(1);
  if (kv.k.dtype() != DType::BF16 || D > 256 || D % 2) {
    CpuReferenceBackend::attention(q, kv, seqs, args, out);
    return;
  }
  const int64_t group = nh / nkv, block_stride = nkv * 16 * D;
  std::vector<float> sinks;
  if (args.sinks) {
    sinks.resize(static_cast<size_t>(nh));
    cpu_load_row(*args.sinks, 0, nh, sinks.data());
  }
  // Work items: consecutive query rows of one sequence, per head. A sequence with at least a
  // full AMX tile of queries (prefill) goes through the tile units kAmxAttentionRows rows at a
  // time, its last tile padded; shorter ones (decode) kAttentionTileRows rows at a time on the
  // vector units. Either way a row's result does not depend on the other rows of its tile.
  const bool amx = k_->attention_rows_amx && D % 32 == 0 && D <= 128;
  auto tile_rows = [&](const AttentionSeq& s) {
    return amx && s.q_len >= cpu::kAmxAttentionRows ? cpu::kAmxAttentionRows
                                                    : cpu::kAttentionTileRows;
  };
  std::vector<std::pair<int32_t, int32_t>> work;  // (seq, first query index of the tile)
  int64_t max_ctx = 0, max_tile = 1;
  for (size_t s = 0; s < seqs.size(); ++s) {
    const int tile = tile_rows(seqs[s]);
    max_ctx = std::max(max_ctx, seqs[s].ctx_len);
    max_tile = std::max<int64_t>(max_tile, tile);
    for (int32_t i = 0; i < seqs[s].q_len; i += tile) work.emplace_back(int32_t(s), i);
  }
  const uint16_t* kp = kv.k.data<uint16_t>();
  const uint16_t* vp = kv.v.data<uint16_t>();
  const float* qp = q.data<float>();
  float* op = out.data<float>();
  constexpr int kMaxTile = std::max(cpu::kAttentionTileRows, cpu::kAmxAttentionRows);
#pragma omp parallel if (int64_t(work.size()) * max_tile * nh * max_ctx * D > kParallelElems)
  {
    std::vector<float> scratch(static_cast<size_t>(max_tile * (max_ctx + 48)));
#pragma omp for collapse(2) schedule(dynamic, 2)
    for (int64_t w = 0; w < int64_t(work.size()); ++w)
      for (int64_t h = 0; h < nh; ++h) {
        const AttentionSeq& s = seqs[size_t(work[size_t(w)].first)];
        const int64_t i0 = work[size_t(w)].second, kh = h / group;
        const int tile = tile_rows(s);
        const int rows = int(std::min<int64_t>(tile, s.q_len - i0));
        const float* qr[kMaxTile];
        float* orow[kMaxTile];
        int64_t j0[kMaxTile], j1[kMaxTile];
        for (int r = 0; r < rows; ++r) {
          const int64_t p = s.ctx_len - s.q_len + i0 + r, row = s.q_begin + i0 + r;
          j0[r] = args.sliding_window > 0 ? std::max<int64_t>(0, p - args.sliding_window + 1) : 0;
          j1[r] = p + 1;
          qr[r] = qp + (row * nh + h) * D;
          orow[r] = op + (row * nh + h) * D;
        }
        (tile == cpu::kAmxAttentionRows ? k_->attention_rows_amx : k_->attention_rows_bf16)(
            rows, qr, int(D), s.blocks, kp + kh * 16 * D, vp + kh * 16 * D, block_stride, j0, j1,
            args.scale, args.sinks ? &sinks[size_t(h)] : nullptr, scratch.data(), orow);
      }
  }
}

void CpuFastBackend::glu(const Tensor& gate, const Tensor& up, const GluSpec& spec, Tensor& out) {
  if (spec.kind != GluSpec::Kind::kSilu || !k_) {
    CpuReferenceBackend::glu(gate, up, spec, out);
    return;
  }
  const int64_t T = gate.size(0), I = gate.numel() / std::max<int64_t>(T, 1);
#pragma omp parallel for if (T * I > kParallelElems)
  for (int64_t t = 0; t < T; ++t)
    k_->silu_mul_f32(gate.data<float>() + t * I, up.data<float>() + t * I,
                      out.data<float>() + t * I, I);
}

bool CpuFastBackend::fast_experts(const ExpertWeights& w) const {
  if (!k_ || w.glu.kind != GluSpec::Kind::kSilu || !w.gate_up_bias.empty() ||
      !w.down_bias.empty() || w.layout == ExpertWeights::GateUp::kInterleaved)
    return false;
  for (const Tensor& d : w.down)
    if (d.defined() && d.numel() > 0 && d.dtype() != DType::BF16) return false;
  return true;
}

void CpuFastBackend::experts_bf16(const uint16_t* rows, std::span<const int64_t> offsets,
                                  std::span<const float> row_weight, const ExpertWeights& w,
                                  float* y_rows) {
  const int64_t H = w.hidden, I = w.intermediate;
  const bool fused = w.layout == ExpertWeights::GateUp::kFused;
  std::vector<int> active;  // experts with rows
  for (int e = 0; e + 1 < int(offsets.size()); ++e) {
    if (offsets[size_t(e) + 1] == offsets[size_t(e)]) continue;
    MOE_ASSERT(w.down[size_t(e)].defined() && w.down[size_t(e)].numel() > 0,
               "expert {} is not held by this process", e);
    active.push_back(e);
  }
  // One expert: gate/up GEMM(s), silu(gate) * up into bf16, down GEMM into its rows of y_rows,
  // scaled there by their routing weights.
  auto expert = [&](int e, Scratch::Expert& buf) {
    const int64_t r0 = offsets[size_t(e)], m = offsets[size_t(e) + 1] - r0;
    const uint16_t* X = rows + r0 * H;
    float* G = grow(buf.gate, m * 2 * I);
    uint16_t* A = grow(buf.act, m * I);
    float* Y = y_rows + r0 * H;
    int64_t ldg = I;
    const float* U = nullptr;
    if (fused) {
      matmul_bf16_upto(X, m, H, bf16_weight(w.gate_up[size_t(e)]), 2 * I, G, 2 * I,
                       expert_small_m_);
      ldg = 2 * I;
      U = G + I;
    } else {
      float* Up = grow(buf.up, m * I);
      matmul_bf16_upto(X, m, H, bf16_weight(w.gate[size_t(e)]), I, G, I, expert_small_m_);
      matmul_bf16_upto(X, m, H, bf16_weight(w.up[size_t(e)]), I, Up, I, expert_small_m_);
      U = Up;
    }
#pragma omp parallel for if (m * I > kParallelElems)
    for (int64_t r = 0; r < m; ++r) k_->silu_mul_bf16(G + r * ldg, U + r * ldg, A + r * I, I);
    matmul_bf16_upto(A, m, I, bf16_weight(w.down[size_t(e)]), H, Y, H, expert_small_m_);
    scale_rows(Y, m, H, row_weight.data() + r0, Y);
  };
  // With many experts of many rows each (prefill), the experts are spread over the threads and
  // each runs its products alone (nested regions and oneDNN inside a region run on the calling
  // thread). Measured on 2 threads against the experts one after another with each product
  // split over the threads: a layer of OLMoE-1B-7B's experts +16% and +29% GFLOP/s (medians of
  // two runs); prefill 8 x 512 on the OLMoE-shaped bench -1% to +33% in 6 interleaved pairs
  // (median +11%). Few rows per expert (decode) keep the products split: there the weights'
  // bandwidth is the cost.
  if (active.empty()) return;
  const int threads = omp_get_max_threads();
  const int64_t total_rows = offsets.back() - offsets.front();
  const bool spread = threads > 1 && int64_t(active.size()) >= 2 * threads &&
                      total_rows > kSpreadRows * int64_t(active.size());
  const size_t sets = spread ? size_t(threads) : 1;  // buffer sets in use
  if (s_->experts.size() < sets) s_->experts.resize(sets);
  if (!spread) {
    bool few_rows = true;
    for (int e : active)
      few_rows &= offsets[size_t(e) + 1] - offsets[size_t(e)] <= expert_small_m_;
    if (few_rows) {
      experts_bf16_few_rows(rows, offsets, row_weight, w, active, y_rows);
      return;
    }
    for (int e : active) expert(e, s_->experts[0]);
    return;
  }
  // Largest first, handed out one at a time: the threads finish close together.
  std::stable_sort(active.begin(), active.end(), [&](int a, int b) {
    return offsets[size_t(a) + 1] - offsets[size_t(a)] >
           offsets[size_t(b) + 1] - offsets[size_t(b)];
  });
#pragma omp parallel for schedule(dynamic, 1)
  for (size_t i = 0; i < active.size(); ++i)
    expert(active[i], s_->experts[size_t(omp_get_thread_num())]);
}

void CpuFastBackend::experts_bf16_few_rows(const uint16_t* rows, std::span<const int64_t> offsets,
                                           std::span<const float> row_weight,
                                           const ExpertWeights& w, std::span<const int> active,
                                           float* y_rows) {
  const int64_t H = w.hidden, I = w.intermediate, base = offsets.front();
  const int64_t n_rows = offsets.back() - base;
  const bool fused = w.layout == ExpertWeights::GateUp::kFused;
  Scratch::Expert& buf = s_->experts[0];
  float* G = grow(buf.gate, n_rows * 2 * I);  // [n_rows, 2I]: gate | up, per row
  uint16_t* A = grow(buf.act, n_rows * I);    // [n_rows, I]
  int64_t work = 0;
  for (int e : active) work += (offsets[size_t(e) + 1] - offsets[size_t(e)]) * 3 * I * H;
  // Thread t's share of [0, n) in multiples of 16 (the last thread takes the rest).
  auto share = [](int64_t n, int64_t t, int64_t nt) {
    return std::pair<int64_t, int64_t>(t * n / nt / 16 * 16,
                                       t + 1 == nt ? n : (t + 1) * n / nt / 16 * 16);
  };
#pragma omp parallel if (work > kParallelElems)
  {
    const int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
    const auto [i0, i1] = share(I, t, nt);
    for (int e : active) {
      const int64_t r0 = offsets[size_t(e)], m = offsets[size_t(e) + 1] - r0;
      const uint16_t* X = rows + r0 * H;
      float* Ge = G + (r0 - base) * 2 * I;
      if (fused) {
        const Bf16Weight gu = bf16_weight(w.gate_up[size_t(e)]);
        gemm_small(X, m, H, gu, i0, i1, Ge, 2 * I);
        gemm_small(X, m, H, gu, I + i0, I + i1, Ge, 2 * I);
      } else {
        gemm_small(X, m, H, bf16_weight(w.gate[size_t(e)]), i0, i1, Ge, 2 * I);
        gemm_small(X, m, H, bf16_weight(w.up[size_t(e)]), i0, i1, Ge + I, 2 * I);
      }
      for (int64_t r = 0; r < m; ++r)
        k_->silu_mul_bf16(Ge + r * 2 * I + i0, Ge + r * 2 * I + I + i0,
                           A + (r0 - base + r) * I + i0, i1 - i0);
    }
#pragma omp barrier
    const auto [h0, h1] = share(H, t, nt);
    for (int e : active) {
      const int64_t r0 = offsets[size_t(e)], m = offsets[size_t(e) + 1] - r0;
      float* Y = y_rows + r0 * H;
      gemm_small(A + (r0 - base) * I, m, I, bf16_weight(w.down[size_t(e)]), h0, h1, Y, H);
      for (int64_t r = 0; r < m; ++r)
        for (int64_t c = h0; c < h1; ++c) Y[r * H + c] *= row_weight[size_t(r0 + r)];
    }
  }
}

bool CpuFastBackend::mxfp4_experts(const ExpertWeights& w) const {
  return k_ && w.format == ExpertWeights::Format::kMxfp4 &&
         w.layout != ExpertWeights::GateUp::kSeparate;
}

void CpuFastBackend::matmul_mxfp4(const float* x, int64_t M, int64_t K, const Tensor& blocks,
                                  const Tensor& scales, bool bf16_inputs, float* y) {
  const int64_t N = blocks.size(0);
  MOE_ASSERT(blocks.dtype() == DType::U8 && blocks.numel() == N * K / 2 &&
                 scales.numel() == N * K / kMxfp4Block && K % kMxfp4Block == 0,
             "MXFP4 blocks {} and scales {} for input width {}", shape_str(blocks.shape()),
             shape_str(scales.shape()), K);
  const uint8_t* b = blocks.data<uint8_t>();
  const uint8_t* s = scales.data<uint8_t>();
  // Few rows (decode), or an f32 model: f32 activations against the weights decoded in
  // registers. At few rows the kernel is bound by decoding MXFP4, so f32 FMAs cost what bf16 dot
  // products would (mxfp4_experts_bench) and nothing is gained by rounding the inputs.
  if (!bf16_inputs || M <= kMxfp4FusedRows) {
    split_rows(N, M * N * K, [&](int64_t n0, int64_t n1) {
      k_->gemm_mxfp4_small_f32(x, M, K, K, b, s, n0, n1, y, N);
    });
    return;
  }
  uint16_t* xb = grow(s_->xb, M * K);
  to_bf16(k_, x, xb, M * K);
  // More rows of a bf16 model: W decoded to bf16 once (exact) into scratch, then the bf16 GEMM
  // (inputs rounded to bf16 as for bf16 weights).
  uint16_t* wb = grow(s_->wdec, N * K);
  split_rows(N, N * K, [&](int64_t n0, int64_t n1) {
    k_->mxfp4_rows_to_bf16(b, s, K, n0, n1, wb + n0 * K);
  });
  matmul_bf16_upto(xb, M, K, Bf16Weight{wb, nullptr}, N, y, N, expert_small_m_);
}

void CpuFastBackend::experts_mxfp4(const Tensor& x_rows, std::span<const int64_t> offsets,
                                   std::span<const float> row_weight, const ExpertWeights& w,
                                   Tensor& y_rows) {
  const int64_t H = w.hidden, I = w.intermediate;
  const bool bf16 = w.activation == DType::BF16;
  for (int e = 0; e + 1 < int(offsets.size()); ++e) {
    const int64_t r0 = offsets[size_t(e)], m = offsets[size_t(e) + 1] - r0;
    if (m == 0) continue;
    MOE_ASSERT(w.down[size_t(e)].defined() && w.down[size_t(e)].numel() > 0,
               "expert {} is not held by this process", e);
    float* gu = grow(s_->gate, m * 2 * I);  // [m, 2I]
    matmul_mxfp4(x_rows.data<float>() + r0 * H, m, H, w.gate_up[size_t(e)],
                 w.gate_up_scales[size_t(e)], bf16, gu);
    if (!w.gate_up_bias.empty()) add_bias_rows(w.gate_up_bias[size_t(e)], m, 2 * I, gu);
    float* gp = grow(s_->up, 2 * m * I);  // gate [m, I], then up [m, I]
    cpu_split_gate_up(gu, m, I, w.layout == ExpertWeights::GateUp::kInterleaved, gp, gp + m * I);
    Tensor g = Tensor::view(DType::F32, {m, I}, gp, nullptr);
    const Tensor u = Tensor::view(DType::F32, {m, I}, gp + m * I, nullptr);
    glu(g, u, w.glu, g);
    float* y = y_rows.data<float>() + r0 * H;  // [m, H]
    matmul_mxfp4(gp, m, I, w.down[size_t(e)], w.down_scales[size_t(e)], bf16, y);
    if (!w.down_bias.empty()) add_bias_rows(w.down_bias[size_t(e)], m, H, y);
    scale_rows(y, m, H, row_weight.data() + r0, y);
  }
}

void CpuFastBackend::moe_experts(const Tensor& x, const Tensor& experts, const Tensor& weights,
                                 const ExpertWeights& w, Tensor& out) {
  if (!fast_experts(w)) {
    Backend::moe_experts(x, experts, weights, w, out);
    return;
  }
  const int64_t T = x.size(0), H = x.size(1);
  const int k = int(experts.size(1)), E = w.num_experts();
  const ExpertBuckets b = bucket_by_expert(experts.data<int32_t>(), weights.data<float>(), T, k, E);
  // bf16 copy of x, then each expert's rows gathered.
  uint16_t* xb = grow(s_->xb, T * H);
  to_bf16(k_, x.data<float>(), xb, T * H);
  uint16_t* rows = grow(s_->rows, T * k * H);
#pragma omp parallel for if (T * k * H > kParallelElems)
  for (int e = 0; e < E; ++e)
    for (int64_t r = b.offsets[size_t(e)]; r < b.offsets[size_t(e) + 1]; ++r)
      std::memcpy(rows + r * H, xb + int64_t(b.token[size_t(r)]) * H, size_t(H) * 2);
  Tensor y = alloc(DType::F32, {T * k, H});
  experts_bf16(rows, b.offsets, b.weight, w, y.data<float>());
  combine(y, b.slot_row, std::span<const int32_t>(experts.data<int32_t>(), size_t(T * k)), k, out);
}

void CpuFastBackend::expert_ffn(const Tensor& x_rows, std::span<const int64_t> offsets,
                                std::span<const float> row_weight, const ExpertWeights& w,
                                Tensor& y_rows) {
  if (mxfp4_experts(w)) {
    experts_mxfp4(x_rows, offsets, row_weight, w, y_rows);
    return;
  }
  if (!fast_experts(w)) {
    CpuReferenceBackend::expert_ffn(x_rows, offsets, row_weight, w, y_rows);
    return;
  }
  // Rows [offsets.front(), offsets.back()) of x_rows in bf16, at the same row indices.
  const int64_t H = w.hidden, r0 = offsets.front(), r1 = offsets.back();
  uint16_t* rows = grow(s_->rows, r1 * H);
  to_bf16(k_, x_rows.data<float>() + r0 * H, rows + r0 * H, (r1 - r0) * H);
  experts_bf16(rows, offsets, row_weight, w, y_rows.data<float>());
}

}  // namespace moe
