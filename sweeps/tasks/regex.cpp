#define PCRE2_CODE_UNIT_WIDTH 8
#include "sweeps/tasks/regex.h"

#include <pcre2.h>

#include <memory>
#include <utility>

#include "runtime/core/error.h"

namespace moe::tasks {

namespace {

pcre2_code* code(void* p) {
  return static_cast<pcre2_code*>(p);
}

struct MatchDataDeleter {
  void operator()(pcre2_match_data* m) const { pcre2_match_data_free(m); }
};

}  // namespace

Regex::Regex(std::string_view pattern, bool caseless) : pattern_(pattern) {
  int err = 0;
  PCRE2_SIZE offset = 0;
  const uint32_t options = PCRE2_UTF | PCRE2_UCP | (caseless ? PCRE2_CASELESS : 0u);
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options, &err,
                        &offset, nullptr);
  if (!code_) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof msg);
    MOE_ASSERT(false, "regex '{}' does not compile at {}: {}", pattern_, offset,
               reinterpret_cast<const char*>(msg));
  }
}

Regex::Regex(Regex&& o) noexcept
    : code_(std::exchange(o.code_, nullptr)), pattern_(std::move(o.pattern_)) {}

Regex& Regex::operator=(Regex&& o) noexcept {
  if (this != &o) {
    pcre2_code_free(code(code_));
    code_ = std::exchange(o.code_, nullptr);
    pattern_ = std::move(o.pattern_);
  }
  return *this;
}

Regex::~Regex() {
  pcre2_code_free(code(code_));
}

std::vector<Regex::Match> Regex::find_all(std::string_view subject) const {
  std::unique_ptr<pcre2_match_data, MatchDataDeleter> md(
      pcre2_match_data_create_from_pattern(code(code_), nullptr));
  std::vector<Match> out;
  const auto* s = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t start = 0;
  while (start <= subject.size()) {
    const int rc = pcre2_match(code(code_), s, subject.size(), start, 0, md.get(), nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    // The subjects are decoded model outputs or dataset text; invalid UTF-8 is reported as no
    // (further) match rather than a crash.
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    Match m;
    m.whole = {ov[0], ov[1]};
    const uint32_t n = pcre2_get_ovector_count(md.get());
    for (uint32_t g = 1; g < n; ++g) {
      if (g < uint32_t(rc) && ov[2 * g] != PCRE2_UNSET)
        m.groups.push_back(Span{ov[2 * g], ov[2 * g + 1]});
      else
        m.groups.push_back(std::nullopt);
    }
    out.push_back(std::move(m));
    if (ov[1] > ov[0]) {
      start = ov[1];
    } else {  // empty match: step over one code point
      start = ov[1] + 1;
      while (start < subject.size() && (uint8_t(subject[start]) & 0xC0) == 0x80) ++start;
    }
  }
  return out;
}

std::string Regex::replace_all(std::string_view subject, std::string_view replacement) const {
  std::string out;
  size_t last = 0;
  for (const Match& m : find_all(subject)) {
    out.append(subject.substr(last, m.whole.begin - last));
    out.append(replacement);
    last = m.whole.end;
  }
  out.append(subject.substr(last));
  return out;
}

}  // namespace moe::tasks
