#include "results/routing_trace.h"

#include <fmt/format.h>

#include <fmt/ranges.h>

#include <cstdio>

#include "results/h5.h"
#include "runtime/core/error.h"

namespace moe::results {

namespace {

std::string prompt_name(size_t i) { return fmt::format("prompt_{:04d}", i); }
std::string layer_name(int l) { return fmt::format("layer_{:02d}", l); }

}  // namespace

void write_routing_trace(const std::filesystem::path& path, const RoutingTrace& t) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    h5::File f = h5::File::create(tmp);
    h5::Group root = f.root();
    root.set_attr("family", t.family);
    root.set_attr("source", t.source);
    root.set_attr("num_layers", int64_t(t.num_layers));
    root.set_attr("num_experts", int64_t(t.num_experts));
    root.set_attr("top_k", int64_t(t.top_k));
    for (size_t i = 0; i < t.prompts.size(); ++i) {
      const PromptTrace& p = t.prompts[i];
      const uint64_t T = p.input_ids.size();
      h5::Group g = root.group(prompt_name(i));
      g.write("input_ids", p.input_ids);
      for (const LayerTrace& l : p.layers) {
        h5::Group lg = g.group(layer_name(l.layer));
        lg.write("router_logits", l.router_logits, {T, uint64_t(t.num_experts)}, true);
        lg.write("selected_experts", l.selected_experts, {T, uint64_t(t.top_k)}, true);
        lg.write("routing_weights", l.routing_weights, {T, uint64_t(t.top_k)}, true);
      }
      g.write("logits", p.logits, {T, uint64_t(p.vocab)}, true);
      if (!p.greedy_tokens.empty()) g.write("greedy_tokens", p.greedy_tokens);
    }
    f.flush();
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw Error(fmt::format("cannot rename {} to {}: {}", tmp.string(), path.string(), ec.message()));
}

RoutingTrace read_routing_trace(const std::filesystem::path& path) {
  h5::File f = h5::File::open(path);
  h5::Group root = f.root();
  RoutingTrace t;
  const std::string file = path.string();
  for (const char* a : {"family", "num_layers", "num_experts", "top_k"})
    if (!root.has_attr(a))
      throw input_error(file + ": attribute /" + a, "expected it (routing trace layout), found none");
  t.family = root.attr_string("family");
  t.source = root.has_attr("source") ? root.attr_string("source") : "";
  t.num_layers = int(root.attr_int("num_layers"));
  t.num_experts = int(root.attr_int("num_experts"));
  t.top_k = int(root.attr_int("top_k"));
  for (const std::string& name : root.children()) {
    if (name.rfind("prompt_", 0) != 0) continue;
    h5::Group g = root.open_group(name);
    PromptTrace p;
    p.input_ids = g.read<int32_t>("input_ids");
    const uint64_t T = p.input_ids.size();
    auto check = [&](const std::string& obj, const std::vector<uint64_t>& shape, uint64_t cols) {
      if (shape.size() != 2 || shape[0] != T || (cols && shape[1] != cols))
        throw input_error(file + ": /" + name + "/" + obj, "expected shape [{}, {}], found {}", T,
                          cols ? std::to_string(cols) : "V", fmt::format("{}", fmt::join(shape, " x ")));
    };
    for (const std::string& child : g.children()) {
      if (child.rfind("layer_", 0) != 0) continue;
      h5::Group lg = g.open_group(child);
      LayerTrace l;
      l.layer = std::stoi(child.substr(6));
      std::vector<uint64_t> s;
      l.router_logits = lg.read<float>("router_logits", &s);
      check(child + "/router_logits", s, uint64_t(t.num_experts));
      l.selected_experts = lg.read<int32_t>("selected_experts", &s);
      check(child + "/selected_experts", s, uint64_t(t.top_k));
      l.routing_weights = lg.read<float>("routing_weights", &s);
      check(child + "/routing_weights", s, uint64_t(t.top_k));
      p.layers.push_back(std::move(l));
    }
    std::vector<uint64_t> s;
    p.logits = g.read<float>("logits", &s);
    check("logits", s, 0);
    p.vocab = int64_t(s[1]);
    if (g.has("greedy_tokens")) p.greedy_tokens = g.read<int32_t>("greedy_tokens");
    t.prompts.push_back(std::move(p));
  }
  return t;
}

}  // namespace moe::results
