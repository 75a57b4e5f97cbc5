// `moe-sweep trace MODEL_DIR --prompts FILE --out trace.h5 [--greedy N]`: records, for every
// prompt and MoE layer, the router logits, selected experts and weights, and the final logits
// (and a greedy continuation with --greedy), in the routing-trace layout (results/SCHEMA.md).
// Prompts FILE: one prompt per line as text (tokenised with MODEL_DIR/tokenizer.json, special
// tokens added as the tokenizer's post-processor says), or JSON lines {"ids": [...]} or
// {"text": "..."}; blank lines are skipped.
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "results/h5.h"
#include "results/routing_trace.h"
#include "runtime/core/error.h"
#include "runtime/core/version.h"
#include "runtime/engine/trace.h"
#include "runtime/io/tokenizer.h"
#include "runtime/models/model.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/model_options.h"

namespace {

std::vector<std::vector<int32_t>> read_prompts(const std::filesystem::path& file,
                                               const std::filesystem::path& model_dir) {
  std::ifstream in(file);
  if (!in) throw moe::InputError(file.string(), "expected a readable prompts file, found none");
  std::unique_ptr<moe::io::Tokenizer> tok;
  auto encode = [&](const std::string& text) {
    if (!tok)
      tok = std::make_unique<moe::io::Tokenizer>(
          moe::io::Tokenizer::load(model_dir / "tokenizer.json"));
    return tok->encode(text, /*add_special_tokens=*/true);
  };
  std::vector<std::vector<int32_t>> prompts;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = file.string() + ":" + std::to_string(n);
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line[line.find_first_not_of(" \t")] != '{') {
      prompts.push_back(encode(line));
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw moe::input_error(where, "expected a JSON object, found invalid JSON ({})", e.what());
    }
    if (j.contains("ids")) {
      if (!j["ids"].is_array()) throw moe::input_error(where + ": key 'ids'", "expected an array of token ids, found {}", j["ids"].type_name());
      std::vector<int32_t> ids;
      for (const auto& v : j["ids"]) {
        if (!v.is_number_integer())
          throw moe::input_error(where + ": key 'ids'", "expected integer token ids, found {}", v.dump());
        ids.push_back(v.get<int32_t>());
      }
      prompts.push_back(std::move(ids));
    } else if (j.contains("text") && j["text"].is_string()) {
      prompts.push_back(encode(j["text"].get<std::string>()));
    } else {
      throw moe::input_error(where, "expected an object with 'ids' (array) or 'text' (string), found {}",
                             line.substr(0, 80));
    }
  }
  if (prompts.empty()) throw moe::InputError(file.string(), "expected at least one prompt, found none");
  return prompts;
}

}  // namespace

MOE_COMMAND(trace, 30, "Record router logits, experts, weights and logits of prompts (HDF5)",
            [](CLI::App& app) {
  struct Args {
    std::string model_dir, prompts, out;
    int greedy = 0;
    int64_t max_batch_tokens = 4096;
    std::string dump;
    moe::cli::ModelFlags model;
  };
  auto a = std::make_shared<Args>();
  app.add_option("MODEL_DIR", a->model_dir, "checkpoint directory")->required();
  app.add_option("--prompts", a->prompts, "prompts: text lines or JSON lines {\"ids\"|\"text\"}")
      ->required();
  app.add_option("--out", a->out, "output HDF5 file")->required();
  app.add_option("--greedy", a->greedy, "greedy continuation tokens per prompt")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--max-batch-tokens", a->max_batch_tokens, "tokens per forward step")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--dump-intermediates", a->dump,
                 "debugging: write every named intermediate of every forward step to this HDF5 "
                 "file (/step_NNNN/<name> [T, D])");
  a->model.add(app);
  return [a] {
    const auto prompts = read_prompts(a->prompts, a->model_dir);
    auto model = moe::load_model(a->model_dir, a->model.load_options());
    spdlog::info("trace: {} prompts on {} ({})", prompts.size(), a->model_dir, model->backend().name());
    moe::TraceOptions o;
    o.greedy_tokens = a->greedy;
    o.max_batch_tokens = a->max_batch_tokens;
    std::string source = fmt::format("moe-sweep {} trace backend={} bf16_emulation={}",
                                     moe::code_version(), model->backend().name(),
                                     model->backend().options().bf16_rounding ? "on" : "off");
    if (!model->description().empty()) source += " " + model->description();
    std::optional<moe::h5::File> dump;
    int step = -1;
    if (!a->dump.empty()) {
      dump = moe::h5::File::create(a->dump);
      model->set_observer([&](const std::string& name, const moe::Tensor& t) {
        if (name == "embed") ++step;
        const moe::Tensor h = model->backend().to_host(t);
        std::vector<float> v(h.data<float>(), h.data<float>() + h.numel());
        dump->root().group(fmt::format("step_{:04d}", step)).write(
            name, v, {uint64_t(h.size(0)), uint64_t(h.numel() / std::max<int64_t>(h.size(0), 1))});
      });
    }
    const auto trace = moe::trace_prompts(*model, prompts, o, source);
    model->set_observer({});
    moe::results::write_routing_trace(a->out, trace);
    spdlog::info("trace: wrote {}", a->out);
    return 0;
  };
});
