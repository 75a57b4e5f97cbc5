#include "sweeps/eval/evaluate.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer.h"
#include "runtime/routing/statistics.h"
#include "sweeps/tasks/answers.h"
#include "sweeps/tasks/chrf.h"
#include "sweeps/tasks/gmmlu.h"
#include "sweeps/tasks/language_consistency.h"
#include "sweeps/tasks/languages.h"
#include "sweeps/tasks/mgsm.h"
#include "sweeps/tasks/multiple_choice.h"
#include "sweeps/tasks/text.h"
#include "sweeps/tasks/xquad.h"

namespace moe::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kTagShift = 40;

uint64_t tag_of(size_t point, int64_t index) {
  return (uint64_t(point + 1) << kTagShift) | uint64_t(index);
}

const char* finish_name(GenerateResult::Finish f) {
  switch (f) {
    case GenerateResult::Finish::kStopToken:
      return "stop_token";
    case GenerateResult::Finish::kStopString:
      return "stop_string";
    case GenerateResult::Finish::kMaxTokens:
      return "max_tokens";
    case GenerateResult::Finish::kContextFull:
      return "context_full";
  }
  return "";
}

std::string today() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  localtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

// A flores hypothesis: the first non-empty line of the answer, trimmed.
std::string first_line(std::string_view text) {
  const std::string t = tasks::trim(text);
  return tasks::trim(std::string_view(t).substr(0, t.find('\n')));
}

}  // namespace

EvalModel EvalModel::load(const std::filesystem::path& dir, const ModelLoadOptions& options) {
  EvalModel m;
  m.dir = dir;
  m.tokenizer = std::make_shared<const io::Tokenizer>(io::Tokenizer::load(dir / "tokenizer.json"));
  m.special = io::load_special_tokens(dir);
  m.model = load_model(dir, options);
  return m;
}

routing::RouterShape EvalModel::router_shape() const {
  const io::ModelConfig& c = model->config();
  return routing::RouterShape{model->num_moe_layers(), c.num_experts, c.top_k};
}

significance::CorpusMetric language_metric(TaskKind kind) {
  if (kind == TaskKind::kFlores) return tasks::chrf_corpus_metric();
  if (kind == TaskKind::kGmmlu) return tasks::gmmlu_subject_mean_metric();
  return {};
}

io::ChatOptions chat_options(const TaskConfig& task) {
  io::ChatOptions o;
  o.enable_thinking = task.options.thinking;
  o.reasoning_effort = task.options.reasoning_effort;
  o.current_date = task.options.chat_date.empty() ? today() : task.options.chat_date;
  return o;
}

// ---- scoring --------------------------------------------------------------------------------

SampleResult score_generation(const TaskConfig& task, const LanguageData& data,
                              const EvalItem& item, const PromptEncoder& encoder,
                              std::string_view output) {
  SampleResult r;
  r.index = item.index;
  r.id = item.id;
  r.gold = item.gold;
  r.output = tasks::sanitize_utf8(output);
  r.answer_text = tasks::sanitize_utf8(encoder.answer_text(output, task.uses_chat()));
  switch (task.kind) {
    case TaskKind::kMgsm:
      if (task.options.variant == "direct") {
        const tasks::MgsmDirectScore s = tasks::score_mgsm_direct(r.answer_text, item.gold);
        r.extracted = s.extracted;
        r.score = s.correct ? 1.0 : 0.0;
        r.verdict = s.correct ? "correct" : "incorrect";
        break;
      }
      [[fallthrough]];
    case TaskKind::kPolymath: {
      const tasks::BoxedScore s = tasks::score_boxed(r.answer_text, item.gold);
      r.extracted = s.extracted.value_or("");
      r.verdict = tasks::verdict_name(s.verdict);
      r.score = s.verdict == tasks::Verdict::unscorable ? kNaN
                : s.verdict == tasks::Verdict::correct  ? 1.0
                                                        : 0.0;
      break;
    }
    case TaskKind::kXquad: {
      r.extracted = tasks::trim(r.answer_text);
      const tasks::QaScore s = tasks::score_qa(r.extracted, item.golds);
      r.exact_match = s.exact_match;
      r.f1 = s.f1;
      r.containment = s.containment;
      r.score = s.exact_match;
      r.verdict = s.exact_match == 1.0 ? "correct" : "incorrect";
      break;
    }
    case TaskKind::kFlores:
      r.extracted = first_line(r.answer_text);
      r.chrf_stats = tasks::chrf_statistics(r.extracted, item.gold);
      r.chrf = tasks::chrf_from_statistics(r.chrf_stats);
      r.score = r.chrf;
      break;
    case TaskKind::kGmmlu:
    case TaskKind::kBelebele:
      MOE_ASSERT(false, "score_generation of a multiple-choice task");
  }
  const tasks::LanguageCheck lc =
      tasks::check_language(r.answer_text, tasks::language(data.output_language));
  r.consistency = tasks::consistency_name(lc.result);
  r.detected = lc.detected;
  return r;
}

SampleResult score_choice(const EvalItem& item, const std::array<double, 4>& logprobs) {
  SampleResult r;
  r.index = item.index;
  r.id = item.id;
  r.subject = item.subject;
  r.gold = item.gold;
  r.choice_logprob = logprobs;
  const int pred = tasks::argmax_choice(logprobs);
  r.extracted = std::string(1, tasks::kChoiceLetters[size_t(pred)]);
  r.score = pred == item.gold_choice ? 1.0 : 0.0;
  r.verdict = pred == item.gold_choice ? "correct" : "incorrect";
  return r;
}

LanguageSummary summarize(const TaskConfig& task, const std::string& language,
                          std::span<const SampleResult> samples) {
  LanguageSummary s;
  s.language = language;
  s.metric = task.kind == TaskKind::kXquad    ? "exact_match"
             : task.kind == TaskKind::kFlores ? "chrf"
                                              : "accuracy";
  s.n = int(samples.size());
  std::map<std::string, std::pair<double, int>> subj;  // subject -> (sum, n)
  std::vector<std::string> hyps, refs;
  tasks::ConsistencyTally tally;
  for (const SampleResult& r : samples) {
    if (std::isnan(r.score)) {
      ++s.unscorable;
    } else {
      ++s.scored;
      s.correct += r.score;
    }
    s.exact_match += r.exact_match;
    s.f1 += r.f1;
    s.containment += r.containment;
    s.sentence_chrf += r.chrf;
    if (!r.subject.empty()) {
      subj[r.subject].first += r.score;
      ++subj[r.subject].second;
    }
    if (task.kind == TaskKind::kFlores) {
      hyps.push_back(r.extracted);
      refs.push_back(r.gold);
    }
    if (r.consistency == "consistent") tally.add(tasks::Consistency::consistent);
    if (r.consistency == "inconsistent") tally.add(tasks::Consistency::inconsistent);
    if (r.consistency == "undetermined") tally.add(tasks::Consistency::undetermined);
  }
  const double n = s.n > 0 ? double(s.n) : kNaN;
  s.score = s.scored > 0 ? s.correct / s.scored : kNaN;
  s.accuracy_lower = s.correct / n;
  s.accuracy_upper = (s.correct + s.unscorable) / n;
  s.exact_match /= n;
  s.f1 /= n;
  s.containment /= n;
  s.sentence_chrf /= n;
  if (!subj.empty()) {
    double sum = 0;
    for (const auto& [name, v] : subj) {
      s.subjects.emplace_back(name, v.first / v.second);
      sum += v.first / v.second;
    }
    s.score = sum / double(subj.size());
  }
  if (task.kind == TaskKind::kFlores)
    s.score = hyps.empty() ? kNaN : tasks::corpus_chrf(hyps, refs);
  s.consistent = tally.consistent;
  s.inconsistent = tally.inconsistent;
  s.undetermined = tally.undetermined;
  s.consistency_rate = tally.rate();
  return s;
}

// ---- evaluate -------------------------------------------------------------------------------

namespace {

// Runs the generation requests of every (point, item) and scores them.
void run_generation(Engine& engine, const TaskConfig& task, const LanguageData& data, int64_t begin,
                    int64_t end, size_t num_points, const PromptEncoder& enc, HookList hooks,
                    const ProgressFn& progress, EvalRun& run) {
  const tasks::Language& lang = tasks::language(data.language);
  std::vector<std::string> stops;
  if (task.kind == TaskKind::kMgsm && task.options.variant == "direct")
    stops = tasks::mgsm_direct_stop_sequences(lang);
  const std::vector<int32_t> stop_ids = enc.stop_tokens();
  std::vector<std::vector<int32_t>> prompts;
  for (int64_t i = begin; i < end; ++i) {
    const EvalItem& it = data.items[size_t(i)];
    prompts.push_back(task.uses_chat() ? enc.chat(it.prompt) : enc.plain(it.prompt));
  }
  std::vector<GenerateRequest> reqs;
  for (size_t p = 0; p < num_points; ++p)
    for (int64_t i = begin; i < end; ++i) {
      GenerateRequest r;
      r.prompt = prompts[size_t(i - begin)];
      r.max_new_tokens = task.max_new_tokens();
      r.stop_tokens = stop_ids;
      r.stop_strings = stops;
      const SamplingConfig& sc = task.options.sampling;
      r.sampling.greedy = sc.greedy;
      r.sampling.temperature = float(sc.temperature);
      r.sampling.top_p = float(sc.top_p);
      r.sampling.top_k = sc.top_k;
      r.sampling.seed = routing::pair_seed(sc.seed, uint64_t(i));
      r.tag = tag_of(p, i);
      reqs.push_back(std::move(r));
    }
  const std::vector<GenerateResult> res = engine.generate(reqs, hooks, progress);
  size_t q = 0;
  for (size_t p = 0; p < num_points; ++p)
    for (int64_t i = begin; i < end; ++i, ++q) {
      SampleResult r = score_generation(task, data, data.items[size_t(i)], enc, res[q].text);
      r.finish = finish_name(res[q].finish);
      r.prompt_tokens = int64_t(reqs[q].prompt.size());
      r.generated_tokens = int64_t(res[q].tokens.size());
      run.points[p].samples.push_back(std::move(r));
    }
}

void run_choices(Engine& engine, const LanguageData& data, int64_t begin, int64_t end,
                 size_t num_points, const PromptEncoder& enc, HookList hooks,
                 const ProgressFn& progress, EvalRun& run) {
  struct Split {
    std::array<std::vector<int32_t>, 4> context, cont;
    bool one_token = true;  // one context, one-token continuations
  };
  std::vector<Split> splits;
  bool one_token = true;
  for (int64_t i = begin; i < end; ++i) {
    Split s;
    for (size_t c = 0; c < 4; ++c) {
      auto [ctx, cont] = enc.choice(data.items[size_t(i)].prompt, tasks::kChoiceContinuations[c]);
      if (cont.empty())
        throw input_error(data.file.string(),
                          "sample {}: expected the choice '{}' to encode to at "
                          "least one token, found none",
                          data.items[size_t(i)].id, tasks::kChoiceContinuations[c]);
      s.one_token = s.one_token && cont.size() == 1 && (c == 0 || ctx == s.context[0]);
      s.context[c] = std::move(ctx);
      s.cont[c] = std::move(cont);
    }
    one_token = one_token && s.one_token;
    splits.push_back(std::move(s));
  }
  std::vector<std::array<double, 4>> lp(num_points * splits.size());
  if (one_token) {
    std::vector<NextTokenRequest> reqs;
    for (size_t p = 0; p < num_points; ++p)
      for (size_t j = 0; j < splits.size(); ++j)
        reqs.push_back(NextTokenRequest{splits[j].context[0],
                                        {splits[j].cont[0][0], splits[j].cont[1][0],
                                         splits[j].cont[2][0], splits[j].cont[3][0]},
                                        tag_of(p, begin + int64_t(j))});
    const auto res = engine.next_token_logprobs(reqs, hooks, progress);
    for (size_t q = 0; q < res.size(); ++q)
      for (size_t c = 0; c < 4; ++c) lp[q][c] = res[q].logprob[c];
  } else {
    std::vector<LoglikelihoodRequest> reqs;
    for (size_t p = 0; p < num_points; ++p)
      for (size_t j = 0; j < splits.size(); ++j)
        for (size_t c = 0; c < 4; ++c)
          reqs.push_back(LoglikelihoodRequest{splits[j].context[c], splits[j].cont[c],
                                              tag_of(p, begin + int64_t(j))});
    const auto res = engine.loglikelihood(reqs, hooks, progress);
    for (size_t q = 0; q < lp.size(); ++q)
      for (size_t c = 0; c < 4; ++c) lp[q][c] = res[q * 4 + c].logprob;
  }
  size_t q = 0;
  for (size_t p = 0; p < num_points; ++p)
    for (size_t j = 0; j < splits.size(); ++j, ++q) {
      SampleResult r = score_choice(data.items[size_t(begin) + j], lp[q]);
      r.prompt_tokens = int64_t(splits[j].context[0].size());
      run.points[p].samples.push_back(std::move(r));
    }
}

}  // namespace

EvalRun evaluate(const EvalModel& model, Engine& engine, const TaskConfig& task,
                 const LanguageData& data, int64_t begin, int64_t end,
                 std::span<const EvalPoint> points, HookList extra_hooks,
                 const ProgressFn& progress) {
  MOE_ASSERT(0 <= begin && begin <= end && end <= int64_t(data.items.size()),
             "sample range [{}, {}) of {} samples", begin, end, data.items.size());
  const io::ModelConfig& cfg = model.model->config();
  routing::InterventionHook hook(model.router_shape());
  EvalRun run;
  run.language = data.language;
  run.notes = data.notes;
  const std::string note = routing::routing_note(cfg.routing, cfg.norm_topk_prob);
  run.notes.push_back(
      fmt::format("routing: {}{}", io::routing_name(cfg.routing), note.empty() ? "" : "; " + note));
  const routing::Intervention baseline{"baseline", {}};
  for (size_t p = 0; p < points.size(); ++p) {
    const routing::Intervention& iv = points[p].intervention ? *points[p].intervention : baseline;
    const int idx = hook.add(iv);
    MOE_ASSERT(idx == int(p), "intervention index");
    for (int64_t i = begin; i < end; ++i) hook.bind(tag_of(p, i), idx, uint64_t(i));
    PointResult pr;
    pr.point = points[p].id;
    pr.truncations = hook.intervention(idx).truncations();
    run.points.push_back(std::move(pr));
  }
  std::vector<RouterHook*> hooks{&hook};
  hooks.insert(hooks.end(), extra_hooks.begin(), extra_hooks.end());
  io::ChatOptions co = chat_options(task);
  if (task.uses_chat() && cfg.family == io::Family::kGptOss)
    run.notes.push_back(fmt::format("harmony: current date {}, reasoning effort {}",
                                    co.current_date, co.reasoning_effort));
  const PromptEncoder enc(cfg.family, *model.tokenizer, model.special, co);
  if (begin < end) {
    if (task.generative())
      run_generation(engine, task, data, begin, end, points.size(), enc, hooks, progress, run);
    else
      run_choices(engine, data, begin, end, points.size(), enc, hooks, progress, run);
  }
  for (size_t p = 0; p < points.size(); ++p) {
    run.points[p].counts = hook.counts(int(p));
    run.points[p].summary = summarize(task, data.language, run.points[p].samples);
  }
  return run;
}

}  // namespace moe::eval
