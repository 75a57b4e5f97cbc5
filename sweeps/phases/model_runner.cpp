// The product UnitRunner: loads a model once per replica (through the replica's ranks: with
// expert_parallel R > 1 each rank holds its share of the experts) and runs the three phases
// with the runtime's engine: routing statistics (stats_phase.h), expert identification
// (experts_phase.h, no model) and evaluation (eval_phase.h, the evaluator of `moe-sweep eval`).
// With R > 1 ranks per replica, attention is data-parallel: each rank feeds its own consecutive
// share of a batch's samples (ceil(n / R) each, in rank order) while serving the other ranks'
// expert exchanges (ep::Replica::run); the leader then collects every rank's results (as bytes,
// results::to_bytes) and combines the shares in sample order, as merge combines sample ranges.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
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
    const bool leader = ctx_.replica.rank == 0;
    const int ranks = ctx_.ep ? ctx_.ep->size() : 1;
    if (group.kind == UnitKind::kExperts) {
      std::vector<results::UnitResult> out;
      if (leader)
        for (int ui : group.units)
          out.push_back(run_expert_identification(ctx_, ctx_.plan->units[size_t(ui)]));
      return out;
    }
    ensure_model(group.model);
    // This rank's share of each unit's samples; a rank whose shares are all empty only serves.
    std::vector<SampleRange> mine;
    for (int ui : group.units) {
      const Unit& u = ctx_.plan->units[size_t(ui)];
      mine.push_back(share_of(u.begin, u.end, ctx_.replica.rank, ranks));
    }
    // Abandoning on a stop signal, checked between units and before every engine step: the
    // leader decides by its stop flag and, with expert parallelism, tells the replica
    // (Replica::cancel); the other ranks then give up their share as well. The replica fails
    // the batch on every rank, and the leader reports it abandoned.
    const auto abandon_now = [&] {
      if (!leader) return ctx_.ep && ctx_.ep->cancelled();
      if (!stop.abandon()) return false;
      if (ctx_.ep) ctx_.ep->cancel();
      return true;
    };
    const StepCheckScope step_check(*engine_, [&] {
      if (abandon_now()) throw Cancelled();
    });
    std::vector<results::UnitResult> mine_out;  // one per unit with a non-empty share
    const auto work = [&] {
      if (group.kind == UnitKind::kStats) {
        for (size_t i = 0; i < group.units.size(); ++i) {
          if (mine[i].empty()) continue;
          if (abandon_now()) throw Cancelled();
          Unit u = ctx_.plan->units[size_t(group.units[i])];
          u.begin = mine[i].begin;
          u.end = mine[i].end;
          mine_out.push_back(run_statistics_unit(ctx_, u, *engine_, *model_.tokenizer,
                                                 model_.family(), stats_chat()));
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
        if (!mine.front().empty())  // the units of an eval batch share one sample range
          mine_out = run_eval_group(ctx_, group, model_, *engine_, task,
                                    language_data(task, t.languages, u.language),
                                    mine.front().begin, mine.front().end);
      }
    };
    if (ranks == 1) {
      work();
      return mine_out;
    }
    int64_t samples = 0;
    for (const SampleRange& r : mine) samples += r.end - r.begin;
    spdlog::debug("replica {} rank {}: feeds {} samples of batch {}", ctx_.replica.index,
                  ctx_.replica.rank, samples, group.id);
    ctx_.ep->run(*model_.model, work);
    return gather_shares(group, mine_out, ranks);
  }

 private:
  // Engine::set_step_check for one scope.
  struct StepCheckScope {
    Engine& engine;
    StepCheckScope(Engine& e, std::function<void()> check) : engine(e) {
      engine.set_step_check(std::move(check));
    }
    StepCheckScope(const StepCheckScope&) = delete;
    StepCheckScope& operator=(const StepCheckScope&) = delete;
    ~StepCheckScope() { engine.set_step_check({}); }
  };

  struct SampleRange {
    int64_t begin = 0, end = 0;
    bool empty() const { return end <= begin; }
  };

  // Rank `rank`'s share of [begin, end) among `ranks`: ceil(n / ranks) consecutive samples each.
  static SampleRange share_of(int64_t begin, int64_t end, int rank, int ranks) {
    const int64_t step = (end - begin + ranks - 1) / ranks;
    return {std::min(end, begin + step * rank), std::min(end, begin + step * (rank + 1))};
  }

  // Collective over the replica: every rank's results to the leader, which combines the shares
  // of each unit in rank (= sample) order. Empty on the other ranks.
  std::vector<results::UnitResult> gather_shares(const Group& group,
                                                 const std::vector<results::UnitResult>& mine,
                                                 int ranks) {
    const std::vector<std::string> all =
        ep::gather_strings(ctx_.ep->comm(), results::to_bytes(mine), 0);
    if (ctx_.replica.rank != 0) return {};
    std::vector<std::vector<results::UnitResult>> by_rank;
    for (int r = 0; r < ranks; ++r)
      by_rank.push_back(results::from_bytes(
          all[size_t(r)], fmt::format("results of rank {} of replica {} for batch {}", r,
                                      ctx_.replica.index, group.id)));
    std::vector<size_t> next(size_t(ranks), 0);
    std::vector<results::UnitResult> out;
    for (int ui : group.units) {
      const Unit& u = ctx_.plan->units[size_t(ui)];
      std::vector<results::UnitResult> parts;
      for (int r = 0; r < ranks; ++r) {
        if (share_of(u.begin, u.end, r, ranks).empty()) continue;
        MOE_ASSERT(next[size_t(r)] < by_rank[size_t(r)].size(),
                   "rank {} of replica {} sent too few results for batch {}", r,
                   ctx_.replica.index, group.id);
        parts.push_back(std::move(by_rank[size_t(r)][next[size_t(r)]++]));
      }
      out.push_back(results::combine_results(parts, "unit " + u.id));
    }
    return out;
  }

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
