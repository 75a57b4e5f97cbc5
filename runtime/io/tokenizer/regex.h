// Regex: a compiled PCRE2 pattern (UTF + UCP, JIT when available) with the match semantics the
// Hugging Face tokenizers library gets from Oniguruma: Ruby syntax (^ and $ are line anchors),
// Unicode \s (White_Space, which includes U+0085), and Oniguruma's rule for empty matches (an
// empty match right where the previous match ended is skipped).
//
// Owns its pcre2_code (RAII, move-only). Thread-safety: matching is const and safe from several
// threads at once (match data and the JIT stack are per call / per thread).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moe::io::tok {

struct Span {
  size_t begin = 0;
  size_t end = 0;
  bool is_match = false;
};

class Regex {
 public:
  // Compiles `pattern` (a regex, or with literal=true a plain string). `where` names the JSON key
  // for the InputError thrown when the pattern does not compile.
  Regex(std::string_view pattern, bool literal, const std::string& where);
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  ~Regex();

  // Every match [begin, end), left to right. `text` must be valid UTF-8.
  std::vector<Span> find_all(std::string_view text) const;
  // Matches and the gaps between them, covering all of `text` in order (an empty text gives one
  // empty non-match), as the library's Pattern::find_matches.
  std::vector<Span> split_matches(std::string_view text) const;
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  std::unique_ptr<Code> code_;
  std::string pattern_;
};

// Rewrites an Oniguruma pattern so PCRE2 matches the same characters: \s also matches U+0085.
std::string onig_to_pcre2(std::string_view pattern);

}  // namespace moe::io::tok
