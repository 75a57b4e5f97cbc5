// GPT-OSS (GptOssForCausalLM, e.g. gpt-oss-20b), runtime/models/README.md section 3.
// What differs from the shared decoder (decoder.h):
//  - norms: RMSNorm that multiplies by the weight in f32 and casts after (kRmsScaleThenCast);
//  - attention: q/k/v/o biases; a learned sink logit per head joins every softmax and is
//    dropped (self_attn.sinks [n_heads]); layers with layer_types[i] == "sliding_attention" see
//    only the last sliding_window keys, and their KV cache keeps only those (kv_cache.h);
//    YaRN rotary embedding (unrounded ramp when truncate is false; make_rope_table);
//  - router: logits = x Wr^T + br (the hooks see them with the bias); top-k of the raw logits,
//    softmax over those k;
//  - experts: MXFP4 as published (U8 blocks [E, rows, cols/32, 16], E8M0 scales
//    [E, rows, cols/32]), kept as zero-copy views of the checkpoint and decoded a row/tile at a
//    time inside the expert GEMMs (never dequantised in memory: a 20B checkpoint stays ~13 GB);
//    a dequantised checkpoint (transformers' float [E, in, out] parameters) is used as stored;
//    gate/up rows interleaved (row 2i gate, 2i+1 up); biases added after each GEMM; clamped
//    SwiGLU: g = min(g, limit), u = clamp(u, -limit, limit), (u + 1) g sigmoid(alpha g);
//  - every layer is MoE.
#include <fmt/format.h>

#include "runtime/core/error.h"
#include "runtime/models/decoder.h"
#include "runtime/models/weights.h"

namespace moe {

namespace {

// A U8 tensor of exactly `shape` (MXFP4 blocks and scales); InputError otherwise.
Tensor get_u8(const WeightSource& w, const std::string& name, const Shape& shape) {
  const Tensor t = w.get_any(name);
  if (t.dtype() != DType::U8)
    throw input_error(w.label() + ": tensor '" + name + "'", "expected dtype U8 (MXFP4), found {}",
                      dtype_name(t.dtype()));
  if (t.shape() != shape)
    throw input_error(w.label() + ": tensor '" + name + "'", "expected shape {}, found {}",
                      shape_str(shape), shape_str(t.shape()));
  return t;
}

// The experts of one layer: MXFP4 as published ("<prefix>{gate_up,down}_proj_{blocks,scales}"
// U8) or transformers' dequantised parameters ("<prefix>{gate_up,down}_proj" float, stored
// [E, in, out]); biases "<prefix>{gate_up,down}_proj_bias" either way.
ExpertWeights load_gpt_oss_experts(const WeightSource& w, const std::string& prefix,
                                   const io::ModelConfig& c, int moe_layer,
                                   const std::function<bool(int, int)>& hold_expert) {
  const int E = c.num_experts;
  const int64_t H = c.hidden_size, I = c.moe_intermediate_size;
  ExpertWeights x;
  x.layout = ExpertWeights::GateUp::kInterleaved;
  x.hidden = int(H);
  x.intermediate = int(I);
  Tensor gu, gus, dn, dns;
  if (w.has(prefix + "gate_up_proj_blocks")) {
    for (auto [what, n] : {std::pair{"hidden_size", H}, std::pair{"intermediate_size", I}})
      if (n % kMxfp4Block != 0)
        throw input_error(c.source.string() + ": key '" + what + "'",
                          "expected a multiple of {} (MXFP4 experts), found {}", kMxfp4Block, n);
    x.format = ExpertWeights::Format::kMxfp4;
    const int64_t hb = H / kMxfp4Block, ib = I / kMxfp4Block;
    gu = get_u8(w, prefix + "gate_up_proj_blocks", {E, 2 * I, hb, 16});
    gus = get_u8(w, prefix + "gate_up_proj_scales", {E, 2 * I, hb});
    dn = get_u8(w, prefix + "down_proj_blocks", {E, H, ib, 16});
    dns = get_u8(w, prefix + "down_proj_scales", {E, H, ib});
  } else if (w.has(prefix + "gate_up_proj")) {
    x.format = ExpertWeights::Format::kFloatTransposed;
    gu = w.get(prefix + "gate_up_proj", {E, H, 2 * I});
    dn = w.get(prefix + "down_proj", {E, I, H});
  } else {
    throw input_error(w.label(),
                      "expected the expert tensors '{0}gate_up_proj_blocks' (MXFP4, as published) "
                      "or '{0}gate_up_proj' (dequantised), found neither",
                      prefix);
  }
  const Tensor gub = w.get(prefix + "gate_up_proj_bias", {E, 2 * I});
  const Tensor dnb = w.get(prefix + "down_proj_bias", {E, H});
  for (auto* v : {&x.gate_up, &x.gate_up_bias, &x.down, &x.down_bias}) v->resize(size_t(E));
  if (gus.defined()) {
    x.gate_up_scales.resize(size_t(E));
    x.down_scales.resize(size_t(E));
  }
  for (int e = 0; e < E; ++e) {
    if (hold_expert && !hold_expert(moe_layer, e)) continue;
    const auto one = [e](const Tensor& t) {  // expert e of a stacked [E, ...] tensor, a view
      Shape s(t.shape().begin() + 1, t.shape().end());
      return t.slice_rows(e, e + 1).reshape(std::move(s));
    };
    x.gate_up[size_t(e)] = one(gu);
    x.gate_up_bias[size_t(e)] = one(gub);
    x.down[size_t(e)] = one(dn);
    x.down_bias[size_t(e)] = one(dnb);
    if (gus.defined()) {
      x.gate_up_scales[size_t(e)] = one(gus);
      x.down_scales[size_t(e)] = one(dns);
    }
  }
  x.glu.kind = GluSpec::Kind::kClampedSwish;
  x.glu.limit = float(c.swiglu_limit);
  x.glu.alpha = float(c.swiglu_alpha);  // 1.702
  return x;
}

}  // namespace

std::shared_ptr<Model> build_gpt_oss(const io::ModelConfig& c, const WeightSource& w,
                                     std::shared_ptr<Backend> be, const ModelLoadOptions& o) {
  auto m = std::make_shared<DecoderModel>(c, std::move(be));
  const int64_t H = c.hidden_size;
  const NormSpec rms{NormSpec::Kind::kRmsScaleThenCast, float(c.norm_eps)};
  for (int i = 0; i < c.num_layers; ++i) {
    const std::string p = fmt::format("model.layers.{}.", i);
    DecoderLayer L = load_common_layer(w, c, i, rms, c.attention_bias);
    L.attn.sinks = w.get(p + "self_attn.sinks", {c.num_heads});

    L.is_moe = true;
    MoeBlock& b = L.moe;
    b.router = w.get(p + "mlp.router.weight", {c.num_experts, H});
    b.router_bias = w.get(p + "mlp.router.bias", {c.num_experts});
    b.routing = {io::RoutingKind::kTopKSoftmax, c.num_experts, c.top_k, false, 0.0};
    b.experts = load_gpt_oss_experts(w, p + "mlp.experts.", c, i, o.hold_expert);
    m->layers.push_back(std::move(L));
  }
  load_common_ends(*m, w, rms);
  return m;
}

}  // namespace moe
