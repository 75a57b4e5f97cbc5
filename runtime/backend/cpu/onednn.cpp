#include "runtime/backend/cpu/onednn.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <map>
#include <memory>
#include <tuple>

namespace moe::cpu {

namespace {

using dt = dnnl::memory::data_type;

struct Gemm {
  dnnl::matmul prim;
  dnnl::memory::desc src, wei, dst;
};

struct OneDnn {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  using Key = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t>;
  std::map<Key, std::unique_ptr<Gemm>> cache;  // null entry: unsupported

  Gemm* get(dt type, int64_t M, int64_t K, int64_t ldx, int64_t N, int64_t ldy) {
    const Key key{int(type), M, K, ldx, N, ldy};
    auto it = cache.find(key);
    if (it != cache.end()) return it->second.get();
    std::unique_ptr<Gemm> g;
    try {
      auto gm = std::make_unique<Gemm>();
      gm->src = dnnl::memory::desc({M, K}, type, {ldx, 1});
      gm->wei = dnnl::memory::desc({K, N}, type, {1, K});
      gm->dst = dnnl::memory::desc({M, N}, dt::f32, {ldy, 1});
      dnnl::matmul::desc md(gm->src, gm->wei, gm->dst);
      dnnl::matmul::primitive_desc pd(md, eng);
      gm->prim = dnnl::matmul(pd);
      g = std::move(gm);
    } catch (const dnnl::error&) {
      g.reset();
    }
    return (cache[key] = std::move(g)).get();
  }

  bool run(dt type, const void* x, int64_t M, int64_t K, int64_t ldx, const void* w, int64_t N,
           float* y, int64_t ldy) {
    Gemm* g = get(type, M, K, ldx, N, ldy);
    if (!g) return false;
    dnnl::memory xs(g->src, eng, const_cast<void*>(x));
    dnnl::memory ws(g->wei, eng, const_cast<void*>(w));
    dnnl::memory ys(g->dst, eng, y);
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
