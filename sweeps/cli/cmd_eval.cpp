// `moe-sweep eval CONFIG [-o FILE]`: one evaluation (sweeps/eval/eval_config.h): a model, a task
// and its languages, the baseline and optionally one intervention, run together in the same
// batches. Prints the score per language and, for an intervention, base vs intervened with the
// delta, its paired-bootstrap CI and the exact McNemar p, and the sign and t tests across
// languages; writes the result file when `output` (or -o) is given (sweeps/eval/eval_report.h).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "runtime/engine/engine.h"
#include "runtime/io/tokenizer.h"
#include "sweeps/cli/command.h"
#include "sweeps/eval/eval_config.h"
#include "sweeps/eval/eval_report.h"
#include "sweeps/eval/evaluate.h"

MOE_COMMAND(eval, 40, "Evaluate a task: the baseline and one intervention", [](CLI::App& app) {
  struct Args {
    std::string config, output;
  };
  auto a = std::make_shared<Args>();
  app.add_option("CONFIG", a->config, "evaluation YAML (see sweeps/eval/eval_config.h)")
      ->required();
  app.add_option("-o,--output", a->output, "result file (HDF5); overrides the config's output");
  return [a] {
    using namespace moe;
    const eval::EvalConfig cfg = eval::load_eval_config(a->config);
    std::optional<routing::Intervention> iv;
    if (cfg.has_intervention()) iv = eval::build_intervention(cfg);
    // Every language's data is read (and checked) before the model is loaded.
    std::vector<eval::LanguageData> data;
    for (const std::string& lang : cfg.languages) {
      data.push_back(eval::load_language(cfg.task, lang));
      spdlog::info("eval: {} {}: {} samples from {}", cfg.task.name, lang, data.back().items.size(),
                   data.back().file.string());
    }
    eval::check_parallel(cfg.task, data);
    ModelLoadOptions lo;
    lo.backend.name = cfg.model.backend;
    lo.backend.threads = cfg.model.threads;
    const eval::EvalModel model = eval::EvalModel::load(cfg.model.path, lo);
    if (iv) routing::PreparedIntervention(*iv, model.router_shape());  // fail before running
    EngineOptions eo;
    eo.max_batch_tokens = cfg.model.max_batch_tokens;
    eo.max_batch_seqs = cfg.model.max_batch_seqs;
    Engine engine(model.model, model.tokenizer, eo);

    std::vector<eval::EvalPoint> points{{"baseline", nullptr}};
    if (iv) points.push_back({iv->name, &*iv});
    eval::EvalReport report;
    report.config = &cfg;
    report.intervention = iv;
    const io::ModelConfig& mc = model.model->config();
    report.family = io::family_name(mc.family);
    report.routing = io::routing_name(mc.routing);
    report.model_description = fmt::format(
        "{} ({}, {} MoE layers x {} experts, top-{}, routing {}{}{})", cfg.model.path.string(),
        io::family_name(mc.family), model.model->num_moe_layers(), mc.num_experts, mc.top_k,
        io::routing_name(mc.routing), model.model->description().empty() ? "" : ", ",
        model.model->description());
    for (const eval::LanguageData& d : data) {
      const int64_t n = cfg.samples > 0 ? std::min<int64_t>(cfg.samples, int64_t(d.items.size()))
                                        : int64_t(d.items.size());
      spdlog::info("eval: {}: {} samples x {} points", d.language, n, points.size());
      report.runs.push_back(eval::evaluate(model, engine, cfg.task, d, 0, n, points));
    }
    if (iv) report.comparison = eval::compare_runs(report.runs, 0, 1, cfg.task.kind, cfg.bootstrap);
    for (const std::string& note :
         report.runs.empty() ? std::vector<std::string>{} : report.runs[0].notes)
      spdlog::info("eval: note: {}", note);
    std::fputs(eval::format_report(report).c_str(), stdout);
    const std::filesystem::path out =
        a->output.empty() ? cfg.output : std::filesystem::path(a->output);
    if (!out.empty()) {
      eval::write_eval_file(out, report);
      spdlog::info("eval: wrote {}", out.string());
    }
    return 0;
  };
});
