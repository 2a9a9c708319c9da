// defines: MathValue and eval_math: the numeric value of a scalar MathExpr node at one point
// (variables bound to numbers), in complex double precision plus an exact 128-bit rational when
// only rational arithmetic took part. Used by math_compare to decide numeric and symbolic
// equivalence; never throws, huge or undefined results come back as invalid.
#pragma once

#include <complex>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "reward/math_expr.h"

namespace acerl::reward {

struct Rational {
  __int128 num = 0, den = 1;  // reduced, den > 0
};

struct MathValue {
  std::complex<double> z;
  bool valid = true;      // false: undefined (pole, domain), overflow, or not a scalar
  bool exact = false;     // q holds the value exactly
  bool approx = false;    // a decimal literal (2.50, 1e-3) took part: compare with tolerance
  bool infinite = false;  // +-infinity written as \infty (sign in z.real())
  Rational q;
};

struct EvalPoint {
  std::vector<std::pair<std::string, std::complex<double>>> vars;
  bool percent_as_fraction = false;  // x% means x/100 (else x)
  uint32_t plus_minus_mask = 0;      // bit k set: the k-th ± (pre-order) is a minus
  const std::vector<int>* plus_minus_bits = nullptr;  // node -> bit index, -1 for other nodes
};

MathValue eval_math(const MathExpr& expr, int32_t node, const EvalPoint& point);

// Names of the variables under `node` (sorted, unique), and whether a ± or % occurs.
std::vector<std::string> math_variables(const MathExpr& expr, int32_t node);
bool math_contains(const MathExpr& expr, int32_t node, NodeKind kind);

}  // namespace acerl::reward
