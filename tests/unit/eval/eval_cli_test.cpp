// `moe-sweep eval` end to end on made checkpoints: the golden tiny random checkpoints of the four
// families (tests/golden, made by tools/make_golden.py) with a made tokenizer.json, and small task
// files in every native format (MGSM TSV, Global-MMLU JSONL and CSV, Belebele JSONL, XQuAD JSON,
// PolyMath JSONL, FLORES text). Each case runs the CLI with an intervention and checks the result
// file: every sample of both points is stored and paired, and the selections recorded before and
// after the intervention show it acting as specified:
//   soft boost, lambda 6     the expert is selected by every token: z_e + 6 s exceeds every other
//                            logit, since max(z) - z_e <= s sqrt(2 (E - 1)) < 6 s for E <= 16
//   soft suppress, lambda 6  never selected (it is below every other logit, and k < E)
//   hard                     every token selects the forced expert
//   hard_logsoftmax          |A+| > k: the k highest-scoring experts are kept, recorded, and
//                            selected by every token
//   mask                     never selected after, selected before (the edit removed something)
//   outside every range      before == after; the baseline: before == after everywhere
//   multiple choice          one forward pass per sample, so at MoE layer 0 the point's routing
//                            before its edits is the baseline's routing (same inputs)
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "results/h5.h"
#include "runtime/io/model_config.h"
#include "runtime/io/tokenizer_maker.h"
#include "sweeps/tasks/gmmlu.h"
#include "tests/unit/tasks/test_files.h"

namespace moe::eval {
namespace {

namespace fs = std::filesystem;
using tasks::testing::TempDir;

int run(const std::string& cmd, std::string* log) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) log->append(buf, n);
  return pclose(p);
}

// A checkpoint directory: the golden case's config, weights and generation config, and a made
// tokenizer of the family within the case's vocabulary (512).
fs::path made_checkpoint(const TempDir& d, const std::string& golden_case, io::Family family) {
  const fs::path src = fs::path(MOE_SOURCE_DIR) / "tests/golden" / golden_case;
  const fs::path dir = d.path() / golden_case;
  fs::create_directories(dir);
  for (const char* f : {"config.json", "model.safetensors", "generation_config.json"})
    fs::copy_file(src / f, dir / f);
  std::ofstream(dir / "tokenizer.json", std::ios::binary)
      << io::make_tokenizer(family, 512).tokenizer_json;
  return dir;
}

// Small task files in their native formats, two languages each.
void write_task_files(const TempDir& d) {
  d.write("mgsm/mgsm_en.tsv",
          "Tom has 3 apples and buys 4 more. How many?\t7\nA farm has 1,200 hens. Add 34.\t1,234\n"
          "5 times 5?\t25\nWhat is 100 minus 1?\t99\nHow many legs do 2 cats have?\t8\n");
  d.write("mgsm/mgsm_de.tsv",
          "Tom hat 3 Äpfel und kauft 4. Wie viele?\t7\nEin Hof hat 1,200 Hühner. Plus 34.\t1,234\n"
          "5 mal 5?\t25\nWas ist 100 minus 1?\t99\nWie viele Beine haben 2 Katzen?\t8\n");
  std::string jsonl, csv = "sample_id,subject,question,option_a,option_b,option_c,option_d,answer\n";
  for (std::string_view subject : tasks::kMedicalSubjects)
    for (int i = 0; i < 2; ++i) {
      const std::string id = fmt::format("{}/test/{}", subject, i);
      jsonl += nlohmann::json{{"sample_id", id},
                              {"subject", subject},
                              {"question", fmt::format("Which organ pumps blood? ({})", i)},
                              {"option_a", "liver"},
                              {"option_b", "heart"},
                              {"option_c", "lung"},
                              {"option_d", "skin"},
                              {"answer", "B"}}
                   .dump() +
               "\n";
      csv += fmt::format("{},{},\"Welches Organ pumpt Blut, {}?\",Leber,Herz,Lunge,Haut,B\n", id,
                         subject, i);
    }
  d.write("gmmlu/en.jsonl", jsonl);
  d.write("gmmlu/fr.jsonl", jsonl);
  d.write("gmmlu_csv/de.csv", csv);
  d.write("gmmlu_csv/es.csv", csv);
  for (const char* code : {"eng_Latn", "deu_Latn"}) {
    std::string rows;
    for (int i = 0; i < 3; ++i)
      rows += nlohmann::json{{"link", fmt::format("https://x/{}", i)},
                             {"question_number", 1},
                             {"flores_passage", fmt::format("The sky is blue on day {}.", i)},
                             {"question", "What colour is the sky?"},
                             {"mc_answer1", "red"},
                             {"mc_answer2", "blue"},
                             {"mc_answer3", "green"},
                             {"mc_answer4", "black"},
                             {"correct_answer_num", "2"}}
                  .dump() +
              "\n";
    d.write(fmt::format("belebele/{}.jsonl", code), rows);
  }
  for (const char* lang : {"en", "es"}) {
    nlohmann::json qas = nlohmann::json::array();
    for (int i = 0; i < 3; ++i)
      qas.push_back({{"id", fmt::format("q{}", i)},
                     {"question", fmt::format("Who founded the city in year {}?", 1000 + i)},
                     {"answers", {{{"answer_start", 0}, {"text", "Ana"}}}}});
    const nlohmann::json doc = {
        {"version", "1.1"},
        {"data",
         {{{"title", "T"},
           {"paragraphs", {{{"context", "Ana founded the city long ago."}, {"qas", qas}}}}}}}};
    d.write(fmt::format("xquad/xquad.{}.json", lang), doc.dump());
  }
  d.write("polymath/en/low.jsonl",
          "{\"id\": \"low-en-0\", \"question\": \"What is 2 + 3?\", \"answer\": \"5\"}\n"
          "{\"id\": \"low-en-1\", \"question\": \"What is 10% of 50?\", \"answer\": \"5\"}\n"
          "{\"id\": \"low-en-2\", \"question\": \"Simplify x + x.\", \"answer\": \"2x\"}\n");
  d.write("polymath/zh/low.jsonl",
          "{\"id\": \"low-zh-0\", \"question\": \"2 加 3 等于多少？\", \"answer\": \"5\"}\n"
          "{\"id\": \"low-zh-1\", \"question\": \"50 的 10% 是多少？\", \"answer\": \"5\"}\n"
          "{\"id\": \"low-zh-2\", \"question\": \"化简 x + x。\", \"answer\": \"2x\"}\n");
  d.write("flores/devtest/eng_Latn.devtest", "Hello.\nGood morning.\nThe cat sleeps.\n");
  d.write("flores/devtest/deu_Latn.devtest", "Hallo.\nGuten Morgen.\nDie Katze schläft.\n");
}

struct LayerExpert {
  int layer, expert;
};

struct Case {
  std::string name;
  std::string golden;
  io::Family family;
  std::string task;          // the task mapping's body (kind, path, options)
  std::string languages;     // YAML list
  int samples_per_language;  // evaluated samples per language
  std::string intervention;  // "" = baseline only; else the YAML of experts + intervention
  std::vector<LayerExpert> always, never;
  std::vector<int> untouched;  // MoE layers outside every edit's range
  bool choices = false;
  std::string truncation_kept;  // expected /selection/<point>/truncations kept ("" = none)
};

std::ostream& operator<<(std::ostream& os, const Case& c) { return os << c.name; }

class EvalCli : public ::testing::TestWithParam<Case> {};

TEST_P(EvalCli, RunsTheTaskAndTheInterventionActsAsSpecified) {
  const Case& c = GetParam();
  TempDir d;
  write_task_files(d);
  const fs::path model = made_checkpoint(d, c.golden, c.family);
  const std::string yaml = fmt::format(
      "model: {{path: {}, backend: cpu, threads: 1, max_batch_tokens: 512}}\n"
      "task: {{{}, languages: {}}}\n"
      "significance: {{resamples: 200, seed: 3}}\n{}",
      model.string(), c.task, c.languages, c.intervention);
  d.write("eval.yaml", yaml);
  const fs::path out = d.path() / "out.h5";
  std::string log;
  const std::string cmd =
      fmt::format("{} eval {} -o {}", MOE_CLI_PATH, (d.path() / "eval.yaml").string(), out.string());
  ASSERT_EQ(run(cmd, &log), 0) << cmd << "\n" << yaml << "\n" << log;

  const h5::File f = h5::File::open(out);
  const h5::Group root = f.root();
  EXPECT_EQ(root.attr_string("family"), io::family_name(c.family));
  const h5::Group acc = root.open_group("accuracy");
  const std::vector<std::string> points = acc.read_strings("point");
  const std::vector<std::string> langs = acc.read_strings("language");
  const std::vector<int64_t> n = acc.read<int64_t>("n");
  const size_t A = size_t(std::count(c.languages.begin(), c.languages.end(), ',')) + 1;
  const bool intervened = !c.intervention.empty();
  ASSERT_EQ(points.size(), A * (intervened ? 2 : 1)) << log;
  for (size_t i = 0; i < points.size(); ++i)
    EXPECT_EQ(n[i], c.samples_per_language) << points[i] << " " << langs[i];
  const std::vector<int64_t> paired = acc.read<int64_t>("paired");
  for (size_t i = A; i < points.size(); ++i) EXPECT_EQ(paired[i], c.samples_per_language);
  EXPECT_EQ(root.has("comparison"), intervened);

  auto counts = [&](const std::string& point, const char* what, std::vector<uint64_t>* shape) {
    return root.open_group("selection/" + point).read<int64_t>(what, shape);
  };
  std::vector<uint64_t> shape, tshape;
  const std::vector<int64_t> base_after = counts("baseline", "selected_after", &shape);
  EXPECT_EQ(counts("baseline", "selected_before", nullptr), base_after);
  ASSERT_EQ(shape.size(), 3u);
  const uint64_t L = shape[1], E = shape[2];
  auto at = [&](size_t a, int l, int e) { return (a * L + size_t(l)) * E + size_t(e); };
  const std::vector<int64_t> samples_index =
      root.open_group("samples/baseline").read<int64_t>("index");
  EXPECT_EQ(samples_index.size(), A * size_t(c.samples_per_language));
  if (!intervened) return;

  const std::string point = points.back();
  const std::vector<int64_t> before = counts(point, "selected_before", nullptr);
  const std::vector<int64_t> after = counts(point, "selected_after", nullptr);
  const std::vector<int64_t> tokens =
      root.open_group("selection/" + point).read<int64_t>("tokens", &tshape);
  ASSERT_EQ(before.size(), A * L * E);
  for (size_t a = 0; a < A; ++a) {
    for (const LayerExpert& x : c.always) {
      EXPECT_EQ(after[at(a, x.layer, x.expert)], tokens[a * L + size_t(x.layer)])
          << "layer " << x.layer << " expert " << x.expert << " language " << a;
    }
    int64_t removed = 0;
    for (const LayerExpert& x : c.never) {
      EXPECT_EQ(after[at(a, x.layer, x.expert)], 0)
          << "layer " << x.layer << " expert " << x.expert;
      removed += before[at(a, x.layer, x.expert)];
    }
    if (!c.never.empty()) {
      EXPECT_GT(removed, 0) << "the removed experts were never selected anyway";
    }
    for (int l : c.untouched) {
      for (uint64_t e = 0; e < E; ++e) {
        EXPECT_EQ(before[at(a, l, int(e))], after[at(a, l, int(e))]) << "layer " << l;
      }
    }
    if (c.choices) {
      for (uint64_t e = 0; e < E; ++e) {
        EXPECT_EQ(before[at(a, 0, int(e))], base_after[at(a, 0, int(e))]) << "expert " << e;
      }
    }
  }
  const h5::Group trunc = root.open_group("selection/" + point + "/truncations");
  const std::vector<std::string> kept = trunc.read_strings("kept");
  if (c.truncation_kept.empty()) {
    EXPECT_TRUE(kept.empty());
  } else {
    ASSERT_EQ(kept.size(), 1u);
    EXPECT_EQ(kept[0], c.truncation_kept);
  }
}

// MoE layers: qwen3_moe 3 (decoder layer 1 is dense), olmoe 3, phimoe 3, gpt_oss 4.
// Experts: 16 top-4, phimoe 8 top-2.
INSTANTIATE_TEST_SUITE_P(
    Tasks, EvalCli,
    ::testing::Values(
        Case{"mgsm_direct_soft_and_mask", "qwen3_moe_f32", io::Family::kQwen3Moe,
             "kind: mgsm, path: mgsm, shots: 2, max_new_tokens: 8", "[en, de]", 3,
             "experts: {a: {layers: {0: [3]}}, m: {layers: {2: [5, 6]}}}\n"
             "intervention:\n  name: soft_mask\n  edits:\n"
             "    - {method: mask, experts: m, layers: [2, 2]}\n"
             "    - {method: soft, experts: a, layers: [0, 0], lambda: 6}\n",
             {{0, 3}},
             {{2, 5}, {2, 6}},
             {1},
             false,
             ""},
        Case{"gmmlu_jsonl_hard", "olmoe_f32", io::Family::kOlmoe,
             "kind: gmmlu, path: gmmlu, per_subject: 1", "[en, fr]", 7,
             "interventions: {hard_seed: 9}\nexperts: {a: {layers: {0: [2], 1: [2]}}}\n"
             "intervention: {method: hard, experts: a, layers: [0, 1]}\n",
             {{0, 2}, {1, 2}},
             {},
             {2},
             true,
             ""},
        Case{"belebele_hard_logsoftmax_truncated", "gpt_oss_f32", io::Family::kGptOss,
             "kind: belebele, path: belebele", "[en, de]", 3,
             "experts: {a: {layers: {1: {0: 0.9, 4: 0.2, 7: 0.8, 9: 0.7, 12: 0.6}}}}\n"
             "intervention: {method: hard_logsoftmax, experts: a, layers: [1, 1]}\n",
             {{1, 0}, {1, 7}, {1, 9}, {1, 12}},
             {},
             {0, 2, 3},
             true,
             "0,7,9,12"},
        Case{"xquad_soft_suppress", "phimoe_f32", io::Family::kPhimoe,
             "kind: xquad, path: xquad, max_new_tokens: 8", "[en, es]", 3,
             "experts: {s: {layers: {0: [1], 1: [1], 2: [1]}}}\n"
             "intervention: {method: soft, experts: s, layers: [0, 2], lambda: 6, "
             "direction: suppress}\n",
             {},
             {{0, 1}, {1, 1}, {2, 1}},
             {},
             false,
             ""},
        Case{"polymath_steer", "qwen3_moe_f32", io::Family::kQwen3Moe,
             "kind: polymath, path: polymath, level: low, max_new_tokens: 8", "[en, zh]", 3,
             "interventions: {steer_precision: bf16}\n"
             "experts: {sh: {layers: {0: {3: 0.9, 8: 0.5}, 1: {3: 0.7}}}}\n"
             "intervention: {method: steer, experts: sh, layers: [0, 1], lambda: 0.5}\n",
             {},
             {},
             {2},
             false,
             ""},
        Case{"flores_mask_one_based", "olmoe_f32", io::Family::kOlmoe,
             "kind: flores, path: flores, standard_size: false, max_new_tokens: 8", "[de]", 3,
             "layer_indexing: one_based\nexperts: {m: {layers: {1: [0, 9], 2: [0, 9]}}}\n"
             "intervention: {method: mask, experts: m, layers: [2, 3]}\n",
             {},
             {{1, 0}, {1, 9}, {2, 0}, {2, 9}},
             {0},
             false,
             ""},
        Case{"gmmlu_csv_baseline", "phimoe_f32", io::Family::kPhimoe,
             "kind: gmmlu, path: gmmlu_csv, per_subject: 2", "[de, es]", 14, "", {}, {}, {}, true, ""},
        Case{"mgsm_boxed_harmony_soft", "gpt_oss_f32", io::Family::kGptOss,
             "kind: mgsm, path: mgsm, variant: boxed, chat_date: 2025-06-01, max_new_tokens: 8", "[en]", 5,
             "experts: {a: {layers: {3: [7]}}}\n"
             "intervention: {method: soft, experts: a, layers: [3, 3], lambda: 6}\n",
             {{3, 7}},
             {},
             {0, 1, 2},
             false,
             ""}),
    [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

}  // namespace
}  // namespace moe::eval
