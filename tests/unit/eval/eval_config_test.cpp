// The `moe-sweep eval` YAML: a full config, 1-indexed layers, explicit and stored expert sets
// (read back from a file written by the analysis writer), and errors naming file:line:col and
// the key.
#include <gtest/gtest.h>

#include "results/h5.h"
#include "runtime/core/error.h"
#include "sweeps/eval/eval_config.h"
#include "sweeps/eval/expert_source.h"
#include "sweeps/routing/analysis.h"
#include "tests/unit/tasks/test_files.h"

namespace moe::eval {
namespace {

using tasks::testing::input_error_message;
using tasks::testing::TempDir;

const char* kFull = R"(model:
  path: /models/tiny
  backend: cpu-ref
  max_batch_tokens: 256
task:
  kind: mgsm
  path: /data/mgsm
  languages: [en, de]
  samples: 10
  variant: direct
  shots: 2
layer_indexing: one_based
interventions: {std: population, hard_seed: 3}
experts:
  manual: {layers: {1: [3, 5], 2: {4: 0.5}}}
intervention:
  name: soft_manual
  method: soft
  experts: manual
  layers: [2, 3]
  lambda: 0.5
  direction: suppress
significance: {resamples: 200, seed: 9}
output: out.h5
)";

TEST(EvalConfig, ReadsEverySectionAndConvertsOneBasedLayers) {
  const EvalConfig c = parse_eval_config(kFull, "/cfg/eval.yaml");
  EXPECT_EQ(c.model.path, "/models/tiny");
  EXPECT_EQ(c.model.backend, "cpu-ref");
  EXPECT_EQ(c.model.max_batch_tokens, 256);
  EXPECT_EQ(c.task.kind, TaskKind::kMgsm);
  EXPECT_EQ(c.task.options.shots, 2);
  EXPECT_EQ(c.languages, (std::vector<std::string>{"en", "de"}));
  EXPECT_EQ(c.samples, 10);
  ASSERT_EQ(c.edits.size(), 1u);
  EXPECT_EQ(c.edits[0].layers, (routing::LayerRange{1, 2}));
  EXPECT_TRUE(c.edits[0].suppress);
  EXPECT_EQ(c.intervention_name, "soft_manual");
  EXPECT_EQ(c.bootstrap.resamples, 200);
  EXPECT_EQ(c.output, "/cfg/out.h5");  // relative to the config's directory
  const routing::Intervention iv = build_intervention(c);
  ASSERT_EQ(iv.edits.size(), 1u);
  EXPECT_EQ(iv.edits[0].std_kind, routing::StdKind::kPopulation);
  EXPECT_EQ(iv.edits[0].seed, 3u);
  EXPECT_TRUE(iv.edits[0].boost.empty());
  ASSERT_EQ(iv.edits[0].suppress.size(), 3u);  // explicit layers 1 and 2 (keys as written)
  EXPECT_EQ(iv.edits[0].suppress[1], (std::vector<routing::ExpertScore>{{3, 1.0}, {5, 1.0}}));
  EXPECT_EQ(iv.edits[0].suppress[2], (std::vector<routing::ExpertScore>{{4, 0.5}}));
}

TEST(EvalConfig, ExpertSetsComeFromTheExpertsGroupOfAResultsFile) {
  TempDir d;
  analysis::Analysis a;
  analysis::NamedExpertSet n;
  n.model = "tiny";
  n.corpus = "gsm";
  n.name = "task_gsm.delta_threshold";
  n.set.rule = "delta_threshold";
  n.set.params = {{"tau", "0.4"}};
  n.set.layers = {{{1, 0.5}, {6, 0.7}}, {}, {{2, 0.45}}};
  a.expert_sets.push_back(n);
  {
    h5::File f = h5::File::create(d.path() / "routing.h5");
    analysis::write_analysis(f.root(), a, analysis::AnalysisOptions{});
  }
  const experts::ExpertSet s = read_expert_set(d.path() / "routing.h5", "task_gsm.delta_threshold");
  EXPECT_EQ(s.rule, "delta_threshold");
  EXPECT_EQ(s.layers, n.set.layers);
  EXPECT_EQ(s.param("tau"), "0.4");
  EXPECT_EQ(read_expert_set(d.path() / "routing.h5", "tiny/task_gsm.delta_threshold").layers,
            n.set.layers);
  const std::string missing =
      input_error_message([&] { read_expert_set(d.path() / "routing.h5", "lang_de.delta_sigma"); });
  EXPECT_NE(missing.find("tiny/task_gsm.delta_threshold"), std::string::npos) << missing;

  const std::string yaml = fmt::format(R"(model: {{path: /m}}
task: {{kind: gmmlu, path: /g, languages: [fr]}}
experts:
  math: {{file: {}, set: task_gsm.delta_threshold}}
intervention: {{method: hard_logsoftmax, experts: math, layers: 0-2}}
)",
                                       (d.path() / "routing.h5").string());
  const EvalConfig c = parse_eval_config(yaml, "eval.yaml");
  const routing::Intervention iv = build_intervention(c);
  EXPECT_EQ(iv.name, "hard_logsoftmax");
  EXPECT_EQ(iv.edits[0].boost, layer_experts(s));
  EXPECT_EQ(iv.edits[0].layers, (routing::LayerRange{0, 2}));
}

std::string error_of(const std::string& yaml) {
  return input_error_message([&] { parse_eval_config(yaml, "e.yaml"); });
}

TEST(EvalConfig, ErrorsNameTheFileLineColumnAndKey) {
  const std::string head = "model: {path: /m}\ntask: {kind: mgsm, path: /d, languages: [en]}\n";
  std::string e = error_of(head + "colour: red\n");
  EXPECT_NE(e.find("e.yaml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'colour'"), std::string::npos) << e;
  e = error_of("model: {path: /m}\ntask: {kind: mgsm, path: /d, languages: [en], shots: x}\n");
  EXPECT_NE(e.find("shots"), std::string::npos) << e;
  e = error_of(head +
               "experts: {s: {layers: {0: [1]}}}\nintervention: {method: hard, experts: s, "
               "layers: [0, 1], lambda: 0.5}\n");
  EXPECT_NE(e.find("intervention.lambda"), std::string::npos) << e;
  EXPECT_NE(e.find("soft and steer"), std::string::npos) << e;
  e = error_of(head +
               "experts: {s: {layers: {0: [1]}}}\nintervention: {method: mask, experts: s, "
               "layers: [0, 1], direction: boost}\n");
  EXPECT_NE(e.find("suppress"), std::string::npos) << e;
  e = error_of(head + "intervention: {method: soft, experts: nope, layers: [0, 1], lambda: 1}\n");
  EXPECT_NE(e.find("'nope'"), std::string::npos) << e;
  e = error_of(head +
               "experts: {s: {layers: {0: [1]}}}\nintervention: {method: soft, experts: s, "
               "layers: 3-1, lambda: 1}\n");
  EXPECT_NE(e.find("intervention.layers"), std::string::npos) << e;
  e = error_of(head +
               "layer_indexing: one_based\nexperts: {s: {layers: {0: [1]}}}\n"
               "intervention: {method: soft, experts: s, layers: [0, 3], lambda: 1}\n");
  EXPECT_NE(e.find("1-indexed"), std::string::npos) << e;
  e = error_of("model: {path: /m}\ntask: {kind: mgsm, path: /d, languages: [xx]}\n");
  EXPECT_NE(e.find("task.languages[0]"), std::string::npos) << e;
  e = error_of("model: [\n");
  EXPECT_NE(e.find("e.yaml:"), std::string::npos) << e;
}

TEST(EvalConfig, EditsAppliedTogetherAndTheEmptyRange) {
  const EvalConfig c = parse_eval_config(R"(model: {path: /m}
task: {kind: polymath, path: /p, languages: [en, zh], level: low}
experts:
  shared: {layers: {10: {3: 0.9}}}
  excl: {layers: {10: [7]}}
intervention:
  name: both
  edits:
    - {method: mask, experts: excl, layers: none}
    - {method: steer, experts: shared, layers: [10, 39], lambda: 0.022}
)",
                                         "e.yaml");
  ASSERT_EQ(c.edits.size(), 2u);
  EXPECT_TRUE(c.edits[0].layers.empty());
  EXPECT_TRUE(c.edits[0].suppress);
  EXPECT_EQ(c.edits[1].method, routing::InterventionMethod::kSteer);
  EXPECT_FALSE(c.edits[1].suppress);
  EXPECT_EQ(c.intervention_name, "both");
}

}  // namespace
}  // namespace moe::eval
