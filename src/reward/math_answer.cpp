// The math reward's entry point; see math_answer.h.
#include "reward/math_answer.h"

#include <cctype>
#include <cstring>

#include "reward/math_expr.h"
#include "reward/math_extract.h"
#include "reward/math_normalize.h"

namespace acerl::reward {
namespace {

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }

std::string without_spaces(std::string_view s) {
  std::string out;
  for (char c : s)
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
  return out;
}

// A text answer ("Monday", "\text{no}", "even") is compared as text, not parsed as algebra.
bool is_text_answer(const NormalizedAnswer& n) {
  bool only_words = true, long_unknown = false;
  const std::string& s = n.expr;
  for (size_t i = 0; i < s.size();) {
    if (!is_alpha(s[i])) {
      if (!std::isspace(static_cast<unsigned char>(s[i])) && !std::strchr(",.'-", s[i]))
        only_words = false;
      ++i;
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_alpha(s[j])) ++j;
    std::string_view run(s.data() + i, j - i);
    if (is_prose_run(run)) return true;
    if (run.size() >= 2 && !is_math_word(run)) long_unknown = true;
    i = j;
  }
  return long_unknown && (only_words || n.had_text);
}

// "B", "(B)", "B)", "B." -> 'B'; with `loose`, also "(B) 42" and "B) 42". 0 when not a choice.
char choice_letter(const std::string& s, bool loose) {
  auto letter = [](char c) { return c >= 'A' && c <= 'J'; };
  if (s.size() == 1 && letter(s[0])) return s[0];
  if (s.size() >= 3 && s[0] == '(' && letter(s[1]) && s[2] == ')' && (s.size() == 3 || loose))
    return s[1];
  if (s.size() >= 2 && letter(s[0]) && (s[1] == ')' || s[1] == '.' || s[1] == ':') &&
      (s.size() == 2 || loose))
    return s[0];
  return 0;
}

bool integer_literal(const std::string& s) {
  size_t i = s[0] == '-' ? 1 : 0;
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::string strip_leading_zeros(const std::string& s) {
  bool negative = s[0] == '-';
  size_t i = negative ? 1 : 0;
  while (i + 1 < s.size() && s[i] == '0') ++i;
  std::string digits = s.substr(i);
  return (negative && digits != "0" ? "-" : "") + digits;
}

}  // namespace

std::string compare_math_answers(std::string_view reference, std::string_view candidate,
                                 const MathCheckOptions& options) {
  if (reference.size() > options.max_answer_chars || candidate.size() > options.max_answer_chars)
    return "unparsable";
  ExtractedAnswer boxed_reference = last_boxed(reference);
  if (boxed_reference.found) reference = boxed_reference.text;
  NormalizedAnswer ref = normalize_math_answer(reference);
  NormalizedAnswer cand = normalize_math_answer(candidate);
  std::string rs = without_spaces(ref.expr), cs = without_spaces(cand.expr);
  if (rs.empty() || cs.empty()) return "unparsable";
  // "5 cm" vs "5 m": both sides name a unit and they differ.
  if (!ref.unit.empty() && !cand.unit.empty() && ref.unit != cand.unit) return "wrong";
  if (rs == cs) return "correct";
  if (char want = choice_letter(rs, false)) {
    if (char got = choice_letter(cs, true)) return got == want ? "correct" : "wrong";
  }
  // Integers beyond 128 bits are compared digit by digit.
  if (integer_literal(rs) && integer_literal(cs))
    return strip_leading_zeros(rs) == strip_leading_zeros(cs) ? "correct" : "wrong";
  bool same_text = math_text_key(ref.expr) == math_text_key(cand.expr);
  if (same_text) return "correct";
  if (is_text_answer(ref)) return "wrong";
  MathExpr re = parse_math_expr(ref.expr), ce = parse_math_expr(cand.expr);
  if (!re.ok() || !ce.ok()) return "unparsable";
  MathCompareOptions compare;
  compare.rel_tol = options.rel_tol;
  return math_expr_equivalent(re, ce, compare) ? "correct" : "wrong";
}

MathVerdict check_math(std::string_view response, std::string_view reference,
                       const MathCheckOptions& options) {
  MathVerdict verdict;
  try {
    ExtractedAnswer answer = extract_math_answer(response);
    if (!answer.found || answer.text.empty()) {
      verdict.reason = "no_answer";
      return verdict;
    }
    verdict.extracted = answer.text.substr(0, options.max_answer_chars + 1);
    verdict.reason = compare_math_answers(reference, answer.text, options);
    verdict.score = verdict.reason == "correct" ? 1.0 : 0.0;
  } catch (...) {  // out of memory on an absurd input: no reward, never a crash
    verdict.score = 0;
    verdict.reason = "unparsable";
  }
  return verdict;
}

}  // namespace acerl::reward
