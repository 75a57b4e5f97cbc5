#include "runtime/backend/cpu/onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <tuple>

namespace moe::cpu {

namespace {

using dt = dnnl::memory::data_type;

// One primitive per (dtype, K, N, ldx, ldy) with M given at run time, so the experts' many
// different row counts share it (a per-M primitive costs a JIT compilation per new M, and
// measured no faster on these shapes); the per-M form only where oneDNN refuses a runtime M.
struct Gemm {
  dnnl::matmul prim;
  dnnl::memory::desc wei;
};

struct OneDnn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;
  std::map<Key, std::unique_ptr<Gemm>> cache;  // null entry: unsupported

  // x[M, K] (row stride ldx) and y[M, N] (row stride ldy); M may be DNNL_RUNTIME_DIM_VAL.
  static dnnl::memory::desc src_desc(dt type, int64_t M, int64_t K, int64_t ldx) {
    return dnnl::memory::desc({M, K}, type, {ldx, 1});
  }
  static dnnl::memory::desc dst_desc(int64_t M, int64_t N, int64_t ldy) {
    return dnnl::memory::desc({M, N}, dt::f32, {ldy, 1});
  }

  // A cached primitive for (type, M, ...): the key's M is DNNL_RUNTIME_DIM_VAL for shared ones.
  Gemm* cached(dt type, int64_t M, int64_t K, int64_t ldx, int64_t N, int64_t ldy) {
    const Key key{int(type), M, K, ldx, N, ldy};
    auto it = cache.find(key);
    if (it != cache.end()) return it->second.get();
    std::unique_ptr<Gemm> g;
    try {
      g = std::make_unique<Gemm>();
      g->wei = dnnl::memory::desc({K, N}, type, {1, K});
      dnnl::matmul::desc md(src_desc(type, M, K, ldx), g->wei, dst_desc(M, N, ldy));
      g->prim = dnnl::matmul(dnnl::matmul::primitive_desc(md, eng));
    } catch (const dnnl::error&) {
      g.reset();
    }
    return cache.emplace(key, std::move(g)).first->second.get();
  }

  bool run(dt type, const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t N,
           float* y, int64_t ldy) {
    Gemm* g = cached(type, DNNL_RUNTIME_DIM_VAL, K, ldx, N, ldy);
    if (!g) g = cached(type, M, K, ldx, N, ldy);
    if (!g) return false;
    dnnl::memory xs(src_desc(type, M, K, ldx), eng, const_cast<void*>(x));
    dnnl::memory ws(g->wei, eng, const_cast<void*>(w));
    dnnl::memory ys(dst_desc(M, N, ldy), eng, y);
    g->prim.execute(strm, {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_DST, ys}});
    strm.wait();
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
