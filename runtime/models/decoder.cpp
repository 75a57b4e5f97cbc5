#include "runtime/models/decoder.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "runtime/core/error.h"
#include "runtime/models/weights.h"

namespace moe {

void DecoderModel::forward(const ForwardBatch& batch, KvCache& cache, HookList hooks,
                           Tensor* logits) {
  Backend& be = *backend_;
  for (RouterHook* h : hooks)
    if (!h->supports(be.device()))
      throw Error(fmt::format("a router hook cannot run on the {} backend's device", be.name()));
  const int64_t T = batch.num_tokens();
  const int S = int(batch.seqs.size());
  const int64_t H = config_.hidden_size;

  // Positions, the attention view of each sequence, and the hook context.
  std::vector<int32_t> token_pos(static_cast<size_t>(T)), token_seq(static_cast<size_t>(T));
  std::vector<uint64_t> tags(static_cast<size_t>(S));
  std::vector<uint8_t> prefill(static_cast<size_t>(S));
  std::vector<uint8_t> slot_used(size_t(cache.spec().max_seqs), 0);
  for (int s = 0; s < S; ++s) {
    const ForwardBatch::Seq& q = batch.seqs[size_t(s)];
    MOE_ASSERT(q.cache_slot >= 0 && q.cache_slot < cache.spec().max_seqs && !slot_used[size_t(q.cache_slot)],
               "cache slot {} invalid or used twice in one step", q.cache_slot);
    slot_used[size_t(q.cache_slot)] = 1;
    const int64_t len0 = cache.length(q.cache_slot);
    if (!cache.reserve(q.cache_slot, len0 + q.len))
      throw Error(fmt::format("KV cache full: {} tokens free, sequence needs {} more",
                              cache.free_tokens(), q.len));
    for (int32_t i = 0; i < q.len; ++i) {
      token_pos[size_t(q.begin + i)] = int32_t(len0 + i);
      token_seq[size_t(q.begin + i)] = s;
    }
    tags[size_t(s)] = q.tag;
    prefill[size_t(s)] = q.prefill ? 1 : 0;
  }
  // The attention view of each sequence per block group of the cache (windowed layers have
  // their own block tables); built after every reserve, when block tables no longer move.
  std::vector<std::vector<AttentionSeq>> group_seqs(size_t(cache.num_groups()),
                                                    std::vector<AttentionSeq>(size_t(S)));
  for (int g = 0; g < cache.num_groups(); ++g)
    for (int s = 0; s < S; ++s) {
      const ForwardBatch::Seq& q = batch.seqs[size_t(s)];
      group_seqs[size_t(g)][size_t(s)] =
          AttentionSeq{q.begin, q.len, cache.length(q.cache_slot) + q.len,
                       cache.blocks(q.cache_slot, g).data()};
    }
  StepInfo step;
  step.token_pos = token_pos;
  RouterContext& ctx = step.router;
  ctx.num_layers = int(layers.size());
  ctx.device = be.device();
  ctx.num_tokens = int(T);
  ctx.num_seqs = S;
  ctx.token_seq = token_seq.data();
  ctx.token_pos = token_pos.data();
  ctx.seq_tag = tags.data();
  ctx.seq_prefill = prefill.data();

  Tensor x = be.alloc(DType::F32, {T, H});
  Tensor h = be.alloc(DType::F32, {T, H});
  Tensor y = be.alloc(DType::F32, {T, H});
  auto observe = [&](const char* what, int layer, const Tensor& t) {
    if (observer_) observer_(layer < 0 ? what : fmt::format("layers.{}.{}", layer, what), t);
  };
  be.embedding(embed, batch.tokens, x);
  observe("embed", -1, x);
  for (size_t l = 0; l < layers.size(); ++l) {
    const DecoderLayer& L = layers[l];
    const int li = int(l);
    L.input_norm.apply(be, x, h);
    observe("attn_norm", li, h);
    step.seqs = group_seqs[size_t(cache.layer_group(li))];
    L.attn.forward(be, h, step, cache.layer(li), y);
    observe("attn_out", li, y);
    be.add(y, x);
    observe("resid_attn", li, x);
    L.post_norm.apply(be, x, h);
    observe("mlp_norm", li, h);
    if (L.is_moe) {
      ctx.layer = li;
      L.moe.forward(be, h, step, hooks, runner_.get(), y);
      observe("moe_out", li, y);
    } else {
      L.dense.forward(be, h, y);
      observe("mlp_out", li, y);
    }
    be.add(y, x);
    observe("resid_mlp", li, x);
  }
  for (const ForwardBatch::Seq& q : batch.seqs)
    cache.set_length(q.cache_slot, cache.length(q.cache_slot) + q.len);

  if (!logits) return;
  const int64_t R = int64_t(batch.logit_rows.size());
  Tensor xr = be.alloc(DType::F32, {R, H});
  be.gather_rows(x, batch.logit_rows, xr);
  final_norm.apply(be, xr, xr);
  observe("final_norm", -1, xr);
  Tensor out = be.alloc(DType::F32, {R, lm_head.size(0)});
  be.linear(xr, lm_head, lm_head_bias.defined() ? &lm_head_bias : nullptr, out);
  *logits = be.to_host(out);
}

KvCacheSpec DecoderModel::kv_spec() const {
  KvCacheSpec s;
  s.num_layers = int(layers.size());
  s.num_kv_heads = config_.num_kv_heads;
  s.head_dim = config_.head_dim;
  s.dtype = backend_->kv_dtype(activation_dtype());
  for (const DecoderLayer& L : layers) s.window.push_back(L.attn.args.sliding_window);
  return s;
}

const ExpertWeights& DecoderModel::experts(int moe_layer) const {
  MOE_ASSERT(moe_layer >= 0 && moe_layer < int(moe_layers_.size()), "moe layer {}", moe_layer);
  return layers[size_t(moe_layers_[size_t(moe_layer)])].moe.experts;
}

void DecoderModel::finalize() {
  Backend& be = *backend_;
  auto prep = [&](Tensor& t, WeightUse use = WeightUse::kProduct) {
    if (t.defined()) t = be.prepare_weight(t, use);
  };
  auto prep_all = [&](std::vector<Tensor>& v) {
    for (Tensor& t : v) prep(t);
  };
  prep(embed, WeightUse::kTable);  // a tied lm_head is prepared on its own below
  prep(lm_head);
  prep(lm_head_bias);
  prep(final_norm.weight);
  prep(final_norm.bias);
  moe_layers_.clear();
  // Preparing a large checkpoint's weights (panels, a device upload) takes a while: a line every
  // kProgressSeconds, none for a quick load.
  constexpr double kProgressSeconds = 10.0;
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  for (size_t l = 0; l < layers.size(); ++l) {
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last).count() >= kProgressSeconds) {
      spdlog::info("preparing the weights on backend {}: layer {} of {} ({:.0f} s)", be.name(), l,
                   layers.size(), std::chrono::duration<double>(now - start).count());
      last = now;
    }
    DecoderLayer& L = layers[l];
    for (Tensor* t : {&L.input_norm.weight, &L.input_norm.bias, &L.post_norm.weight,
                      &L.post_norm.bias, &L.attn.wq, &L.attn.wk, &L.attn.wv, &L.attn.wo,
                      &L.attn.bq, &L.attn.bk, &L.attn.bv, &L.attn.bo, &L.attn.q_norm.weight,
                      &L.attn.k_norm.weight, &L.attn.sinks, &L.dense.gate, &L.dense.up,
                      &L.dense.down, &L.moe.router, &L.moe.router_bias})
      prep(*t);
    if (L.is_moe) {
      L.moe.moe_layer = int(moe_layers_.size());
      moe_layers_.push_back(int(l));
      ExpertWeights& e = L.moe.experts;
      e.activation = activation_dtype();
      for (auto* v : {&e.gate, &e.up, &e.gate_up, &e.down, &e.gate_up_scales, &e.down_scales,
                      &e.gate_up_bias, &e.down_bias})
        prep_all(*v);
    }
  }
}

DecoderLayer load_common_layer(const WeightSource& w, const io::ModelConfig& c, int layer,
                               const NormSpec& norm, bool attention_bias) {
  const std::string p = fmt::format("model.layers.{}.", layer);
  const bool with_bias = norm.kind == NormSpec::Kind::kLayerNorm;
  DecoderLayer L;
  L.input_norm = load_norm(w, p + "input_layernorm", c.hidden_size, norm, with_bias);
  L.post_norm = load_norm(w, p + "post_attention_layernorm", c.hidden_size, norm, with_bias);
  load_attention_projections(w, p + "self_attn.", c, attention_bias, L.attn);
  L.attn.rope = make_rope_table(c.rope, c.head_dim);
  L.attn.args.sliding_window = c.sliding_window.empty() ? 0 : c.sliding_window[size_t(layer)];
  return L;
}

void load_common_ends(DecoderModel& m, const WeightSource& w, const NormSpec& norm) {
  const io::ModelConfig& c = m.config();
  const int64_t H = c.hidden_size, V = c.vocab_size;
  m.embed = w.get("model.embed_tokens.weight", {V, H});
  m.final_norm = load_norm(w, "model.norm", H, norm, norm.kind == NormSpec::Kind::kLayerNorm);
  m.lm_head = c.tie_word_embeddings ? m.embed : w.get("lm_head.weight", {V, H});
  if (c.lm_head_bias) m.lm_head_bias = w.get("lm_head.bias", {V});
  m.finalize();
}

NormWeights load_norm(const WeightSource& w, const std::string& prefix, int64_t dim,
                      const NormSpec& spec, bool with_bias) {
  NormWeights n;
  n.weight = w.get(prefix + ".weight", {dim});
  if (with_bias) n.bias = w.get(prefix + ".bias", {dim});
  n.spec = spec;
  return n;
}

void load_attention_projections(const WeightSource& w, const std::string& prefix,
                                const io::ModelConfig& c, bool bias, AttentionBlock& a) {
  const int64_t H = c.hidden_size, qd = int64_t(c.num_heads) * c.head_dim,
                kvd = int64_t(c.num_kv_heads) * c.head_dim;
  a.num_heads = c.num_heads;
  a.num_kv_heads = c.num_kv_heads;
  a.head_dim = c.head_dim;
  a.wq = w.get(prefix + "q_proj.weight", {qd, H});
  a.wk = w.get(prefix + "k_proj.weight", {kvd, H});
  a.wv = w.get(prefix + "v_proj.weight", {kvd, H});
  a.wo = w.get(prefix + "o_proj.weight", {H, qd});
  if (bias) {
    a.bq = w.get(prefix + "q_proj.bias", {qd});
    a.bk = w.get(prefix + "k_proj.bias", {kvd});
    a.bv = w.get(prefix + "v_proj.bias", {kvd});
    a.bo = w.get(prefix + "o_proj.bias", {H});
  }
  a.args.scale = 1.0f / std::sqrt(float(c.head_dim));
}

ExpertWeights load_experts(const WeightSource& w, const std::string& prefix,
                           const io::ModelConfig& c, int moe_layer, const std::string& gate,
                           const std::string& up, const std::string& down,
                           const std::function<bool(int, int)>& hold_expert) {
  const int E = c.num_experts;
  const int64_t H = c.hidden_size, I = c.moe_intermediate_size;
  ExpertWeights x;
  x.hidden = int(H);
  x.intermediate = int(I);
  x.down.resize(size_t(E));
  const bool stacked = !w.has(prefix + "0." + down + ".weight") && w.has(prefix + "gate_up_proj");
  Tensor gu_all, down_all;
  if (stacked) {
    x.layout = ExpertWeights::GateUp::kFused;
    gu_all = w.get(prefix + "gate_up_proj", {E, 2 * I, H});
    down_all = w.get(prefix + "down_proj", {E, H, I});
    x.gate_up.resize(size_t(E));
  } else {
    x.gate.resize(size_t(E));
    x.up.resize(size_t(E));
  }
  for (int e = 0; e < E; ++e) {
    if (hold_expert && !hold_expert(moe_layer, e)) continue;
    if (stacked) {
      x.gate_up[size_t(e)] = gu_all.slice_rows(e, e + 1).reshape({2 * I, H});
      x.down[size_t(e)] = down_all.slice_rows(e, e + 1).reshape({H, I});
    } else {
      const std::string p = prefix + std::to_string(e) + ".";
      x.gate[size_t(e)] = w.get(p + gate + ".weight", {I, H});
      x.up[size_t(e)] = w.get(p + up + ".weight", {I, H});
      x.down[size_t(e)] = w.get(p + down + ".weight", {H, I});
    }
  }
  return x;
}

}  // namespace moe
