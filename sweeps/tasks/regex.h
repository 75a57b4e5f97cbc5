// Regex: a compiled PCRE2 pattern over UTF-8 text (Unicode-aware: PCRE2_UTF | PCRE2_UCP, so \w,
// \b, \d and case-insensitive matching follow Unicode properties like Python 3's re on str).
//
// Used by the answer extractors and normalisers (MGSM's number pattern, SQuAD's article removal,
// LaTeX stripping). Owns the compiled code (RAII, move-only). Matching allocates its own match
// data per call, so one Regex may be used from several threads at once.
// A pattern that does not compile is a bug in moe-sweep (patterns are constants): InternalError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace moe::tasks {

class Regex {
 public:
  struct Span {
    size_t begin = 0;
    size_t end = 0;  // byte offsets into the subject
  };
  struct Match {
    Span whole;
    std::vector<std::optional<Span>> groups;  // capture groups 1..n (nullopt: did not take part)
  };

  explicit Regex(std::string_view pattern, bool caseless = false);
  Regex(Regex&& o) noexcept;
  Regex& operator=(Regex&& o) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;
  ~Regex();

  // Every non-overlapping match, left to right (like Python's re.finditer).
  std::vector<Match> find_all(std::string_view subject) const;
  // Replaces every match with `replacement` taken literally.
  std::string replace_all(std::string_view subject, std::string_view replacement) const;

 private:
  void* code_ = nullptr;  // pcre2_code_8*
  std::string pattern_;
};

}  // namespace moe::tasks
