#include "sweeps/tasks/multiple_choice.h"

#include <cmath>

#include "runtime/core/error.h"

namespace moe::tasks {

int argmax_choice(std::span<const double> loglikelihoods) {
  MOE_ASSERT(!loglikelihoods.empty(), "argmax of no choices");
  int best = -1;
  for (size_t i = 0; i < loglikelihoods.size(); ++i) {
    if (std::isnan(loglikelihoods[i])) continue;
    if (best < 0 || loglikelihoods[i] > loglikelihoods[size_t(best)]) best = int(i);
  }
  return best < 0 ? 0 : best;
}

int choice_index(std::string_view letter) {
  for (size_t i = 0; i < kChoiceLetters.size(); ++i)
    if (letter.size() == 1 && letter[0] == kChoiceLetters[i]) return int(i);
  return -1;
}

}  // namespace moe::tasks
