// defines: normalize_math_answer: LaTeX/plain answer text --> the plain expression syntax read by
// math_expr (\frac -> (a)/(b), \sqrt -> sqrt(), \le -> <=, \{ \} -> set braces, matrices ->
// $M(a&b;c&d)), with spacing, \left/\right, degrees, \$ and trailing units removed. Second step
// of the math reward: extract --> normalise --> parse --> compare.
#pragma once

#include <string>
#include <string_view>

namespace acerl::reward {

struct NormalizedAnswer {
  std::string expr;        // the plain syntax; special tokens: '#' = plus-minus, '@' = union,
                           // ':' = "is in", "$M(" rows ';' columns '&' ")" = matrix
  std::string unit;        // canonical trailing unit that was removed ("cm", "degree"), or ""
  bool had_text = false;   // a \text-like wrapper was present (a hint for text answers)
  bool truncated = false;  // nesting deeper than the limit: the rest was dropped
};

// Never throws. Output length is bounded by a small multiple of the input length.
NormalizedAnswer normalize_math_answer(std::string_view latex);

// Case-, space- and markup-insensitive key for comparing text answers ("\text{Monday.}" and
// "monday" share one).
std::string math_text_key(std::string_view normalized);

}  // namespace acerl::reward
