// evaluate() on a tiny random model with a made tokenizer: several points in one batch give each
// point exactly what it gives alone; an empty layer range is the baseline; masked experts are
// never selected; stored outputs re-score to the stored scores; multiple-choice scoring equals
// the engine's loglikelihood of each letter; the result file has the documented structure.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "results/h5.h"
#include "runtime/io/tokenizer.h"
#include "runtime/io/tokenizer_maker.h"
#include "sweeps/eval/eval_report.h"
#include "sweeps/eval/evaluate.h"
#include "sweeps/exec/stop.h"
#include "tests/unit/models/tiny_model.h"
#include "tests/unit/tasks/test_files.h"

namespace moe::eval {
namespace {

using tasks::testing::TempDir;

EvalModel tiny_eval_model(io::Family family) {
  testing::TinySpec spec;
  spec.family = family;
  spec.layers = 3;
  spec.vocab = 600;
  EvalModel m;
  m.model = testing::tiny_model(spec);
  const io::MadeTokenizer made = io::make_tokenizer(family, spec.vocab);
  m.tokenizer =
      std::make_shared<const io::Tokenizer>(io::Tokenizer::from_json(made.tokenizer_json, "made"));
  const char* eos = family == io::Family::kQwen3Moe ? "<|im_end|>" : "<|endoftext|>";
  m.special.eos = {made.special_ids.at(eos)};
  m.special.eos_token = eos;
  return m;
}

TaskConfig mgsm_direct(const std::filesystem::path& dir) {
  TaskConfig t;
  t.name = "mgsm";
  t.kind = TaskKind::kMgsm;
  t.path = dir;
  t.options = parse_task_options(t.kind, R"({"shots": 1, "max_new_tokens": 6})", "mgsm");
  return t;
}

routing::Intervention mask_all(const EvalModel& m, std::vector<int> experts,
                               routing::LayerRange r) {
  routing::InterventionEdit e;
  e.method = routing::InterventionMethod::kMask;
  e.layers = r;
  std::vector<routing::ExpertScore> s;
  for (int x : experts) s.push_back({x, 0.0});
  e.suppress = routing::LayerExperts(size_t(m.router_shape().num_layers), s);
  return routing::Intervention{"mask", {e}};
}

routing::Intervention hard_boost(const EvalModel& m, int expert) {
  routing::InterventionEdit e;
  e.method = routing::InterventionMethod::kHard;
  e.layers = {0, m.router_shape().num_layers - 1};
  e.seed = 4;
  e.boost = routing::LayerExperts(size_t(m.router_shape().num_layers),
                                  std::vector<routing::ExpertScore>{{expert, 1.0}});
  return routing::Intervention{"hard", {e}};
}

const char* kMgsm =
    "Tom has 3 apples and buys 4 more. How many?\t7\nA box has 12 eggs. Half are used. Left?\t6\n"
    "5 times 5?\t25\nWhat is 100 minus 1?\t99\nHow many legs do 2 cats have?\t8\n";

TEST(Evaluate, PointsInOneBatchGetWhatTheyGetAlone) {
  TempDir d;
  d.write("mgsm_en.tsv", kMgsm);
  const EvalModel m = tiny_eval_model(io::Family::kOlmoe);
  const TaskConfig t = mgsm_direct(d.path());
  const LanguageData data = load_language(t, "en");
  ASSERT_EQ(data.items.size(), 4u);
  const routing::Intervention mask = mask_all(m, {0, 1, 2}, {0, 2});
  const routing::Intervention hard = hard_boost(m, 5);
  const routing::Intervention empty = mask_all(m, {0, 1, 2}, routing::LayerRange{});
  EngineOptions eo;
  eo.max_batch_tokens = 64;
  Engine engine(m.model, m.tokenizer, eo);
  const EvalPoint all[] = {
      {"baseline", nullptr}, {"mask", &mask}, {"hard", &hard}, {"empty", &empty}};
  const EvalRun together = evaluate(m, engine, t, data, 0, 4, all);
  ASSERT_EQ(together.points.size(), 4u);
  for (size_t p = 0; p < 4; ++p) {
    const EvalRun alone = evaluate(m, engine, t, data, 0, 4, std::span(all + p, 1));
    ASSERT_EQ(alone.points[0].samples.size(), 4u);
    for (size_t i = 0; i < 4; ++i) {
      EXPECT_EQ(alone.points[0].samples[i].output, together.points[p].samples[i].output)
          << all[p].id << " sample " << i;
      EXPECT_EQ(alone.points[0].samples[i].score, together.points[p].samples[i].score);
    }
    EXPECT_EQ(alone.points[0].counts.after, together.points[p].counts.after) << all[p].id;
    EXPECT_EQ(alone.points[0].counts.before, together.points[p].counts.before) << all[p].id;
  }
  // An empty layer range is the baseline.
  for (size_t i = 0; i < 4; ++i)
    EXPECT_EQ(together.points[3].samples[i].output, together.points[0].samples[i].output);
  // Masked experts are selected before the edit (in some layer) and never after it.
  const routing::SelectionCounts& c = together.points[1].counts;
  int64_t before = 0;
  for (int l = 0; l < c.num_layers; ++l)
    for (int e : {0, 1, 2}) {
      EXPECT_EQ(c.after_at(l, e), 0) << "layer " << l << " expert " << e;
      before += c.before_at(l, e);
    }
  EXPECT_GT(before, 0);
  // The hard-boosted expert is selected by every token of the point.
  const routing::SelectionCounts& h = together.points[2].counts;
  for (int l = 0; l < h.num_layers; ++l) EXPECT_EQ(h.after_at(l, 5), h.tokens[size_t(l)]);
  // The baseline's before and after are the same routing.
  EXPECT_EQ(together.points[0].counts.before, together.points[0].counts.after);
  EXPECT_NE(together.notes.back().find("not renormalised"), std::string::npos);
}

TEST(Evaluate, StoredOutputsRescoreToTheStoredScores) {
  TempDir d;
  d.write("mgsm_en.tsv", kMgsm);
  const EvalModel m = tiny_eval_model(io::Family::kQwen3Moe);
  const TaskConfig t = mgsm_direct(d.path());
  const LanguageData data = load_language(t, "en");
  Engine engine(m.model, m.tokenizer);
  const EvalPoint base[] = {{"baseline", nullptr}};
  const EvalRun run = evaluate(m, engine, t, data, 1, 3, base);
  ASSERT_EQ(run.points[0].samples.size(), 2u);
  const PromptEncoder enc(m.family(), *m.tokenizer, m.special, chat_options(t));
  double sum = 0;
  for (const SampleResult& s : run.points[0].samples) {
    EXPECT_GE(s.index, 1);
    EXPECT_LE(s.index, 2);
    EXPECT_LE(s.generated_tokens, 6);
    EXPECT_FALSE(s.finish.empty());
    const SampleResult again =
        score_generation(t, data, data.items[size_t(s.index)], enc, s.output);
    EXPECT_EQ(again.score, s.score);
    EXPECT_EQ(again.extracted, s.extracted);
    sum += s.score;
  }
  EXPECT_EQ(run.points[0].summary.n, 2);
  EXPECT_DOUBLE_EQ(run.points[0].summary.score, sum / 2);
}

TEST(Evaluate, AStepCheckThatThrowsEndsTheBatchAndTheEngineGoesOn) {
  // A sweep's model runner gives a batch up from the engine's step check (Cancelled, before
  // the next step, when the stop flag says abandon); the same engine then evaluates as before.
  TempDir d;
  d.write("mgsm_en.tsv", kMgsm);
  const EvalModel m = tiny_eval_model(io::Family::kQwen3Moe);
  const TaskConfig t = mgsm_direct(d.path());
  const LanguageData data = load_language(t, "en");
  Engine engine(m.model, m.tokenizer);
  const EvalPoint base[] = {{"baseline", nullptr}};
  const EvalRun before = evaluate(m, engine, t, data, 0, 3, base);
  sweeps::StopFlag stop;
  int64_t steps = 0, finished = 0;
  const ProgressFn count = [&](int64_t, int64_t) { ++finished; };
  engine.set_step_check([&] {
    ++steps;
    if (stop.abandon()) throw sweeps::Cancelled();
  });
  stop.raise(sweeps::StopLevel::kFinish);
  EXPECT_EQ(evaluate(m, engine, t, data, 0, 3, base, {}, count).points[0].samples.size(), 3u);
  EXPECT_EQ(finished, 3);
  EXPECT_GT(steps, 1);
  stop.raise(sweeps::StopLevel::kAbandon);
  steps = finished = 0;
  EXPECT_THROW(evaluate(m, engine, t, data, 0, 3, base, {}, count), sweeps::Cancelled);
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(finished, 0);
  engine.set_step_check({});
  const EvalRun after = evaluate(m, engine, t, data, 0, 3, base);
  ASSERT_EQ(after.points[0].samples.size(), 3u);
  for (size_t i = 0; i < 3; ++i)
    EXPECT_EQ(after.points[0].samples[i].output, before.points[0].samples[i].output) << i;
}

TEST(Evaluate, MultipleChoiceScoresAreTheEnginesLetterLoglikelihoods) {
  TempDir d;
  std::string rows;
  for (int i = 0; i < 3; ++i)
    rows += fmt::format(
        R"({{"link": "l{0}", "question_number": 1, "flores_passage": "The sky is blue {0}.", )"
        R"("question": "What colour?", "mc_answer1": "red", "mc_answer2": "blue", )"
        R"("mc_answer3": "green", "mc_answer4": "black", "correct_answer_num": 2}})"
        "\n",
        i);
  d.write("eng_Latn.jsonl", rows);
  const EvalModel m = tiny_eval_model(io::Family::kQwen3Moe);
  TaskConfig t;
  t.kind = TaskKind::kBelebele;
  t.path = d.path();
  const LanguageData data = load_language(t, "en");
  Engine engine(m.model, m.tokenizer);
  ASSERT_EQ(m.router_shape().num_layers, 2);  // qwen3 tiny: layer 0 is dense
  const routing::Intervention mask = mask_all(m, {3}, {0, 1});
  const EvalPoint pts[] = {{"baseline", nullptr}, {"mask", &mask}};
  const EvalRun run = evaluate(m, engine, t, data, 0, 3, pts);
  const PromptEncoder enc(m.family(), *m.tokenizer, m.special, io::ChatOptions{});
  for (size_t i = 0; i < 3; ++i) {
    std::vector<LoglikelihoodRequest> reqs;
    for (const char* letter : {" A", " B", " C", " D"}) {
      auto [ctx, cont] = enc.choice(data.items[i].prompt, letter);
      reqs.push_back({ctx, cont, 0});
    }
    const auto ll = engine.loglikelihood(reqs);
    const SampleResult& s = run.points[0].samples[i];
    for (size_t c = 0; c < 4; ++c) EXPECT_NEAR(s.choice_logprob[c], ll[c].logprob, 1e-6);
    EXPECT_EQ(s.score, s.extracted == "B" ? 1.0 : 0.0);
    EXPECT_TRUE(s.output.empty());
  }
  EXPECT_EQ(run.points[1].counts.after_at(1, 3), 0);
  // Comparison and file: both points, three samples each, paired by index.
  EvalConfig cfg;
  cfg.task = t;
  cfg.languages = {"en"};
  cfg.intervention_name = "mask";
  cfg.experts["m3"] = ExpertSetSource{"test", {}, {}, {}};
  cfg.edits.push_back(EditSpec{"test", routing::InterventionMethod::kMask, "m3", {0, 1}, 0, true});
  EvalReport rep;
  rep.config = &cfg;
  rep.intervention = mask;
  rep.runs = {run};
  rep.comparison = compare_runs(rep.runs, 0, 1, cfg.task.kind, cfg.bootstrap);
  EXPECT_EQ(rep.comparison->languages[0].difference.n, 3);
  EXPECT_NE(format_report(rep).find("sign test"), std::string::npos);
  const auto file = d.path() / "out.h5";
  write_eval_file(file, rep);
  const h5::File f = h5::File::open(file);
  const h5::Group root = f.root();
  EXPECT_EQ(root.attr_string("kind"), "moe-sweep eval");
  const h5::Group acc = root.open_group("accuracy");
  EXPECT_EQ(acc.read_strings("point"), (std::vector<std::string>{"baseline", "mask"}));
  const auto scores = acc.read<double>("score");
  EXPECT_DOUBLE_EQ(scores[0], run.points[0].summary.score);
  const h5::Group s = root.open_group("samples/mask");
  EXPECT_EQ(s.read<int64_t>("index"), (std::vector<int64_t>{0, 1, 2}));
  std::vector<uint64_t> shape;
  root.open_group("selection/mask").read<int64_t>("selected_after", &shape);
  EXPECT_EQ(shape, (std::vector<uint64_t>{1, 2, 8}));
  EXPECT_TRUE(root.has("comparison"));
  EXPECT_FALSE(std::filesystem::exists(d.path() / "out.h5.tmp"));
}

}  // namespace
}  // namespace moe::eval
