// The product UnitRunner: loads a model once per replica (through the replica's ranks: with
// expert_parallel R > 1 each rank holds its share of the experts) and runs the three phases
// with the runtime's engine: routing statistics (stats_phase.h), expert identification
// (experts_phase.h, no model) and evaluation (eval_phase.h, the evaluator of `moe-sweep eval`).
// The replica's leader feeds every sequence of a batch; its other ranks only serve expert
// exchanges (ep::Replica::run), so results do not depend on R.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <optional>

#include "expert_parallel/replica.h"
#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"
#include "sweeps/exec/unit_runner.h"
#include "sweeps/phases/eval_phase.h"
#include "sweeps/phases/experts_phase.h"
#include "sweeps/phases/stats_phase.h"

namespace moe::sweeps {
namespace {

class ModelRunner : public UnitRunner {
 public:
  explicit ModelRunner(const RunnerContext& ctx) : ctx_(ctx) {}
  std::string name() const override { return "model"; }

  std::vector<results::UnitResult> run(const Group& group, const StopFlag& stop) override {
    std::vector<results::UnitResult> out;
    const bool leader = ctx_.replica.rank == 0;
    if (group.kind == UnitKind::kExperts) {
      if (leader)
        for (int ui : group.units)
          out.push_back(run_expert_identification(ctx_, ctx_.plan->units[size_t(ui)]));
      return out;
    }
    ensure_model(group.model);
    const auto work = [&] {
      if (!leader) return;  // the leader feeds every sequence; this rank serves its experts
      if (group.kind == UnitKind::kStats) {
        for (int ui : group.units) {
          if (stop.abandon()) throw Cancelled();
          out.push_back(run_statistics_unit(ctx_, ctx_.plan->units[size_t(ui)], *engine_,
                                            *model_.tokenizer, model_.family(), stats_chat(),
                                            stop));
        }
      } else {
        const Unit& u = ctx_.plan->units[size_t(group.units.front())];
        const TaskSpec& t = ctx_.config->tasks[size_t(u.task)];
        const eval::TaskConfig task = eval_task(*ctx_.config, t);
        // The harmony system message carries a date (today's when the task names none): units
        // run on different days would get different prompts, so a sweep needs it fixed.
        if (model_.family() == io::Family::kGptOss && task.uses_chat() &&
            task.options.chat_date.empty())
          throw InputError(
              fmt::format("{}: tasks.{}.chat_date", ctx_.config->source.string(), t.name),
              "expected a date (YYYY-MM-DD) for GPT-OSS chat prompts in a sweep (every unit "
              "must see the same harmony system message), found none");
        out = run_eval_group(ctx_, group, model_, *engine_, task,
                             language_data(task, t.languages, u.language));
      }
    };
    if (ctx_.ep)
      ctx_.ep->run(*model_.model, work);
    else
      work();
    return out;
  }

 private:
  void ensure_model(int index) {
    MOE_ASSERT(index >= 0, "a batch that needs a model names none");
    if (index == loaded_) return;
    engine_.reset();
    model_ = {};
    data_.clear();
    const ModelSpec& m = ctx_.config->models[size_t(index)];
    ModelLoadOptions lo;
    lo.backend.name = m.backend;
    lo.backend.threads = m.threads;
    spdlog::info("replica {}: loading model {} from {}", ctx_.replica.index, m.name,
                 m.path.string());
    model_.dir = m.path;
    model_.tokenizer =
        std::make_shared<const io::Tokenizer>(io::Tokenizer::load(m.path / "tokenizer.json"));
    model_.special = io::load_special_tokens(m.path);
    model_.model = ctx_.ep ? ctx_.ep->load_model(m.path, lo) : load_model(m.path, lo);
    EngineOptions eo;
    eo.max_batch_tokens = m.max_batch_tokens;
    eo.max_batch_seqs = m.max_batch_seqs;
    engine_ = std::make_unique<Engine>(model_.model, model_.tokenizer, eo);
    loaded_ = index;
  }

  // Corpora are prompted as the studies did: the family's template, thinking off, the special
  // tokens' texts from the checkpoint.
  io::ChatOptions stats_chat() const {
    io::ChatOptions o;
    o.bos_text = model_.special.bos_token;
    o.eos_text = model_.special.eos_token;
    return o;
  }

  // A task language's samples; Global-MMLU languages are checked to select the questions of the
  // task's first language (eval::check_parallel), as `moe-sweep eval` does.
  const eval::LanguageData& language_data(const eval::TaskConfig& task,
                                          const std::vector<std::string>& languages,
                                          const std::string& lang) {
    const auto key = std::make_pair(task.name, lang);
    auto it = data_.find(key);
    if (it != data_.end()) return it->second;
    eval::LanguageData d = eval::load_language(task, lang);
    if (task.kind == eval::TaskKind::kGmmlu && !languages.empty() && lang != languages.front()) {
      const std::vector<eval::LanguageData> pair{language_data(task, languages, languages.front()),
                                                 d};
      eval::check_parallel(task, pair);
    }
    return data_.emplace(key, std::move(d)).first->second;
  }

  RunnerContext ctx_;
  int loaded_ = -1;
  eval::EvalModel model_;
  std::unique_ptr<Engine> engine_;
  std::map<std::pair<std::string, std::string>, eval::LanguageData> data_;
};

}  // namespace

std::unique_ptr<UnitRunner> make_model_runner(const RunnerContext& ctx) {
  return std::make_unique<ModelRunner>(ctx);
}

}  // namespace moe::sweeps
