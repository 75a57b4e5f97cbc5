#include "sweeps/tasks/answers.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "sweeps/tasks/text.h"

namespace moe::tasks {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::correct:
      return "correct";
    case Verdict::incorrect:
      return "incorrect";
    case Verdict::unscorable:
      return "unscorable";
  }
  return "?";
}

namespace {

// Index just past the brace that closes the '{' at s[open], or npos if it never closes.
size_t matching_brace(std::string_view s, size_t open) {
  int depth = 0;
  for (size_t i = open; i < s.size(); ++i) {
    if (s[i] == '{')
      ++depth;
    else if (s[i] == '}' && --depth == 0)
      return i + 1;
  }
  return std::string_view::npos;
}

bool is_ascii_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Removes the LaTeX command `name` (e.g. "\left") where it is not the prefix of a longer command.
void remove_command(std::string& s, std::string_view name) {
  for (size_t at = s.find(name); at != std::string::npos; at = s.find(name, at)) {
    const size_t end = at + name.size();
    if (is_ascii_letter(name.back()) && end < s.size() && is_ascii_letter(s[end])) {
      at = end;
      continue;
    }
    s.erase(at, name.size());
  }
}

// Replaces "\cmd{X}" by "X" for a wrapper command.
void unwrap_command(std::string& s, std::string_view cmd) {
  const std::string open = std::string(cmd) + "{";
  for (size_t at = s.find(open); at != std::string::npos; at = s.find(open, at)) {
    const size_t brace = at + cmd.size();
    const size_t end = matching_brace(s, brace);
    if (end == std::string::npos) return;
    s = s.substr(0, at) + s.substr(brace + 1, end - brace - 2) + s.substr(end);
  }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

bool strip_prefix(std::string& s, std::string_view p) {
  if (!s.starts_with(p)) return false;
  s.erase(0, p.size());
  return true;
}

bool strip_suffix(std::string& s, std::string_view p) {
  if (!s.ends_with(p)) return false;
  s.erase(s.size() - p.size());
  return true;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// A plain decimal number: [+-]? (digits [. digits?] | . digits), commas only as thousands
// separators.
std::optional<double> plain_number(std::string s) {
  if (s.empty()) return std::nullopt;
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  if (s.find(',') != std::string::npos) {
    // ^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$
    const size_t dot = s.find('.');
    const std::string_view int_part =
        std::string_view(s).substr(i, dot == std::string::npos ? std::string::npos : dot - i);
    size_t first = int_part.find(',');
    if (first == 0 || first > 3) return std::nullopt;
    for (size_t at = first; at < int_part.size(); at += 4)
      if (int_part[at] != ',' || int_part.size() < at + 4 ||
          !all_digits(int_part.substr(at + 1, 3)))
        return std::nullopt;
    if (!all_digits(int_part.substr(0, first))) return std::nullopt;
    s.erase(std::remove(s.begin(), s.end(), ','), s.end());
  }
  const std::string_view body = std::string_view(s).substr(i);
  const size_t dot = body.find('.');
  const std::string_view whole = body.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? "" : body.substr(dot + 1);
  const bool ok = (all_digits(whole) && (frac.empty() || all_digits(frac))) ||
                  (whole.empty() && all_digits(frac));
  if (!ok) return std::nullopt;
  double v = 0;
  const char* b = s.data() + (s[0] == '+' ? 1 : 0);
  const auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// "\frac{a}{b}" (after normalisation) or "a/b" of plain numbers.
std::optional<double> fraction(std::string s) {
  bool negative = false;
  if (s.starts_with("-\\frac{")) negative = true, s.erase(0, 1);
  if (strip_prefix(s, "\\frac{")) {
    // s is now "a}{b}": split at the first "}{".
    const size_t mid = s.find("}{");
    if (mid == std::string::npos || !s.ends_with("}")) return std::nullopt;
    const auto a = plain_number(s.substr(0, mid));
    const auto b = plain_number(s.substr(mid + 2, s.size() - mid - 3));
    if (!a || !b || *b == 0) return std::nullopt;
    return (negative ? -1 : 1) * *a / *b;
  }
  const size_t slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const auto a = plain_number(s.substr(0, slash));
  const auto b = plain_number(s.substr(slash + 1));
  if (!a || !b || *b == 0) return std::nullopt;
  return *a / *b;
}

bool close(double a, double b) {
  return a == b || std::fabs(a - b) <= 1e-4 * std::max(std::fabs(a), std::fabs(b));
}

bool plain_words(std::string_view s) {
  const std::u32string u = decode_utf8(s);
  return !u.empty() && std::all_of(u.begin(), u.end(), [](char32_t c) { return is_letter(c); });
}

bool may_be_expression(std::string_view s) {
  return s.find_first_of("\\^_{}()[]/*+=<>|!") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> extract_boxed(std::string_view text) {
  std::string t(text);
  t.erase(std::remove(t.begin(), t.end(), ' '), t.end());
  constexpr std::string_view kOpen = "\\boxed{";
  for (size_t at = t.find(kOpen); at != std::string::npos; at = t.find(kOpen, at + 1)) {
    const size_t brace = at + kOpen.size() - 1;
    const size_t end = matching_brace(t, brace);
    if (end != std::string::npos) return t.substr(brace + 1, end - brace - 2);
  }
  return std::nullopt;
}

std::string normalize_answer(std::string_view answer) {
  std::u32string u = decode_utf8(answer);
  std::erase_if(u, is_space);
  std::string s = encode_utf8(u);
  for (bool changed = true; changed;) {
    changed = false;
    for (auto [open, close] : {std::pair{"$", "$"}, {"\\(", "\\)"}, {"\\[", "\\]"}})
      if (s.size() >= 2 * std::string_view(open).size() && s.starts_with(open) &&
          s.ends_with(close)) {
        s = s.substr(std::string_view(open).size(), s.size() - 2 * std::string_view(open).size());
        changed = true;
      }
  }
  for (std::string_view cmd : {"\\text", "\\textbf", "\\textit", "\\mathrm", "\\mathbf", "\\mbox"})
    unwrap_command(s, cmd);
  for (std::string_view cmd : {"\\left", "\\right", "\\displaystyle", "\\!", "\\,", "\\;", "\\:"})
    remove_command(s, cmd);
  replace_all(s, "\\dfrac", "\\frac");
  replace_all(s, "\\tfrac", "\\frac");
  if (s.ends_with('.')) s.pop_back();
  if (plain_words(s)) s = to_lower(s);
  return s;
}

std::optional<NumericAnswer> parse_numeric_answer(std::string_view answer) {
  std::string s = normalize_answer(answer);
  NumericAnswer r;
  if (!strip_prefix(s, "\\$")) strip_prefix(s, "$");
  r.percent = strip_suffix(s, "\\%") || strip_suffix(s, "%");
  for (std::string_view unit : {"^\\circ", "^{\\circ}", "\u00B0"})
    if (strip_suffix(s, unit)) break;
  if (auto v = plain_number(s)) {
    r.value = *v;
    return r;
  }
  if (auto v = fraction(s)) {
    r.value = *v;
    return r;
  }
  return std::nullopt;
}

Verdict judge_answer(std::string_view predicted, std::string_view gold) {
  const auto p = parse_numeric_answer(predicted);
  const auto g = parse_numeric_answer(gold);
  if (p && g) {
    for (double a : {p->value, p->percent ? p->value / 100 : p->value})
      for (double b : {g->value, g->percent ? g->value / 100 : g->value})
        if (close(a, b)) return Verdict::correct;
    return Verdict::incorrect;
  }
  const std::string np = normalize_answer(predicted), ng = normalize_answer(gold);
  if (np == ng) return Verdict::correct;
  if (g) return may_be_expression(np) ? Verdict::unscorable : Verdict::incorrect;
  if (plain_words(np) && plain_words(ng)) return Verdict::incorrect;
  if (np.empty()) return Verdict::incorrect;
  return Verdict::unscorable;
}

BoxedScore score_boxed(std::string_view generated, std::string_view gold) {
  BoxedScore r;
  r.extracted = extract_boxed(sanitize_utf8(generated));
  r.verdict = r.extracted ? judge_answer(*r.extracted, gold) : Verdict::incorrect;
  return r;
}

void VerdictTally::add(Verdict v) {
  switch (v) {
    case Verdict::correct:
      ++correct;
      break;
    case Verdict::incorrect:
      ++incorrect;
      break;
    case Verdict::unscorable:
      ++unscorable;
      break;
  }
}

namespace {
double ratio(int a, int b) {
  return b == 0 ? std::numeric_limits<double>::quiet_NaN() : double(a) / double(b);
}
}  // namespace

double VerdictTally::accuracy_lower() const {
  return ratio(correct, n());
}
double VerdictTally::accuracy_upper() const {
  return ratio(correct + unscorable, n());
}
double VerdictTally::accuracy_scorable() const {
  return ratio(correct, correct + incorrect);
}

}  // namespace moe::tasks
