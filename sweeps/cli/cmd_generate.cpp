// `moe-sweep generate MODEL_DIR --prompt TEXT [--chat] [--max-tokens N]`: generates a
// continuation (greedy by default; --temperature/--top-p/--top-k/--seed sample) and prints it.
// With --chat the prompt is one user message in the family's chat template. Generation stops at
// the checkpoint's end-of-sequence ids (generation_config.json, config.json,
// tokenizer_config.json), at any --stop string, or after --max-tokens.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/io/chat.h"
#include "runtime/io/model_config.h"
#include "runtime/io/tokenizer.h"
#include "runtime/models/model.h"
#include "sweeps/cli/command.h"
#include "sweeps/cli/model_options.h"

MOE_COMMAND(generate, 20, "Generate text from a prompt", [](CLI::App& app) {
  struct Args {
    std::string model_dir, prompt;
    bool chat = false;
    int max_tokens = 128;
    float temperature = 0.0f, top_p = 1.0f;
    int top_k = 0;
    uint64_t seed = 0;
    std::vector<std::string> stops;
    moe::cli::ModelFlags model;
  };
  auto a = std::make_shared<Args>();
  app.add_option("MODEL_DIR", a->model_dir, "checkpoint directory")->required();
  app.add_option("--prompt", a->prompt, "prompt text")->required();
  app.add_flag("--chat", a->chat, "wrap the prompt in the family's chat template");
  app.add_option("--max-tokens", a->max_tokens, "tokens to generate at most")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--temperature", a->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  app.add_option("--top-p", a->top_p, "nucleus mass")->check(CLI::Range(0.0f, 1.0f));
  app.add_option("--top-k", a->top_k, "0 = off")->check(CLI::NonNegativeNumber);
  app.add_option("--seed", a->seed, "sampling seed")->capture_default_str();
  app.add_option("--stop", a->stops, "stop string (repeatable)");
  a->model.add(app);
  return [a] {
    auto tok = std::make_shared<const moe::io::Tokenizer>(
        moe::io::Tokenizer::load(std::filesystem::path(a->model_dir) / "tokenizer.json"));
    auto model = moe::load_model(a->model_dir, a->model.load_options());
    const moe::io::SpecialTokens special = moe::io::load_special_tokens(a->model_dir);
    moe::GenerateRequest r;
    if (a->chat) {
      moe::io::ChatOptions co;
      co.bos_text = special.add_bos ? special.bos_token : "";
      const moe::io::ChatMessage msg{"user", a->prompt};
      const std::string text =
          moe::io::apply_chat_template(model->config().family, std::span(&msg, 1), co);
      r.prompt = tok->encode(text, /*add_special_tokens=*/false);
    } else {
      r.prompt = tok->encode(a->prompt, /*add_special_tokens=*/true);
    }
    r.max_new_tokens = a->max_tokens;
    for (int64_t id : special.eos) r.stop_tokens.push_back(int32_t(id));
    r.stop_strings = a->stops;
    r.sampling.greedy = a->temperature <= 0.0f;
    r.sampling.temperature = a->temperature;
    r.sampling.top_p = a->top_p;
    r.sampling.top_k = a->top_k;
    r.sampling.seed = a->seed;
    moe::EngineOptions eo;
    eo.max_batch_seqs = 1;
    moe::Engine engine(model, tok, eo);
    spdlog::info("generate: {} prompt tokens on {}", r.prompt.size(), model->backend().name());
    const auto res = engine.generate(std::span(&r, 1));
    std::printf("%s\n", res[0].text.c_str());
    return 0;
  };
});
