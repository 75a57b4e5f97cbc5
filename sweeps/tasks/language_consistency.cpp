#include "sweeps/tasks/language_consistency.h"

// compact_lang_det.h uses FILE without including <cstdio>.
#include <cstdio>

#include <cld2/public/compact_lang_det.h>

#include <algorithm>
#include <limits>

#include "sweeps/tasks/text.h"

namespace moe::tasks {

const char* consistency_name(Consistency c) {
  switch (c) {
    case Consistency::consistent:
      return "consistent";
    case Consistency::inconsistent:
      return "inconsistent";
    case Consistency::undetermined:
      return "undetermined";
  }
  return "?";
}

namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Removes every span from `open` to its closing tag (each span becomes one space). close_of(s, i)
// gives the closing tag for an opening found at i (npos-free), or "" if there is none; an
// unterminated span and everything after it stay.
template <typename CloseOf>
std::string remove_spans(std::string_view s, std::string_view open, CloseOf close_of) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const size_t a = s.find(open, i);
    if (a == std::string_view::npos) break;
    const std::string close = close_of(s, a);
    const size_t b = close.empty() ? std::string_view::npos : s.find(close, a + open.size());
    if (b == std::string_view::npos) break;
    out.append(s.substr(i, a - i));
    out += ' ';
    i = b + close.size();
  }
  out.append(s.substr(i));
  return out;
}

std::string remove_fixed_spans(std::string_view s, std::string_view open, std::string_view close) {
  return remove_spans(s, open, [&](std::string_view, size_t) { return std::string(close); });
}

// \begin{env} ... \end{env} blocks.
std::string remove_environments(std::string_view s) {
  return remove_spans(s, "\\begin{", [](std::string_view t, size_t at) {
    const size_t name = at + 7, name_end = t.find('}', name);
    return name_end == std::string_view::npos
               ? std::string()
               : "\\end{" + std::string(t.substr(name, name_end - name)) + "}";
  });
}

// Inline $...$ by pandoc's rule; "\$" is a literal dollar.
std::string remove_inline_dollars(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    const bool escaped = i > 0 && s[i - 1] == '\\';
    if (s[i] == '$' && !escaped && i + 1 < s.size() && !is_blank(s[i + 1])) {
      size_t j = i + 1;
      bool found = false;
      for (; j < s.size(); ++j) {
        if (s[j] == '\n' && j + 1 < s.size() && s[j + 1] == '\n') break;  // not across paragraphs
        if (s[j] == '$' && s[j - 1] != '\\' && !is_blank(s[j - 1]) &&
            !(j + 1 < s.size() && is_digit(s[j + 1]))) {
          found = true;
          break;
        }
      }
      if (found) {
        out += ' ';
        i = j + 1;
        continue;
      }
    }
    out += s[i++];
  }
  return out;
}

// \boxed{...} removed with its content; other \commands lose their name; braces dropped.
std::string remove_commands(std::string_view s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == '\\' && i + 1 < s.size() &&
        ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z'))) {
      size_t j = i + 1;
      while (j < s.size() && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z'))) ++j;
      if (s.substr(i, j - i) == "\\boxed" && j < s.size() && s[j] == '{') {
        int depth = 0;
        size_t k = j;
        for (; k < s.size(); ++k) {
          if (s[k] == '{')
            ++depth;
          else if (s[k] == '}' && --depth == 0)
            break;
        }
        i = k < s.size() ? k + 1 : s.size();
      } else {
        i = j;
      }
      out += ' ';
      continue;
    }
    if (s[i] != '{' && s[i] != '}') out += s[i];
    ++i;
  }
  return out;
}

}  // namespace

std::string strip_math(std::string_view text) {
  std::string s = sanitize_utf8(text);
  s = remove_fixed_spans(s, "```", "```");
  s = remove_fixed_spans(s, "$$", "$$");
  s = remove_fixed_spans(s, "\\[", "\\]");
  s = remove_fixed_spans(s, "\\(", "\\)");
  s = remove_environments(s);
  s = remove_inline_dollars(s);
  return remove_commands(s);
}

LanguageCheck check_language(std::string_view generated, const Language& prompt_language) {
  LanguageCheck r;
  const std::string text = strip_math(generated);
  const std::u32string u = decode_utf8(text);
  r.letters = int(std::count_if(u.begin(), u.end(), [](char32_t c) { return is_letter(c); }));
  if (r.letters < kMinLetters) return r;

  bool reliable = false;
  int valid_prefix = 0;
  const CLD2::Language lang = CLD2::DetectLanguageCheckUTF8(
      text.data(), int(text.size()), /*is_plain_text=*/true, &reliable, &valid_prefix);
  r.reliable = reliable;
  r.detected = CLD2::LanguageCode(lang);
  if (lang == CLD2::UNKNOWN_LANGUAGE) return r;
  const auto accepted = cld2_codes(prompt_language);
  r.result = std::find(accepted.begin(), accepted.end(), r.detected) != accepted.end()
                 ? Consistency::consistent
                 : Consistency::inconsistent;
  return r;
}

void ConsistencyTally::add(Consistency c) {
  switch (c) {
    case Consistency::consistent:
      ++consistent;
      break;
    case Consistency::inconsistent:
      ++inconsistent;
      break;
    case Consistency::undetermined:
      ++undetermined;
      break;
  }
}

double ConsistencyTally::rate() const {
  const int n = consistent + inconsistent;
  return n == 0 ? std::numeric_limits<double>::quiet_NaN() : double(consistent) / n;
}

}  // namespace moe::tasks
