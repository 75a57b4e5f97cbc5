#include "runtime/backend/cpu/onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "runtime/core/cpu_isa.h"
#include "runtime/core/tensor.h"

namespace moe::cpu {

namespace {

using dt = dnnl::memory::data_type;

// One primitive per (dtype, K, N, ldx, ldy) with M given at run time, so the experts' many
// different row counts share it (a per-M primitive costs a JIT compilation per new M, and
// measured no faster on these shapes); the per-M form only where oneDNN refuses a runtime M.
// Primitives take their scratchpad from the caller (oneDNN's "user" mode): a primitive may then
// run on several threads at once, each with its own scratchpad.
struct Gemm {
  dnnl::matmul prim;
  dnnl::memory::desc wei, scratch;
};

// MOE_CPU_ISA caps oneDNN too (as ONEDNN_MAX_CPU_ISA would), before its first primitive.
bool cap_isa() {
  if (!requested_isa()) return false;
  switch (active_isa()) {
    case Isa::kGeneric:
      return dnnl::set_max_cpu_isa(dnnl::cpu_isa::sse41) == dnnl::status::success;
    case Isa::kAvx2:
      return dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx2) == dnnl::status::success;
    case Isa::kAvx512:
      return dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core) == dnnl::status::success;
    case Isa::kAvx512Bf16:
      return dnnl::set_max_cpu_isa(dnnl::cpu_isa::avx512_core_bf16) == dnnl::status::success;
    case Isa::kAmx:
      return false;  // no cap
  }
  return false;
}

struct OneDnn {
  bool capped = cap_isa();
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;
  std::mutex mu;                               // guards cache
  std::map<Key, std::unique_ptr<Gemm>> cache;  // null entry: unsupported

  // x[M, K] (row stride ldx) and y[M, N] (row stride ldy); M may be DNNL_RUNTIME_DIM_VAL.
  static dnnl::memory::desc src_desc(dt type, int64_t M, int64_t K, int64_t ldx) {
    return dnnl::memory::desc({M, K}, type, {ldx, 1});
  }
  static dnnl::memory::desc dst_desc(int64_t M, int64_t N, int64_t ldy) {
    return dnnl::memory::desc({M, N}, dt::f32, {ldy, 1});
  }

  // A cached primitive for (type, M, ...): the key's M is DNNL_RUNTIME_DIM_VAL for shared ones.
  // Entries are never removed, so the pointer stays valid after the lock is released.
  Gemm* cached(dt type, int64_t M, int64_t K, int64_t ldx, int64_t N, int64_t ldy) {
    const Key key{int(type), M, K, ldx, N, ldy};
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second.get();
    std::unique_ptr<Gemm> g;
    try {
      g = std::make_unique<Gemm>();
      g->wei = dnnl::memory::desc({K, N}, type, {1, K});
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::matmul::desc md(src_desc(type, M, K, ldx), g->wei, dst_desc(M, N, ldy));
      dnnl::matmul::primitive_desc pd(md, attr, eng);
      g->scratch = pd.scratchpad_desc();
      g->prim = dnnl::matmul(pd);
    } catch (const dnnl::error&) {
      g.reset();
    }
    return cache.emplace(key, std::move(g)).first->second.get();
  }

  // Each calling thread's stream and scratchpad (grown to the largest a primitive asked for).
  struct PerThread {
    dnnl::stream strm;
    Tensor scratch;  // U8 [bytes], 64-byte aligned
  };
  PerThread& per_thread() {
    thread_local PerThread t{dnnl::stream(eng), Tensor::empty(DType::U8, {0})};
    return t;
  }

  bool run(dt type, const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t N,
           float* y, int64_t ldy) {
    Gemm* g = cached(type, DNNL_RUNTIME_DIM_VAL, K, ldx, N, ldy);
    if (!g) g = cached(type, M, K, ldx, N, ldy);
    if (!g) return false;
    PerThread& t = per_thread();
    const int64_t need = int64_t(g->scratch.get_size());
    if (need > t.scratch.numel()) t.scratch = Tensor::empty(DType::U8, {need});
    dnnl::memory xs(src_desc(type, M, K, ldx), eng, const_cast<void*>(x));
    dnnl::memory ws(g->wei, eng, const_cast<void*>(w));
    dnnl::memory ys(dst_desc(M, N, ldy), eng, y);
    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}};
    if (need > 0) args.emplace(DNNL_ARG_SCRATCHPAD, dnnl::memory(g->scratch, eng, t.scratch.raw()));
    g->prim.execute(t.strm, args);
    t.strm.wait();
    return true;
  }
};

OneDnn& onednn() {
  static OneDnn o;
  return o;
}

}  // namespace

bool onednn_gemm_bf16(const uint16_t* x, int64_t M, int64_t K, int64_t ldx, const uint16_t* w,
                      int64_t N, float* y, int64_t ldy) {
  return onednn().run(dt::bf16, x, M, K, ldx, w, N, y, ldy);
}

bool onednn_gemm_f32(const float* x, int64_t M, int64_t K, int64_t ldx, const float* w, int64_t N,
                     float* y, int64_t ldy) {
  return onednn().run(dt::f32, x, M, K, ldx, w, N, y, ldy);
}

}  // namespace moe::cpu
