#include "runtime/backend/cuda/backend.h"

#include <algorithm>
#include <cstring>

#include "runtime/backend/cuda/cuda_backend.h"
#include "runtime/backend/cuda/cuda_check.h"
#include "runtime/backend/cuda/kernels.h"
#include "runtime/core/error.h"

namespace moe {

bool cuda_built() { return true; }

int cuda_device_count(std::string* why) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky error state of the failed call
    if (why) *why = fmt::format("cudaGetDeviceCount: {}", cudaGetErrorString(err));
    return 0;
  }
  if (n == 0 && why) *why = "no CUDA device";
  return n;
}

std::shared_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  std::string why;
  if (cuda_device_count(&why) == 0)
    throw Error(fmt::format("CUDA backend not available: {}", why));
  int device = 0, major = 0, minor = 0;
  CUDA_CHECK(cudaGetDevice(&device));
  CUDA_CHECK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  CUDA_CHECK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device));
  if (major < 8)
    throw Error(fmt::format("CUDA backend not available: device {} has compute capability {}.{}; "
                            "the backend is built for 8.0 and newer",
                            device, major, minor));
  return std::make_shared<cuda::CudaBackend>(options, device);
}

namespace cuda {

namespace {

WDType wdtype(const Tensor& t, const char* what) {
  MOE_ASSERT(t.device() == Device::CUDA, "{}: a {} tensor on the CPU given to the cuda backend",
             what, shape_str(t.shape()));
  if (t.dtype() == DType::BF16) return WDType::kBf16;
  MOE_ASSERT(t.dtype() == DType::F32, "{}: the cuda backend reads f32 or bf16, not {}", what,
             dtype_name(t.dtype()));
  return WDType::kF32;
}

// An f32 activation tensor on the device.
float* act_ptr(Tensor& t, const char* what) {
  MOE_ASSERT(t.device() == Device::CUDA && t.dtype() == DType::F32,
             "{}: expected an f32 device tensor, found {} on the {}", what, dtype_name(t.dtype()),
             t.device() == Device::CUDA ? "GPU" : "CPU");
  return t.data<float>();
}
const float* act_ptr(const Tensor& t, const char* what) {
  return act_ptr(const_cast<Tensor&>(t), what);
}

cudaDataType cuda_type(DType t) { return t == DType::BF16 ? CUDA_R_16BF : CUDA_R_32F; }

}  // namespace

CudaBackend::CudaBackend(BackendOptions options, int device)
    : options_(std::move(options)),
      round_(options_.bf16_rounding),
      ctx_(std::make_shared<DeviceContext>(device)) {}

// ---- memory ------------------------------------------------------------------------------------

Tensor CudaBackend::alloc(DType t, Shape shape) { return device_tensor(ctx_, t, std::move(shape)); }

Tensor CudaBackend::alloc_reserved(DType t, Shape shape) {
  // Device memory is not overcommitted: the whole pool is allocated up front.
  return device_tensor(ctx_, t, std::move(shape));
}

Tensor CudaBackend::from_host(const Tensor& t) {
  if (t.device() == Device::CUDA) return t;
  Tensor d = device_tensor(ctx_, t.dtype(), t.shape());
  if (t.nbytes() > 0) {
    // Straight from the (possibly mapped) host storage, waited for: no staging copy.
    CUDA_CHECK(cudaMemcpyAsync(d.raw(), t.raw(), t.nbytes(), cudaMemcpyHostToDevice,
                               ctx_->stream()));
    ctx_->sync();
  }
  return d;
}

Tensor CudaBackend::prepare_weight(const Tensor& w, WeightUse) {
  if (w.device() == Device::CUDA) return w;
  if (w.dtype() == DType::F16) return from_host(w.to_f32());
  return from_host(w);
}

Tensor CudaBackend::to_host(const Tensor& t) {
  if (t.device() == Device::CPU) return t;
  Tensor h = Tensor::empty(t.dtype(), t.shape());
  if (t.nbytes() > 0)
    CUDA_CHECK(cudaMemcpyAsync(h.raw(), t.raw(), t.nbytes(), cudaMemcpyDeviceToHost,
                               ctx_->stream()));
  ctx_->sync();
  return h;
}

// ---- GEMMs -------------------------------------------------------------------------------------

Tensor CudaBackend::gemm_input(const Tensor& x, DType weight_dtype) {
  if (weight_dtype == DType::F32) return x;
  MOE_ASSERT(weight_dtype == DType::BF16, "cuda GEMM weights are f32 or bf16, not {}",
             dtype_name(weight_dtype));
  Tensor b = alloc(DType::BF16, x.shape());
  launch_to_bf16(act_ptr(x, "gemm input"), x.numel(), b.data<uint16_t>(), ctx_->stream());
  return b;
}

void CudaBackend::gemm(const Tensor& xin, const Tensor& w, bool w_in_out, float* y, int64_t M,
                       int64_t N) {
  if (M == 0 || N == 0) return;
  const int64_t K = xin.size(1);
  MOE_ASSERT(xin.dtype() == w.dtype(), "GEMM operands {} and {}", dtype_name(xin.dtype()),
             dtype_name(w.dtype()));
  MOE_ASSERT(w.numel() == N * K, "GEMM weight {} for [{}, {}] x [{}]^T", shape_str(w.shape()), M,
             K, N);
  const float one = 1.0f, zero = 0.0f;
  const cudaDataType t = cuda_type(w.dtype());
  // Row-major y [M, N] is column-major y^T [N, M] = W' x^T with W' = W [N, K] row-major read
  // transposed (column-major K x N), or W [K, N] row-major read as is (column-major N x K).
  CUBLAS_CHECK(cublasGemmEx(ctx_->cublas(), w_in_out ? CUBLAS_OP_N : CUBLAS_OP_T, CUBLAS_OP_N,
                            int(N), int(M), int(K), &one, w.raw(), t, int(w_in_out ? N : K),
                            xin.raw(), t, int(K), &zero, y, CUDA_R_32F, int(N),
                            CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

void CudaBackend::linear(const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  const int64_t T = x.size(0), in = x.size(1), out = w.size(0);
  MOE_ASSERT(w.ndim() == 2 && w.size(1) == in && y.size(0) == T && y.size(1) == out,
             "linear {} x {}^T -> {}", shape_str(x.shape()), shape_str(w.shape()),
             shape_str(y.shape()));
  wdtype(w, "linear weight");
  gemm(gemm_input(x, w.dtype()), w, false, act_ptr(y, "linear output"), T, out);
  if (b) {
    const void* bias = b->raw();
    const DeviceArray<const void*> table = upload(ctx_, std::span<const void* const>(&bias, 1));
    launch_bias_epilogue(y.data<float>(), T, out, table.get(), wdtype(*b, "linear bias"), nullptr,
                         false, round_, ctx_->stream());
  } else {
    launch_bias_epilogue(y.data<float>(), T, out, nullptr, WDType::kF32, nullptr, false, round_,
                         ctx_->stream());
  }
}

void CudaBackend::expert_gemm(const Tensor& x, const std::vector<Tensor>& mats,
                              const std::vector<Tensor>* scales, ExpertWeights::Format format,
                              const std::vector<ExpertGroup>& groups, int64_t out, Tensor& y) {
  using Format = ExpertWeights::Format;
  const int64_t in = x.size(1);
  float* yp = act_ptr(y, "expert GEMM output");
  if (format == Format::kMxfp4) {  // decode one expert to f32, then an f32 GEMM
    Tensor dense = alloc(DType::F32, {out, in});
    for (const ExpertGroup& g : groups)
      for (size_t i = 0; i < g.experts.size(); ++i) {
        const size_t e = size_t(g.experts[i]);
        const Tensor& blk = mats[e];
        const Tensor& sc = (*scales)[e];
        MOE_ASSERT(blk.dtype() == DType::U8 && blk.numel() == out * in / 2 &&
                       sc.numel() == out * in / kMxfp4Block && blk.device() == Device::CUDA,
                   "MXFP4 expert {} blocks {} for [{}, {}]", e, shape_str(blk.shape()), out, in);
        launch_decode_mxfp4(blk.data<uint8_t>(), sc.data<uint8_t>(), out, in,
                            dense.data<float>(), ctx_->stream());
        gemm(x.slice_rows(g.row0[i], g.row0[i] + g.rows), dense, false, yp + g.row0[i] * out,
             g.rows, out);
      }
    return;
  }
  const bool in_out = format == Format::kFloatTransposed;
  if (groups.empty()) return;
  const DType wdt = mats[size_t(groups[0].experts[0])].dtype();
  const Tensor xin = gemm_input(x, wdt);
  const size_t xrow = xin.nbytes() / size_t(std::max<int64_t>(xin.size(0), 1));
  const cudaDataType t = cuda_type(wdt);
  const float one = 1.0f, zero = 0.0f;
  for (const ExpertGroup& g : groups) {
    for (int e : g.experts) {
      const Tensor& w = mats[size_t(e)];
      MOE_ASSERT(w.dtype() == wdt && w.numel() == in * out, "expert {} weight {} {} for [{}, {}]",
                 e, dtype_name(w.dtype()), shape_str(w.shape()), out, in);
      wdtype(w, "expert weight");
    }
    if (g.experts.size() == 1) {
      gemm(xin.slice_rows(g.row0[0], g.row0[0] + g.rows), mats[size_t(g.experts[0])], in_out,
           yp + g.row0[0] * out, g.rows, out);
      continue;
    }
    // One batched GEMM over the group's experts: pointer arrays A (weights), B (rows), C (out).
    const size_t n = g.experts.size();
    std::vector<const void*> ptrs(3 * n);
    for (size_t i = 0; i < n; ++i) {
      ptrs[i] = mats[size_t(g.experts[i])].raw();
      ptrs[n + i] = static_cast<const char*>(xin.raw()) + size_t(g.row0[i]) * xrow;
      ptrs[2 * n + i] = yp + g.row0[i] * out;
    }
    const DeviceArray<const void*> d = upload(ctx_, std::span<const void* const>(ptrs));
    CUBLAS_CHECK(cublasGemmBatchedEx(
        ctx_->cublas(), in_out ? CUBLAS_OP_N : CUBLAS_OP_T, CUBLAS_OP_N, int(out), int(g.rows),
        int(in), &one, d.get(), t, int(in_out ? out : in), d.get() + n, t, int(in), &zero,
        const_cast<void* const*>(d.get() + 2 * n), CUDA_R_32F, int(out), int(n),
        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  }
}

// ---- ops -------------------------------------------------------------------------------------

void CudaBackend::embedding(const Tensor& table, std::span<const int32_t> ids, Tensor& out) {
  const int64_t V = table.size(0), H = table.size(1);
  for (int32_t id : ids)
    MOE_ASSERT(id >= 0 && id < V, "token id {} outside the vocabulary [0, {})", id, V);
  const DeviceArray<int32_t> d = upload(ctx_, ids);
  launch_embedding(table.raw(), wdtype(table, "embedding"), V, H, d.get(), int64_t(ids.size()),
                   act_ptr(out, "embedding output"), ctx_->stream());
}

void CudaBackend::norm(const Tensor& x, const Tensor& w, const Tensor* b, const NormSpec& spec,
                       Tensor& out) {
  const WDType dt = wdtype(w, "norm weight");
  if (b) MOE_ASSERT(wdtype(*b, "norm bias") == dt, "norm weight and bias dtypes differ");
  launch_norm(act_ptr(x, "norm input"), w.raw(), b ? b->raw() : nullptr, dt, x.size(0),
              x.size(1), int(spec.kind), spec.eps, round_, act_ptr(out, "norm output"),
              ctx_->stream());
}

void CudaBackend::add(const Tensor& x, Tensor& inout) {
  launch_add(act_ptr(x, "add"), act_ptr(inout, "add"), x.numel(), round_, ctx_->stream());
}

void CudaBackend::clamp(Tensor& x, float limit) {
  launch_clamp(act_ptr(x, "clamp"), x.numel(), limit, ctx_->stream());
}

void CudaBackend::rope(Tensor& x, std::span<const int32_t> pos, const RopeTable& table) {
  const int64_t T = x.size(0), n = x.size(1), d = x.size(2);
  RopeParams p;
  MOE_ASSERT(int64_t(table.inv_freq.size()) * 2 == d && table.inv_freq.size() <= 256,
             "rope table of {} for head_dim {}", table.inv_freq.size(), d);
  std::copy(table.inv_freq.begin(), table.inv_freq.end(), p.inv_freq);
  p.half = int(table.inv_freq.size());
  p.scale = table.scale;
  const DeviceArray<int32_t> dpos = upload(ctx_, pos.first(size_t(T)));
  launch_rope(act_ptr(x, "rope"), T, n, dpos.get(), p, round_, ctx_->stream());
}

void CudaBackend::kv_store(const Tensor& k, const Tensor& v, std::span<const AttentionSeq> seqs,
                           KvLayer& kv) {
  const int64_t T = k.size(0), nkv = k.size(1), d = k.size(2), B = kv.block_size;
  std::vector<int64_t> dst(size_t(T), -1);
  for (const AttentionSeq& s : seqs)
    for (int32_t i = 0; i < s.q_len; ++i) {
      const int64_t p = s.ctx_len - s.q_len + i;
      dst[size_t(s.q_begin + i)] = (int64_t(s.blocks[p / B]) * nkv * B + p % B) * d;
    }
  const WDType dt = wdtype(kv.k, "KV pool");
  const DeviceArray<int64_t> ddst = upload(ctx_, std::span<const int64_t>(dst));
  launch_kv_store(act_ptr(k, "keys"), act_ptr(v, "values"), T, nkv, d, B, ddst.get(),
                  kv.k.raw(), kv.v.raw(), dt, ctx_->stream());
}

void CudaBackend::attention(const Tensor& q, const KvLayer& kv, std::span<const AttentionSeq> seqs,
                            const AttentionArgs& args, Tensor& out) {
  const int64_t T = q.size(0), B = kv.block_size;
  std::vector<int64_t> row_pos(size_t(T), -1), row_table(size_t(T), 0);
  std::vector<int32_t> tables;
  for (const AttentionSeq& s : seqs) {
    const int64_t begin = int64_t(tables.size());
    tables.insert(tables.end(), s.blocks, s.blocks + (s.ctx_len + B - 1) / B);
    for (int32_t i = 0; i < s.q_len; ++i) {
      row_pos[size_t(s.q_begin + i)] = s.ctx_len - s.q_len + i;
      row_table[size_t(s.q_begin + i)] = begin;
    }
  }
  if (tables.empty()) tables.push_back(0);
  AttentionParams p;
  p.T = T;
  p.nh = q.size(1);
  p.d = q.size(2);
  p.nkv = kv.k.size(1);
  p.B = B;
  p.scale = args.scale;
  p.window = args.sliding_window;
  if (args.sinks) {
    p.sinks = args.sinks->raw();
    p.sinks_dt = wdtype(*args.sinks, "attention sinks");
  }
  p.pool_dt = wdtype(kv.k, "KV pool");
  p.round = round_;
  const DeviceArray<int64_t> dpos = upload(ctx_, std::span<const int64_t>(row_pos));
  const DeviceArray<int64_t> dtab = upload(ctx_, std::span<const int64_t>(row_table));
  const DeviceArray<int32_t> dblk = upload(ctx_, std::span<const int32_t>(tables));
  launch_attention(act_ptr(q, "queries"), kv.k.raw(), kv.v.raw(), dpos.get(), dtab.get(),
                   dblk.get(), p, act_ptr(out, "attention output"), ctx_->stream());
}

void CudaBackend::glu(const Tensor& gate, const Tensor& up, const GluSpec& spec, Tensor& out) {
  launch_glu(act_ptr(gate, "glu gate"), act_ptr(up, "glu up"), gate.numel(),
             spec.kind == GluSpec::Kind::kSilu ? 0 : 1, spec.limit, spec.alpha, round_,
             act_ptr(out, "glu output"), ctx_->stream());
}

void CudaBackend::route(const Tensor& logits, const routing::RoutingSpec& spec, Tensor& experts,
                        Tensor& weights) {
  const int E = spec.num_experts, k = spec.top_k;
  MOE_ASSERT(k >= 1 && k <= E && k <= 64, "top-{} of {} experts", k, E);
  MOE_ASSERT(experts.device() == Device::CUDA && experts.dtype() == DType::I32,
             "route: experts must be an i32 device tensor");
  int kind = 0;
  switch (spec.kind) {
    case io::RoutingKind::kSoftmaxTopK: kind = 0; break;
    case io::RoutingKind::kTopKSoftmax: kind = 1; break;
    case io::RoutingKind::kSparseMixer:
      MOE_ASSERT(k == 2 && E >= 2, "sparsemixer selects 2 of at least 2 experts, not {} of {}", k,
                 E);
      kind = 2;
      break;
  }
  launch_route(act_ptr(logits, "router logits"), logits.size(0), E, k, kind, spec.renormalize,
               float(spec.sparsemixer_eps), round_, experts.data<int32_t>(),
               act_ptr(weights, "routing weights"), ctx_->stream());
}

void CudaBackend::expert_ffn(const Tensor& x_rows, std::span<const int64_t> offsets,
                             std::span<const float> row_weight, const ExpertWeights& w,
                             Tensor& y_rows) {
  using Format = ExpertWeights::Format;
  const int64_t N = x_rows.size(0), H = w.hidden, I = w.intermediate;
  const std::vector<ExpertGroup> groups = plan_expert_groups(offsets);
  if (groups.empty()) return;
  for (const ExpertGroup& g : groups)
    for (int e : g.experts)
      MOE_ASSERT(w.down[size_t(e)].defined() && w.down[size_t(e)].numel() > 0,
                 "expert {} is not held by this process", e);
  // The expert of every sorted row, for per-expert biases.
  std::vector<int32_t> row_expert(size_t(N), 0);
  for (size_t e = 0; e + 1 < offsets.size(); ++e)
    std::fill(row_expert.begin() + offsets[e], row_expert.begin() + offsets[e + 1], int32_t(e));
  DeviceArray<int32_t> d_row_expert;
  const auto epilogue = [&](Tensor& y, const std::vector<Tensor>& biases) {
    // Expert GEMM outputs are rounded, then biased and rounded again (reference expert_linear).
    if (biases.empty()) {
      launch_bias_epilogue(y.data<float>(), y.size(0), y.size(1), nullptr, WDType::kF32, nullptr,
                           true, round_, ctx_->stream());
      return;
    }
    if (!d_row_expert.owner) d_row_expert = upload(ctx_, std::span<const int32_t>(row_expert));
    std::vector<const void*> table(biases.size(), nullptr);
    WDType dt = WDType::kF32;
    for (const ExpertGroup& g : groups)
      for (int e : g.experts) {
        table[size_t(e)] = biases[size_t(e)].raw();
        dt = wdtype(biases[size_t(e)], "expert bias");
      }
    const DeviceArray<const void*> d = upload(ctx_, std::span<const void* const>(table));
    launch_bias_epilogue(y.data<float>(), y.size(0), y.size(1), d.get(), dt, d_row_expert.get(),
                         true, round_, ctx_->stream());
  };
  const std::vector<Tensor>* gu_scales = w.format == Format::kMxfp4 ? &w.gate_up_scales : nullptr;
  const std::vector<Tensor>* down_scales = w.format == Format::kMxfp4 ? &w.down_scales : nullptr;
  Tensor g = alloc(DType::F32, {N, I}), u = alloc(DType::F32, {N, I});
  if (w.layout == ExpertWeights::GateUp::kSeparate) {
    MOE_ASSERT(w.format == Format::kFloat, "separate gate/up experts must be float [I, H]");
    expert_gemm(x_rows, w.gate, nullptr, w.format, groups, I, g);
    epilogue(g, {});
    expert_gemm(x_rows, w.up, nullptr, w.format, groups, I, u);
    epilogue(u, {});
  } else {
    Tensor gu = alloc(DType::F32, {N, 2 * I});
    expert_gemm(x_rows, w.gate_up, gu_scales, w.format, groups, 2 * I, gu);
    epilogue(gu, w.gate_up_bias);
    launch_split_gate_up(gu.data<float>(), N, I,
                         w.layout == ExpertWeights::GateUp::kInterleaved, g.data<float>(),
                         u.data<float>(), ctx_->stream());
  }
  glu(g, u, w.glu, g);
  expert_gemm(g, w.down, down_scales, w.format, groups, H, y_rows);
  epilogue(y_rows, w.down_bias);
  const DeviceArray<float> d_w = upload(ctx_, row_weight.first(size_t(N)));
  launch_scale_rows(act_ptr(y_rows, "expert output"), N, H, d_w.get(), round_, ctx_->stream());
}

void CudaBackend::combine(const Tensor& y_rows, std::span<const int32_t> slot,
                          std::span<const int32_t> experts, int k, Tensor& out) {
  const int64_t T = out.size(0), H = out.size(1);
  MOE_ASSERT(k >= 1 && k <= 64 && int64_t(slot.size()) >= T * k, "combine of top-{}", k);
  const DeviceArray<int32_t> ds = upload(ctx_, slot.first(size_t(T * k)));
  const DeviceArray<int32_t> de = upload(ctx_, experts.first(size_t(T * k)));
  launch_combine(act_ptr(y_rows, "expert rows"), ds.get(), de.get(), T, k, H, round_,
                 act_ptr(out, "combine output"), ctx_->stream());
}

void CudaBackend::gather_rows(const Tensor& x, std::span<const int32_t> rows, Tensor& out) {
  const DeviceArray<int32_t> d = upload(ctx_, rows);
  launch_gather_rows(act_ptr(x, "gather input"), d.get(), int64_t(rows.size()), x.size(1),
                     act_ptr(out, "gather output"), ctx_->stream());
}

}  // namespace cuda
}  // namespace moe
