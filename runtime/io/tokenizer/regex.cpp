#define PCRE2_CODE_UNIT_WIDTH 8
#include "runtime/io/tokenizer/regex.h"

#include <pcre2.h>

#include "runtime/core/error.h"
#include "runtime/io/tokenizer/utf8.h"

namespace moe::io::tok {

namespace {

std::string pcre2_message(int code) {
  PCRE2_UCHAR buf[256];
  pcre2_get_error_message(code, buf, sizeof(buf));
  return reinterpret_cast<const char*>(buf);
}

// Per-thread JIT stack (the default 32 KiB machine stack is too small for long whitespace runs).
struct JitContext {
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* stack = nullptr;
  JitContext() {
    context = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(64 * 1024, 8 * 1024 * 1024, nullptr);
    if (context && stack) pcre2_jit_stack_assign(context, nullptr, stack);
  }
  ~JitContext() {
    if (stack) pcre2_jit_stack_free(stack);
    if (context) pcre2_match_context_free(context);
  }
  JitContext(const JitContext&) = delete;
  JitContext& operator=(const JitContext&) = delete;
};

pcre2_match_context* thread_match_context() {
  thread_local JitContext ctx;
  return ctx.context;
}

struct MatchData {
  pcre2_match_data* data;
  explicit MatchData(const pcre2_code* code)
      : data(pcre2_match_data_create_from_pattern(code, nullptr)) {
    MOE_ASSERT(data != nullptr, "pcre2_match_data_create_from_pattern failed");
  }
  ~MatchData() { pcre2_match_data_free(data); }
  MatchData(const MatchData&) = delete;
  MatchData& operator=(const MatchData&) = delete;
};

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() {
    if (code) pcre2_code_free(code);
  }
};

std::string onig_to_pcre2(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 16);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char e = p[i + 1];
      ++i;
      if (e == 's') {
        out += in_class ? "\\s\\x{85}" : "[\\s\\x{85}]";
      } else if (e == 'S' && !in_class) {
        out += "[^\\s\\x{85}]";
      } else {
        out += '\\';
        out += e;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
      const size_t close = p.find(":]", i + 2);
      if (close != std::string_view::npos) {
        out.append(p.substr(i, close + 2 - i));
        i = close + 1;
        continue;
      }
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

Regex::Regex(std::string_view pattern, bool literal, const std::string& where)
    : code_(std::make_unique<Code>()), pattern_(pattern) {
  const std::string source = literal ? std::string(pattern) : onig_to_pcre2(pattern);
  const uint32_t options =
      literal ? (PCRE2_UTF | PCRE2_LITERAL) : (PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE);
  int err = 0;
  PCRE2_SIZE err_offset = 0;
  code_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(), options,
                              &err, &err_offset, nullptr);
  if (!code_->code)
    throw input_error(where, "expected a regular expression, found '{}' ({} at offset {})",
                      std::string(pattern), pcre2_message(err), err_offset);
  // JIT is an optimisation: the interpreter gives the same matches when it is unavailable.
  pcre2_jit_compile(code_->code, PCRE2_JIT_COMPLETE);
}

Regex::Regex(Regex&&) noexcept = default;
Regex& Regex::operator=(Regex&&) noexcept = default;
Regex::~Regex() = default;

std::vector<Span> Regex::find_all(std::string_view text) const {
  std::vector<Span> out;
  MatchData md(code_->code);
  pcre2_match_context* mctx = thread_match_context();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t search_from = 0;
  bool have_last = false;
  size_t last_end = 0;
  while (search_from <= text.size()) {
    const int rc = pcre2_match(code_->code, subject, text.size(), search_from, PCRE2_NO_UTF_CHECK,
                               md.data, mctx);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0)
      throw input_error("regex '" + pattern_ + "'", "matching failed: {}", pcre2_message(rc));
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.data);
    const size_t s = ov[0], e = ov[1];
    if (s == e && have_last && last_end == e) {
      // Oniguruma's find_iter: no empty match right after the previous match; step one char.
      search_from +=
          search_from < text.size() ? utf8_len(static_cast<unsigned char>(text[search_from])) : 1;
      continue;
    }
    out.push_back({s, e, true});
    have_last = true;
    last_end = e;
    search_from = e;
  }
  return out;
}

std::vector<Span> Regex::split_matches(std::string_view text) const {
  if (text.empty()) return {{0, 0, false}};
  std::vector<Span> out;
  size_t prev = 0;
  for (const Span& m : find_all(text)) {
    if (prev != m.begin) out.push_back({prev, m.begin, false});
    out.push_back(m);
    prev = m.end;
  }
  if (prev != text.size()) out.push_back({prev, text.size(), false});
  return out;
}

}  // namespace moe::io::tok
