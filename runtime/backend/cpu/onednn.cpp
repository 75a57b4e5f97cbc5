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
  bool runtime_m = false;
  dnnl::memory::desc src, wei, dst;  // M = DNNL_RUNTIME_DIM_VAL when runtime_m
};

struct OneDnn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;
  std::map<Key, std::unique_ptr<Gemm>> cache;  // null entry: unsupported

  static std::unique_ptr<Gemm> make(const dnnl::engine& eng, dt type, int64_t M, int64_t K,
                                    int64_t ldx, int64_t N, int64_t ldy) {
    try {
      auto gm = std::make_unique<Gemm>();
      gm->runtime_m = M == DNNL_RUNTIME_DIM_VAL;
      gm->src = dnnl::memory::desc({M, K}, type, {ldx, 1});
      gm->wei = dnnl::memory::desc({K, N}, type, {1, K});
      gm->dst = dnnl::memory::desc({M, N}, dt::f32, {ldy, 1});
      dnnl::matmul::desc md(gm->src, gm->wei, gm->dst);
      dnnl::matmul::primitive_desc pd(md, eng);
      gm->prim = dnnl::matmul(pd);
      return gm;
    } catch (const dnnl::error&) {
      return nullptr;
    }
  }

  Gemm* get(dt type, int64_t M, int64_t K, int64_t ldx, int64_t N, int64_t ldy) {
    const Key shared{int(type), DNNL_RUNTIME_DIM_VAL, K, ldx, N, ldy};
    auto it = cache.find(shared);
    if (it == cache.end())
      it = cache.emplace(shared, make(eng, type, DNNL_RUNTIME_DIM_VAL, K, ldx, N, ldy)).first;
    if (it->second) return it->second.get();
    const Key key{int(type), M, K, ldx, N, ldy};
    it = cache.find(key);
    if (it == cache.end()) it = cache.emplace(key, make(eng, type, M, K, ldx, N, ldy)).first;
    return it->second.get();
  }

  bool run(dt type, const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t N,
           float* y, int64_t ldy) {
    Gemm* g = get(type, M, K, ldx, N, ldy);
    if (!g) return false;
    const dnnl::memory::desc src =
        g->runtime_m ? dnnl::memory::desc({M, K}, type, {ldx, 1}) : g->src;
    const dnnl::memory::desc dst =
        g->runtime_m ? dnnl::memory::desc({M, N}, dt::f32, {ldy, 1}) : g->dst;
    dnnl::memory xs(src, eng, const_cast<void*>(x));
    dnnl::memory ws(g->wei, eng, const_cast<void*>(w));
    dnnl::memory ys(dst, eng, y);
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
