// Multiple-choice scoring by loglikelihood (Global-MMLU, Belebele; sweeps/METHODS.md D): the engine
// scores the continuations " A", " B", " C", " D" after the prompt and the prediction is the
// argmax of their loglikelihoods. Ties go to the EARLIEST choice (A before B), a deterministic
// rule; a NaN loglikelihood never wins.
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace moe::tasks {

inline constexpr std::array<std::string_view, 4> kChoiceContinuations = {" A", " B", " C", " D"};
inline constexpr std::array<char, 4> kChoiceLetters = {'A', 'B', 'C', 'D'};

// Index of the largest loglikelihood (0-based). REQUIRES: at least one choice.
int argmax_choice(std::span<const double> loglikelihoods);

// 0-based index of a letter "A".."D"; -1 otherwise.
int choice_index(std::string_view letter);

}  // namespace moe::tasks
