// Input identity: fingerprints of checkpoints and data paths (files, directories, templates),
// errors naming the config key, changed_inputs, the store's record, and unit ids that follow
// inputs and corpus sample counts.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "results/store.h"
#include "runtime/core/error.h"
#include "sweeps/exec/executor.h"
#include "sweeps/plan/inputs.h"
#include "sweeps/plan/plan.h"

namespace moe::sweeps {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

// A checkpoint directory with config.json and one safetensors shard (8-byte header length, the
// JSON header, then weight bytes).
void write_checkpoint(const fs::path& dir, char weight) {
  write(dir / "config.json", R"({"model_type": "qwen3_moe"})");
  const std::string header = R"({"w":{"dtype":"U8","shape":[4096],"data_offsets":[0,4096]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((n >> (8 * i)) & 0xff);
  write(dir / "model.safetensors", bytes + header + std::string(4096, weight));
}

class Inputs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moe_inputs_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    write_checkpoint(dir_ / "model", 'a');
    write(dir_ / "flores" / "deu_Latn.dev", "Hallo Welt\n");
    write(dir_ / "flores" / "eng_Latn.dev", "Hello world\n");
    write(dir_ / "gsm.jsonl", R"({"question": "1+1?", "answer": "#### 2"})"
                              "\n");
    write(dir_ / "mgsm" / "mgsm_de.tsv", "Was ist 1+1?\t2\n");
    write(dir_ / "mgsm" / "mgsm_en.tsv", "What is 1+1?\t2\n");
    write(dir_ / "mgsm" / "notes.txt", "not a task file\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  SweepConfig config(const std::string& mgsm_path, int64_t gsm_samples = 4) {
    const std::string d = dir_.string();
    return parse_config(
        "name: inputs\noutput: " + d +
            "/out\n"
            "models: {tiny: {path: " +
            d +
            "/model}}\n"
            "corpora:\n"
            "  flores: {format: flores, path: " +
            d +
            "/flores, samples: 4}\n"
            "  gsm: {format: gsm8k, path: " +
            d + "/gsm.jsonl, samples: " + std::to_string(gsm_samples) +
            "}\n"
            "experts:\n"
            "  math: {rule: delta, target: {corpus: gsm, language: en}, reference: {corpus: "
            "flores, "
            "language: en}}\n"
            "tasks:\n"
            "  mgsm: {kind: mgsm, path: '" +
            mgsm_path +
            "', languages: [en, de], samples: 4}\n"
            "grid:\n"
            "  - {method: soft, experts: math, layers: [[0, 1]], tau: 0.2, lambda: 0.5}\n"
            "execution: {unit_samples: 2}\n",
        "inputs.yaml");
  }

  fs::path dir_;
};

TEST_F(Inputs, FingerprintsFollowTheBytesTheSweepReads) {
  const InputIdentity a = identify_inputs(config((dir_ / "mgsm").string()));
  ASSERT_EQ(a.files.size(), 4u);  // model, two corpora, one task
  for (const auto& [key, fp] : a.files) EXPECT_EQ(fp.size(), 32u) << key;
  EXPECT_EQ(a.numerics.at("models.tiny").rfind("cpu@", 0), 0u);  // the fast backend's level
  EXPECT_EQ(a.numerics_version.size(), 16u);
  EXPECT_EQ(identify_inputs(config((dir_ / "mgsm").string())).to_json(), a.to_json());

  write(dir_ / "mgsm" / "mgsm_de.tsv", "Was ist 1+2?\t3\n");  // edited in place
  write_checkpoint(dir_ / "model", 'b');                      // same shapes, other weights
  const InputIdentity b = identify_inputs(config((dir_ / "mgsm").string()));
  EXPECT_NE(b.file("tasks.mgsm"), a.file("tasks.mgsm"));
  EXPECT_NE(b.file("models.tiny"), a.file("models.tiny"));
  EXPECT_EQ(b.file("corpora.flores"), a.file("corpora.flores"));
  const auto changes = changed_inputs(a, b);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].rfind("models.tiny: content changed", 0), 0u);
  EXPECT_EQ(changes[1].rfind("tasks.mgsm: content changed", 0), 0u);
  EXPECT_TRUE(changed_inputs(b, b).empty());
  EXPECT_EQ(InputIdentity::from_json(b.to_json(), "x").to_json(), b.to_json());
}

TEST_F(Inputs, TemplatesCoverTheFilesTheyMatchOnly) {
  const std::string tmpl = (dir_ / "mgsm" / "mgsm_{lang}.tsv").string();
  const InputIdentity a = identify_inputs(config(tmpl));
  write(dir_ / "mgsm" / "notes.txt", "edited, but no task file\n");
  EXPECT_EQ(identify_inputs(config(tmpl)).file("tasks.mgsm"), a.file("tasks.mgsm"));
  write(dir_ / "mgsm" / "mgsm_en.tsv", "What is 2+2?\t4\n");
  EXPECT_NE(identify_inputs(config(tmpl)).file("tasks.mgsm"), a.file("tasks.mgsm"));
}

TEST_F(Inputs, MissingInputsAreErrorsNamingTheKey) {
  try {
    identify_inputs(config((dir_ / "nowhere").string()));
    ADD_FAILURE() << "a missing task path was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "inputs.yaml: tasks.mgsm.path");
    EXPECT_NE(e.problem().find("no such path"), std::string::npos) << e.problem();
  }
  fs::remove(dir_ / "model" / "config.json");
  try {
    identify_inputs(config((dir_ / "mgsm").string()));
    ADD_FAILURE() << "a checkpoint without config.json was accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(e.where(), "inputs.yaml: models.tiny.path");
  }
}

TEST_F(Inputs, UnitIdsFollowInputsAndCorpusSamples) {
  const SweepConfig c = config((dir_ / "mgsm").string());
  const InputIdentity a = identify_inputs(c);
  const Plan p = make_plan(c, {}, a);
  write(dir_ / "mgsm" / "mgsm_de.tsv", "Was ist 1+2?\t3\n");
  const Plan edited = make_plan(c, {}, identify_inputs(c));
  auto ids = [](const Plan& plan, char kind) {
    std::set<std::string> out;
    for (const auto& u : plan.units)
      if (u.id[0] == kind) out.insert(u.id);
    return out;
  };
  EXPECT_EQ(ids(edited, 's'), ids(p, 's'));  // the corpora did not change
  EXPECT_EQ(ids(edited, 'x'), ids(p, 'x'));
  for (const auto& id : ids(edited, 'e')) EXPECT_FALSE(ids(p, 'e').count(id)) << id;
  // More samples of a corpus: the statistics of the ranges both have are reused, the expert set
  // built from them is computed again, and so is every point that uses it.
  const Plan more = make_plan(config((dir_ / "mgsm").string(), 6), {}, a);
  for (const auto& id : ids(p, 's')) EXPECT_TRUE(ids(more, 's').count(id)) << id;
  EXPECT_EQ(ids(more, 's').size(), ids(p, 's').size() + 1);
  EXPECT_NE(ids(more, 'x'), ids(p, 'x'));
  // The same files under another spelling of their path: the same ids.
  const std::string dotted = (dir_ / "." / "mgsm" / ".." / "mgsm").string();
  EXPECT_EQ(make_plan(config(dotted), {}, identify_inputs(config(dotted))).hash,
            make_plan(c, {}, identify_inputs(c)).hash);
  // Another CPU level is another numeric class.
  InputIdentity other = a;
  other.numerics["models.tiny"] = "cpu@generic";
  EXPECT_NE(make_plan(c, {}, other).hash, p.hash);
}

TEST_F(Inputs, AStoreRefusesChangedInputsUnlessAccepted) {
  const SweepConfig c = config((dir_ / "mgsm").string());
  results::Store store(dir_ / "out");
  record_inputs(store, identify_inputs(c), false);
  record_inputs(store, identify_inputs(c), false);  // unchanged: fine
  write(dir_ / "gsm.jsonl", R"({"question": "2+2?", "answer": "#### 4"})"
                            "\n");
  try {
    record_inputs(store, identify_inputs(c), false);
    ADD_FAILURE() << "changed inputs were accepted";
  } catch (const InputError& e) {
    EXPECT_NE(e.problem().find("corpora.gsm: content changed"), std::string::npos) << e.problem();
    EXPECT_NE(e.problem().find("--accept-changed-inputs"), std::string::npos);
  }
  record_inputs(store, identify_inputs(c), true);
  EXPECT_EQ(recorded_inputs(store, c).to_json(), identify_inputs(c).to_json());
}

}  // namespace
}  // namespace moe::sweeps
