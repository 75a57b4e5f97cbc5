// builtin_corpus: a small multilingual text (about 30 languages and scripts, digits, code,
// whitespace runs, emoji) from which make_tokenizer learns its merges. Thread-safety: constant.
#pragma once

#include <string_view>

namespace moe::io::tok {

std::string_view builtin_corpus();

}  // namespace moe::io::tok
