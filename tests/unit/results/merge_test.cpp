// merge: plan order (not commit order), hand-computed accuracy and deltas against the baseline,
// statistics combined over sample ranges, refusal on missing units, partial files marked.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "results/h5.h"
#include "results/merge.h"
#include "results/report.h"
#include "runtime/core/error.h"
#include "results/routing_units.h"

namespace moe::results {
namespace {
namespace fs = std::filesystem;

UnitResult eval_result(int64_t begin, std::vector<int64_t> correct) {
  UnitResult r;
  Table& t = r.tables["samples"];
  auto& s = t.col<int64_t>("sample");
  auto& c = t.col<int64_t>("correct");
  for (size_t i = 0; i < correct.size(); ++i) {
    s.push_back(begin + int64_t(i));
    c.push_back(correct[i]);
  }
  return r;
}

// Routing statistics of n sequences, 1 layer, 2 experts, every value derived from `v`.
RoutingStats stats(int n, int64_t v) {
  RoutingStats s;
  s.num_seqs = n;
  s.num_layers = 1;
  s.num_experts = 2;
  s.top_k = 1;
  s.layers = {0};
  s.counted_tokens.assign(size_t(n), v);
  for (int i = 0; i < n; ++i) {
    s.importance_q.insert(s.importance_q.end(), {float(v), 0.f});
    s.frequency.insert(s.frequency.end(), {1.f, 0.f});
  }
  s.entropy.assign(size_t(n), 0.f);
  s.importance_entropy.assign(size_t(n), 0.f);
  s.consistency.assign(size_t(n), 1.f);
  s.activation_tokens = {v, 2 * v};
  s.total_tokens = {3 * v};
  return s;
}

void commit(const Store& st, const std::string& id, const std::string& kind, const UnitResult& r) {
  UnitMeta m;
  m.unit = id;
  m.kind = kind;
  m.runner = "hand-made";
  st.commit(m, r, "test");
}

MergeSpec spec() {
  const double nan = std::nan("");
  MergeSpec s;
  s.name = "hand";
  s.config_yaml = "name: hand\n";
  s.plan_hash = "0123456789abcdef";
  s.tasks = {{"mgsm", "mgsm", "/d", "{}", {"en", "sw"}, {"sw"}, {}}};
  s.expert_sets = {{"x1", "tiny", "math", "delta", 0.3, nan, -1, "{}"}};
  s.stats = {{"s1", "tiny", "flores", "en", {}}};
  s.points = {{"base", "tiny", "mgsm", "none", "", "", "", -1, -1, nan, nan, nan, -1, "", "base", "{}"},
              {"p1", "tiny", "mgsm", "soft", "math", "delta", "x1", 1, 2, 0.3, 0.5, nan, -1,
               "boost", "base", "{}"}};
  // plan order: statistics (two ranges), expert set, then eval ranges
  s.units = {{"s1.a", "stats", "", "", "en", "s1", "", 0, 2},
             {"s1.b", "stats", "", "", "en", "s1", "", 2, 3},
             {"x1", "experts", "", "", "", "", "x1", 0, 0}};
  for (const char* p : {"base", "p1"})
    for (const char* l : {"en", "sw"})
      for (int b : {0, 3})
        s.units.push_back({std::string(p) + "." + l + "." + std::to_string(b), "eval", p, "mgsm",
                           l, "", "", b, b + 3});
  return s;
}

template <typename T>
std::vector<T> column(const h5::Group& root, const std::string& table, const std::string& col) {
  return Table::read(root, table).get<T>(col);
}

TEST(Merge, AccuracyDeltasAndOrderAreComputedFromUnitFiles) {
  const fs::path d = fs::temp_directory_path() / ("moe_merge_" + std::to_string(getpid()));
  fs::remove_all(d);
  Store st(d);
  const MergeSpec s = spec();
  // Commit in reverse plan order: the merged file must still follow the plan.
  // baseline en: 1 1 0 | 1 0 0 -> 3/6; p1 en: 1 1 1 | 1 0 1 -> 5/6; sw: base 0/6, p1 -1 (unscorable) + 2/5
  commit(st, "p1.sw.3", "eval", eval_result(3, {0, 1, 0}));
  commit(st, "p1.sw.0", "eval", eval_result(0, {-1, 1, 0}));
  commit(st, "p1.en.3", "eval", eval_result(3, {1, 0, 1}));
  commit(st, "p1.en.0", "eval", eval_result(0, {1, 1, 1}));
  commit(st, "base.sw.3", "eval", eval_result(3, {0, 0, 0}));
  commit(st, "base.sw.0", "eval", eval_result(0, {0, 0, 0}));
  commit(st, "base.en.3", "eval", eval_result(3, {1, 0, 0}));
  commit(st, "base.en.0", "eval", eval_result(0, {1, 1, 0}));
  UnitResult x;
  Table& xt = x.tables["experts"];
  xt.col<int64_t>("layer") = {0, 1, 2, 2, 3};
  xt.col<int64_t>("expert") = {5, 1, 0, 7, 2};
  xt.col<double>("score") = {0.5, 0.4, 0.6, 0.35, 0.9};
  commit(st, "x1", "experts", x);
  const UnitResult s1a = routing_stats_to_unit(stats(2, 1)), s1b = routing_stats_to_unit(stats(1, 10));
  commit(st, "s1.b", "stats", s1b);

  // s1.a missing: refused without --allow-partial
  MergeReport r = merge(st, s, d / "results.h5", false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"s1.a"});
  EXPECT_TRUE(r.written.empty());
  EXPECT_FALSE(fs::exists(d / "results.h5"));
  r = merge(st, s, d / "partial.h5", true);
  {
    h5::File f = h5::File::open(d / "partial.h5");
    EXPECT_EQ(f.root().attr_int("partial"), 1);
    EXPECT_EQ(f.root().open_group("missing").read_strings("unit"), std::vector<std::string>{"s1.a"});
  }
  commit(st, "s1.a", "stats", s1a);
  r = merge(st, s, d / "results.h5", false);
  ASSERT_TRUE(r.missing.empty());
  h5::File f = h5::File::open(d / "results.h5");
  const h5::Group root = f.root();
  EXPECT_EQ(root.attr_int("partial"), 0);
  EXPECT_EQ(root.attr_strings("runners"), std::vector<std::string>{"hand-made"});
  EXPECT_EQ(column<std::string>(root, "accuracy", "point"),
            (std::vector<std::string>{"base", "base", "p1", "p1"}));
  EXPECT_EQ(column<std::string>(root, "accuracy", "language"),
            (std::vector<std::string>{"en", "sw", "en", "sw"}));
  EXPECT_EQ(column<int64_t>(root, "accuracy", "n"), (std::vector<int64_t>{6, 6, 6, 5}));
  EXPECT_EQ(column<int64_t>(root, "accuracy", "correct"), (std::vector<int64_t>{3, 0, 5, 2}));
  EXPECT_EQ(column<int64_t>(root, "accuracy", "unscorable"), (std::vector<int64_t>{0, 0, 0, 1}));
  const auto acc = column<double>(root, "accuracy", "accuracy");
  const auto delta = column<double>(root, "accuracy", "delta");
  EXPECT_DOUBLE_EQ(acc[2], 5.0 / 6.0);
  EXPECT_DOUBLE_EQ(delta[2], 5.0 / 6.0 - 0.5);
  EXPECT_DOUBLE_EQ(delta[3], 0.4);
  EXPECT_DOUBLE_EQ(delta[0], 0.0);
  // samples in plan order with point/language columns
  EXPECT_EQ(column<int64_t>(root, "samples/mgsm", "sample"),
            (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2,
                                  3, 4, 5}));
  // expert-set size counts (layer, expert) pairs inside the window 1..2
  EXPECT_EQ(column<int64_t>(root, "points", "expert_set_size"), (std::vector<int64_t>{-1, 3}));
  // statistics of the two ranges: pooled counts summed, per-sequence rows stacked in order
  const RoutingStats merged = read_routing_stats(root.open_group("routing/tiny/flores/en"));
  EXPECT_EQ(merged.num_seqs, 3);
  EXPECT_EQ(merged.activation_tokens, (std::vector<int64_t>{11, 22}));
  EXPECT_EQ(merged.total_tokens, (std::vector<int64_t>{33}));
  EXPECT_EQ(merged.counted_tokens, (std::vector<int64_t>{1, 1, 10}));
  EXPECT_EQ(merged.importance_q, (std::vector<float>{1, 0, 1, 0, 10, 0}));
  // Against the baseline on the same samples: en discordant pairs b = 0, c = 2 (samples 2, 5),
  // exact McNemar p = 2 * 0.5^2 = 0.5; sw (sample 0 unscorable, left out) c = 2, p = 0.5. The
  // bootstrap CI of the en difference (per-sample differences 0 0 1 0 0 1) holds 1/3 and lies in
  // [0, 1]; the baseline's own rows have none.
  const auto p_mcnemar = column<double>(root, "accuracy", "p_mcnemar");
  const auto lo = column<double>(root, "accuracy", "ci_low");
  const auto hi = column<double>(root, "accuracy", "ci_high");
  EXPECT_TRUE(std::isnan(p_mcnemar[0]) && std::isnan(lo[0]) && std::isnan(hi[1]));
  EXPECT_DOUBLE_EQ(p_mcnemar[2], 0.5);
  EXPECT_DOUBLE_EQ(p_mcnemar[3], 0.5);
  EXPECT_GE(lo[2], 0.0);
  EXPECT_LE(lo[2], 1.0 / 3.0);
  EXPECT_GE(hi[2], 1.0 / 3.0);
  EXPECT_LE(hi[2], 1.0);

  // The report reads the same numbers back: p1 ranked first with mean delta (1/3 + 0.4) / 2,
  // per language base vs point, the low-resource row (sw: +0.400).
  ReportOptions ro;
  const std::string rep = format_report(d / "results.h5", ro);
  EXPECT_NE(rep.find("== tiny / mgsm: languages en,sw (low-resource sw)"), std::string::npos) << rep;
  EXPECT_NE(rep.find("baseline: mean 0.250, non-English 0.000, low-resource 0.000"),
            std::string::npos)
      << rep;
  EXPECT_NE(rep.find("p1               soft math layers 1-2 tau=0.3 lambda=0.5 boost"),
            std::string::npos)
      << rep;
  EXPECT_NE(rep.find("+0.367"), std::string::npos) << rep;  // (1/3 + 0.4) / 2
  EXPECT_NE(rep.find("    en             6    0.500    0.833   +0.333"), std::string::npos) << rep;
  EXPECT_NE(rep.find("    low-res             0.000    0.400   +0.400"), std::string::npos) << rep;
  EXPECT_THROW(format_report(d / "units" / "x1.h5", ro), InputError);
  // Filters that match nothing in the file are errors naming the option, not empty reports.
  for (auto set : {+[](ReportOptions& o) { o.model = "tiyn"; },
                   +[](ReportOptions& o) { o.task = "mgms"; },
                   +[](ReportOptions& o) { o.points = {"p9"}; }}) {
    ReportOptions bad;
    set(bad);
    try {
      format_report(d / "results.h5", bad);
      ADD_FAILURE() << "an unknown report filter was accepted";
    } catch (const InputError& e) {
      EXPECT_EQ(e.where().rfind("report --", 0), 0u) << e.where();
    }
  }
  ro.model = "tiny";
  ro.task = "mgsm";
  ro.points = {"p1"};
  EXPECT_NE(format_report(d / "results.h5", ro).find("p1"), std::string::npos);
  // A config with layer_indexing: one_based: the file keeps 0-indexed layers and says how the
  // config writes them; the report prints the window 1..2 as the config wrote it, 2-3.
  MergeSpec one_based = s;
  one_based.layers_one_based = true;
  ASSERT_FALSE(merge(st, one_based, d / "one_based.h5", false).written.empty());
  {
    h5::File f = h5::File::open(d / "one_based.h5");
    EXPECT_EQ(f.root().attr_string("layer_indexing"), "one_based");
    EXPECT_EQ(column<int64_t>(f.root(), "points", "layer_start"), (std::vector<int64_t>{-1, 1}));
  }
  const std::string rep1 = format_report(d / "one_based.h5", ReportOptions{});
  EXPECT_NE(rep1.find("layers 1-indexed, as the config writes them"), std::string::npos) << rep1;
  EXPECT_NE(rep1.find("soft math layers 2-3 tau=0.3"), std::string::npos) << rep1;
  EXPECT_EQ(rep.find("1-indexed"), std::string::npos) << rep;
  fs::remove_all(d);
}

}  // namespace
}  // namespace moe::results
