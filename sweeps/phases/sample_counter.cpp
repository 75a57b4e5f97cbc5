#include "sweeps/phases/sample_counter.h"

#include "sweeps/eval/task.h"
#include "sweeps/phases/eval_phase.h"
#include "sweeps/phases/stats_phase.h"
#include "sweeps/routing/corpus.h"

namespace moe::sweeps {

SampleCounter data_sample_counter(const SweepConfig& c) {
  SampleCounter counter;
  counter.corpus = [&c](const CorpusSpec& k, const std::string& language) {
    return int64_t(corpus::load_texts(corpus_source(c, k), language).size());
  };
  counter.task = [&c](const TaskSpec& t, const std::string& language) {
    return int64_t(eval::load_language(eval_task(c, t), language).items.size());
  };
  return counter;
}

}  // namespace moe::sweeps
