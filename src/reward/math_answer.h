// defines: check_math and MathVerdict: the math reward of one response. Response --> extract the
// final answer (math_extract) --> normalise (math_normalize) --> multiple-choice / text / unit
// rules --> parse (math_expr) --> compare with the reference (math_compare). Score 1 or 0.
#pragma once

#include <string>
#include <string_view>

#include "reward/math_compare.h"

namespace acerl::reward {

struct MathVerdict {
  double score = 0;
  std::string reason;     // "correct", "wrong", "no_answer", "unparsable"
  std::string extracted;  // the candidate answer found in the response ("" when none)
};

struct MathCheckOptions {
  double rel_tol = 1e-6;           // see MathCompareOptions::rel_tol
  size_t max_answer_chars = 2000;  // longer answers (or references) are unparsable
};

// Never throws, bounded time for any input. `reference` may be LaTeX, with or without \boxed.
MathVerdict check_math(std::string_view response, std::string_view reference,
                       const MathCheckOptions& options = {});

// The comparison alone, on an already extracted candidate answer: "correct", "wrong" or
// "unparsable".
std::string compare_math_answers(std::string_view reference, std::string_view candidate,
                                 const MathCheckOptions& options = {});

}  // namespace acerl::reward
