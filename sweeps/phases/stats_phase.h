// Phase 1 of a sweep: the routing statistics of one sample range of one (model, corpus,
// language): the corpus texts [begin, end) (sweeps/routing/corpus.h) become prompts (the
// corpus' `prompt` style: the family's chat template or raw text) and are prefilled with a
// statistics collector (sweeps/routing/collect.h). The corpus index of each text seeds its
// consistency pairs, so sample ranges combine to exactly the statistics of one run.
// Thread-safety: drives the engine from the calling thread.
#pragma once

#include "results/unit_result.h"
#include "runtime/engine/engine.h"
#include "runtime/io/chat.h"
#include "runtime/io/tokenizer.h"
#include "sweeps/exec/unit_runner.h"
#include "sweeps/routing/corpus.h"

namespace moe::sweeps {

// The corpus of a config as the corpus loader describes it.
corpus::CorpusSource corpus_source(const SweepConfig& c, const CorpusSpec& k);

results::UnitResult run_statistics_unit(const RunnerContext& ctx, const Unit& unit, Engine& engine,
                                        const io::Tokenizer& tokenizer, io::Family family,
                                        const io::ChatOptions& chat);

}  // namespace moe::sweeps
