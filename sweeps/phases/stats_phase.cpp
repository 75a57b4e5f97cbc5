#include "sweeps/phases/stats_phase.h"

#include <fmt/format.h>

#include "results/routing_units.h"
#include "runtime/core/error.h"
#include "sweeps/routing/collect.h"
#include "sweeps/routing/prompt.h"

namespace moe::sweeps {

corpus::CorpusSource corpus_source(const SweepConfig& c, const CorpusSpec& k) {
  corpus::CorpusSource s;
  s.format = k.format;
  s.path = k.path;
  s.split = k.split.empty() ? "dev" : k.split;
  s.field = k.field;
  s.where = fmt::format("{}: corpora.{}", c.source.string(), k.name);
  return s;
}

results::UnitResult run_statistics_unit(const RunnerContext& ctx, const Unit& unit, Engine& engine,
                                        const io::Tokenizer& tokenizer, io::Family family,
                                        const io::ChatOptions& chat) {
  const SweepConfig& c = *ctx.config;
  const StatsSpec& st = ctx.plan->stats[unit.stats];
  const CorpusSpec& k = c.corpora[st.corpus];
  const corpus::CorpusSource source = corpus_source(c, k);
  std::vector<std::string> texts = corpus::load_texts(source, st.language);
  if (int64_t(texts.size()) < unit.end)
    throw InputError(fmt::format("{} ({})", source.where, st.language),
                     fmt::format("expected at least {} sequences (corpora.{}.samples), found {}",
                                 unit.end, k.name, texts.size()));
  texts = std::vector<std::string>(texts.begin() + unit.begin, texts.begin() + unit.end);
  const corpus::PromptBuilder prompts(
      tokenizer, family, corpus::PromptBuilder::parse_style(k.prompt, source.where + ".prompt"),
      chat);
  corpus::CollectOptions o;
  o.collector.importance =
      routing::parse_importance(c.statistics.importance, c.source.string() + ": statistics");
  o.collector.consistency_pairs = c.statistics.consistency_pairs;
  o.collector.seed = c.statistics.seed;
  o.collector.raw_logits = c.statistics.raw_logits;
  o.content_only = c.statistics.tokens == "content";
  o.first_index = unit.begin;
  const results::RoutingStats s = corpus::collect_statistics(engine, prompts, texts, o);
  results::UnitResult r = results::routing_stats_to_unit(s);
  r.notes["prompt"] = prompts.describe();
  return r;
}

}  // namespace moe::sweeps
