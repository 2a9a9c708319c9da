// defines: math_expr_equivalent: whether two parsed answers (reference, candidate) are the same
// answer: numbers exactly or within a relative tolerance, expressions at random points, tuples and
// intervals in order, sets/lists/unions in any order, equations up to a nonzero factor,
// inequalities as intervals, matrices entry-wise. Fourth step of the math reward: parse -->
// compare --> verdict (math_answer).
#pragma once

#include "reward/math_expr.h"

namespace acerl::reward {

struct MathCompareOptions {
  // Two values with a decimal or irrational side are equal when |a - b| <= rel_tol * max(|a|,|b|);
  // exact rationals (integers, fractions) must be equal exactly.
  double rel_tol = 1e-6;
  int points = 6;  // valid random points required for expressions with variables
};

// Never throws; time is bounded by an evaluation budget (exhausted -> not equivalent).
bool math_expr_equivalent(const MathExpr& reference, const MathExpr& candidate,
                          const MathCompareOptions& options = {});

}  // namespace acerl::reward
