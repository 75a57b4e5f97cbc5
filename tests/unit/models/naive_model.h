// Test support: a naive, independent forward pass of the qwen3_moe / olmoe decoder over one whole
// sequence, written straight from runtime/models/README.md sections 0-2 in double precision (no
// KV cache, no batching, no backend). The trivially correct model the runtime's decoder is
// compared with.
#pragma once

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "runtime/io/model_config.h"
#include "runtime/models/weights.h"

namespace moe::testing {

struct NaiveOutput {
  std::vector<std::vector<double>> logits;                 // [T][V]
  std::vector<std::vector<std::vector<int>>> experts;      // [moe layer][T][k]
  std::vector<std::vector<std::vector<double>>> weights;   // [moe layer][T][k]
  std::vector<std::vector<std::vector<double>>> router;    // [moe layer][T][E]
};

class NaiveModel {
 public:
  NaiveModel(const io::ModelConfig& c, const WeightSource& w) : c_(c), w_(w) {}

  NaiveOutput run(const std::vector<int32_t>& ids) const {
    using Mat = std::vector<std::vector<double>>;
    const int T = int(ids.size()), hd = c_.head_dim, nh = c_.num_heads,
              nkv = c_.num_kv_heads;
    NaiveOutput out;
    Mat x(static_cast<size_t>(T));
    for (int t = 0; t < T; ++t) x[size_t(t)] = row("model.embed_tokens.weight", ids[size_t(t)]);
    for (int l = 0; l < c_.num_layers; ++l) {
      const std::string p = fmt::format("model.layers.{}.", l);
      Mat h = rms_rows(x, p + "input_layernorm.weight");
      Mat q = linear(h, p + "self_attn.q_proj.weight"), k = linear(h, p + "self_attn.k_proj.weight"),
          v = linear(h, p + "self_attn.v_proj.weight");
      if (c_.qk_norm_per_head) {
        q = per_head_rms(q, nh, p + "self_attn.q_norm.weight");
        k = per_head_rms(k, nkv, p + "self_attn.k_norm.weight");
      } else {
        q = rms_rows(q, p + "self_attn.q_norm.weight");
        k = rms_rows(k, p + "self_attn.k_norm.weight");
      }
      rope(q, nh);
      rope(k, nkv);
      Mat o(size_t(T), std::vector<double>(size_t(nh * hd), 0.0));
      for (int t = 0; t < T; ++t)
        for (int hh = 0; hh < nh; ++hh) {
          const int kh = hh / (nh / nkv);
          std::vector<double> s(size_t(t + 1));
          for (int j = 0; j <= t; ++j) {
            double d = 0;
            for (int i = 0; i < hd; ++i) d += q[size_t(t)][size_t(hh * hd + i)] * k[size_t(j)][size_t(kh * hd + i)];
            s[size_t(j)] = d / std::sqrt(double(hd));
          }
          softmax(s);
          for (int j = 0; j <= t; ++j)
            for (int i = 0; i < hd; ++i)
              o[size_t(t)][size_t(hh * hd + i)] += s[size_t(j)] * v[size_t(j)][size_t(kh * hd + i)];
        }
      add(x, linear(o, p + "self_attn.o_proj.weight"));
      h = rms_rows(x, p + "post_attention_layernorm.weight");
      if (c_.moe_layer[size_t(l)]) {
        add(x, moe(h, p, out));
      } else {
        add(x, mlp(h, p + "mlp."));
      }
    }
    Mat f = rms_rows(x, "model.norm.weight");
    out.logits = linear(f, "lm_head.weight");
    return out;
  }

 private:
  using Mat = std::vector<std::vector<double>>;
  std::vector<double> vec(const std::string& name) const {
    Tensor t = w_.get_any(name).to_f32();
    return std::vector<double>(t.data<float>(), t.data<float>() + t.numel());
  }
  std::vector<double> row(const std::string& name, int r) const {
    Tensor t = w_.get_any(name).to_f32();
    const int64_t n = t.size(1);
    return std::vector<double>(t.data<float>() + r * n, t.data<float>() + (r + 1) * n);
  }
  Mat linear(const Mat& x, const std::string& name) const {
    Tensor t = w_.get_any(name).to_f32();
    const int64_t O = t.size(0), I = t.size(1);
    Mat y(x.size(), std::vector<double>(size_t(O)));
    for (size_t r = 0; r < x.size(); ++r)
      for (int64_t o = 0; o < O; ++o) {
        double s = 0;
        for (int64_t i = 0; i < I; ++i) s += x[r][size_t(i)] * t.data<float>()[o * I + i];
        y[r][size_t(o)] = s;
      }
    return y;
  }
  Mat rms_rows(Mat x, const std::string& name) const {
    const std::vector<double> w = vec(name);
    for (auto& r : x) rms_eps(r, w.data());
    return x;
  }
  void rms_eps(std::vector<double>& v, const double* w) const {
    double ss = 0;
    for (double a : v) ss += a * a;
    const double r = 1.0 / std::sqrt(ss / double(v.size()) + c_.norm_eps);
    for (size_t i = 0; i < v.size(); ++i) v[i] = v[i] * r * w[i];
  }
  Mat per_head_rms(Mat x, int n, const std::string& name) const {
    const std::vector<double> w = vec(name);
    const size_t hd = size_t(c_.head_dim);
    for (auto& r : x)
      for (int h = 0; h < n; ++h) {
        std::vector<double> part(r.begin() + std::ptrdiff_t(h * hd), r.begin() + std::ptrdiff_t((h + 1) * hd));
        rms_eps(part, w.data());
        std::copy(part.begin(), part.end(), r.begin() + std::ptrdiff_t(h * hd));
      }
    return x;
  }
  void rope(Mat& x, int n) const {
    const int d = c_.head_dim, half = d / 2;
    for (size_t t = 0; t < x.size(); ++t)
      for (int h = 0; h < n; ++h)
        for (int i = 0; i < half; ++i) {
          const double ang = double(t) * std::pow(c_.rope.theta, -2.0 * i / d);
          double& a = x[t][size_t(h * d + i)];
          double& b = x[t][size_t(h * d + i + half)];
          const double x1 = a, x2 = b;
          a = x1 * std::cos(ang) - x2 * std::sin(ang);
          b = x2 * std::cos(ang) + x1 * std::sin(ang);
        }
  }
  static void softmax(std::vector<double>& s) {
    const double m = *std::max_element(s.begin(), s.end());
    double z = 0;
    for (double& a : s) z += (a = std::exp(a - m));
    for (double& a : s) a /= z;
  }
  static void add(Mat& x, const Mat& y) {
    for (size_t r = 0; r < x.size(); ++r)
      for (size_t i = 0; i < x[r].size(); ++i) x[r][i] += y[r][i];
  }
  Mat mlp(const Mat& h, const std::string& p) const {
    Mat g = linear(h, p + "gate_proj.weight"), u = linear(h, p + "up_proj.weight");
    for (size_t r = 0; r < g.size(); ++r)
      for (size_t i = 0; i < g[r].size(); ++i) g[r][i] = g[r][i] / (1 + std::exp(-g[r][i])) * u[r][i];
    return linear(g, p + "down_proj.weight");
  }
  Mat moe(const Mat& h, const std::string& p, NaiveOutput& out) const {
    const Mat logits = linear(h, p + "mlp.gate.weight");
    const int E = c_.num_experts, K = c_.top_k;
    Mat y(h.size(), std::vector<double>(h[0].size(), 0.0));
    out.router.push_back(logits);
    out.experts.emplace_back();
    out.weights.emplace_back();
    for (size_t t = 0; t < h.size(); ++t) {
      std::vector<double> pr = logits[t];
      softmax(pr);
      std::vector<int> idx(static_cast<size_t>(E));
      std::iota(idx.begin(), idx.end(), 0);
      std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return pr[size_t(a)] > pr[size_t(b)]; });
      idx.resize(size_t(K));
      std::vector<double> w;
      double sum = 0;
      for (int e : idx) sum += pr[size_t(e)];
      for (int e : idx) w.push_back(c_.norm_topk_prob ? pr[size_t(e)] / sum : pr[size_t(e)]);
      for (int j = 0; j < K; ++j) {
        const Mat ye = mlp(Mat{h[t]}, p + fmt::format("mlp.experts.{}.", idx[size_t(j)]));
        for (size_t i = 0; i < y[t].size(); ++i) y[t][i] += w[size_t(j)] * ye[0][i];
      }
      out.experts.back().push_back(idx);
      out.weights.back().push_back(w);
    }
    return y;
  }

  const io::ModelConfig& c_;
  const WeightSource& w_;
};

}  // namespace moe::testing
