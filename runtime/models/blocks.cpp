#include "runtime/models/blocks.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "runtime/core/error.h"
#include "runtime/models/model.h"

namespace moe {

void NormWeights::apply(Backend& be, const Tensor& x, Tensor& out) const {
  be.norm(x, weight, bias.defined() ? &bias : nullptr, spec, out);
}

std::pair<double, double> yarn_correction_range(const io::RopeConfig& rope, int head_dim) {
  const double d = head_dim, base = rope.theta;
  const double orig = double(rope.original_max_position_embeddings);
  auto corr = [&](double rotations) {
    return d * std::log(orig / (rotations * 2 * std::numbers::pi)) / (2 * std::log(base));
  };
  double low = corr(rope.beta_fast), high = corr(rope.beta_slow);
  if (rope.truncate) {
    low = std::floor(low);
    high = std::ceil(high);
  }
  return {std::max(low, 0.0), std::min(high, d - 1)};
}

RopeTable make_rope_table(const io::RopeConfig& rope, int head_dim, bool long_factors,
                          bool long_mscale) {
  using Kind = io::RopeConfig::Kind;
  const int half = head_dim / 2;
  RopeTable t;
  t.inv_freq.resize(size_t(half));
  // f32 arithmetic as the reference: exponent 2i/d in f32, base^exponent in f32, then 1/x.
  auto pos_freq = [&](int i) {
    return std::pow(float(rope.theta), float(2 * i) / float(head_dim));
  };
  switch (rope.kind) {
    case Kind::kDefault:
      for (int i = 0; i < half; ++i) t.inv_freq[size_t(i)] = 1.0f / pos_freq(i);
      break;
    case Kind::kYarn: {
      // transformers' _compute_yarn_parameters, op by op in f32: the ramp is not rounded
      // (truncate false in gpt-oss), extrapolation weight = 1 - ramp.
      auto [low, high] = yarn_correction_range(rope, head_dim);
      if (low == high) high += 0.001;
      for (int i = 0; i < half; ++i) {
        const float pf = pos_freq(i);
        const float extrap = 1.0f / pf;
        const float interp = 1.0f / (float(rope.factor) * pf);
        const float ramp =
            std::clamp((float(i) - float(low)) / float(high - low), 0.0f, 1.0f);
        const float w_extrap = 1.0f - ramp;
        t.inv_freq[size_t(i)] = interp * (1.0f - w_extrap) + extrap * w_extrap;
      }
      t.scale = float(rope.attention_factor);  // 0.1 ln(factor) + 1 unless the config says
      break;
    }
    case Kind::kLongRope: {
      const std::vector<double>& ext = long_factors ? rope.long_factor : rope.short_factor;
      MOE_ASSERT(int(ext.size()) == half, "LongRoPE factors: {} for head_dim {}", ext.size(),
                 head_dim);
      for (int i = 0; i < half; ++i)
        t.inv_freq[size_t(i)] = 1.0f / (float(ext[size_t(i)]) * pos_freq(i));
      t.scale = float(long_mscale ? rope.long_mscale : rope.short_mscale);
      break;
    }
  }
  return t;
}

void AttentionBlock::forward(Backend& be, const Tensor& x, const StepInfo& step, KvLayer& kv,
                             Tensor& out) const {
  const int64_t T = x.size(0);
  const auto opt = [](const Tensor& t) { return t.defined() ? &t : nullptr; };
  Tensor q = be.alloc(DType::F32, {T, int64_t(num_heads) * head_dim});
  Tensor k = be.alloc(DType::F32, {T, int64_t(num_kv_heads) * head_dim});
  Tensor v = be.alloc(DType::F32, {T, int64_t(num_kv_heads) * head_dim});
  be.linear(x, wq, opt(bq), q);
  be.linear(x, wk, opt(bk), k);
  be.linear(x, wv, opt(bv), v);
  if (qk_norm == QkNorm::kWhole) {
    q_norm.apply(be, q, q);
    k_norm.apply(be, k, k);
  } else if (qk_norm == QkNorm::kPerHead) {
    Tensor qh = q.reshape({T * num_heads, head_dim}), kh = k.reshape({T * num_kv_heads, head_dim});
    q_norm.apply(be, qh, qh);
    k_norm.apply(be, kh, kh);
  }
  if (clip_qkv) {
    be.clamp(q, *clip_qkv);
    be.clamp(k, *clip_qkv);
    be.clamp(v, *clip_qkv);
  }
  Tensor q3 = q.reshape({T, num_heads, head_dim});
  Tensor k3 = k.reshape({T, num_kv_heads, head_dim});
  Tensor v3 = v.reshape({T, num_kv_heads, head_dim});
  if (long_rope_after <= 0) {
    be.rope(q3, step.token_pos, rope);
    be.rope(k3, step.token_pos, rope);
  } else {  // LongRoPE: the table is chosen per sequence from its length after this step
    for (const AttentionSeq& s : step.seqs) {
      if (s.q_len == 0) continue;
      const RopeTable& table = s.ctx_len > long_rope_after ? rope_long : rope;
      Tensor qs = q3.slice_rows(s.q_begin, s.q_begin + s.q_len);
      Tensor ks = k3.slice_rows(s.q_begin, s.q_begin + s.q_len);
      const auto pos = step.token_pos.subspan(size_t(s.q_begin), size_t(s.q_len));
      be.rope(qs, pos, table);
      be.rope(ks, pos, table);
    }
  }
  be.kv_store(k3, v3, step.seqs, kv);
  Tensor o = be.alloc(DType::F32, {T, num_heads, head_dim});
  AttentionArgs a = args;
  a.sinks = sinks.defined() ? &sinks : nullptr;
  be.attention(q3, kv, step.seqs, a, o);
  be.linear(o.reshape({T, int64_t(num_heads) * head_dim}), wo, opt(bo), out);
}

void DenseMlp::forward(Backend& be, const Tensor& x, Tensor& out) const {
  const int64_t T = x.size(0), I = gate.size(0);
  Tensor g = be.alloc(DType::F32, {T, I}), u = be.alloc(DType::F32, {T, I});
  be.linear(x, gate, nullptr, g);
  be.linear(x, up, nullptr, u);
  be.glu(g, u, glu, g);
  be.linear(g, down, nullptr, out);
}

void MoeBlock::forward(Backend& be, const Tensor& x, StepInfo& step, HookList hooks,
                       ExpertRunner* runner, Tensor& out) const {
  const int64_t T = x.size(0);
  const int E = routing.num_experts, k = routing.top_k;
  Tensor logits = be.alloc(DType::F32, {T, E});
  be.linear(x, router, router_bias.defined() ? &router_bias : nullptr, logits);
  RouterContext& ctx = step.router;
  ctx.moe_layer = moe_layer;
  ctx.num_experts = E;
  ctx.top_k = k;
  ctx.routing = routing.kind;
  ctx.norm_topk_prob = routing.renormalize;
  ctx.sparsemixer_eps = routing.sparsemixer_eps;
  for (RouterHook* h : hooks) h->on_logits(ctx, logits);
  Tensor sel = be.alloc(DType::I32, {T, k}), w = be.alloc(DType::F32, {T, k});
  be.route(logits, routing, sel, w);
  for (RouterHook* h : hooks) h->on_routed(ctx, logits, sel, w);
  if (runner)
    runner->run(moe_layer, x, sel, w, out);
  else
    be.moe_experts(x, sel, w, experts, out);
}

}  // namespace moe
