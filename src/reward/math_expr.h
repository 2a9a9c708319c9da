// defines: MathExpr (an arena of Nodes) and parse_math_expr: the expression tree of a normalised
// math answer: numbers, constants (pi, e, i, inf), variables, + - * / ^ ± !, %, functions,
// relations (= < <= > >= != and ':' for "is in"), tuples/intervals, sets, lists, unions and
// matrices. Third step of the math reward: normalise --> parse --> evaluate/compare.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace acerl::reward {

enum class NodeKind : uint8_t {
  number,    // text = the literal ("2.50", "1e-3")
  constant,  // text = "pi" | "e" | "i" | "inf"
  variable,  // text = name, with subscript ("x", "x_1", "alpha")
  add,
  sub,
  mul,
  div,
  pow,
  neg,
  plus_minus,  // a ± b (kids a, b) or ± b (one kid)
  function,    // text = name, kids = arguments; log with a base: text = "log", kids = x, base
  factorial,
  percent,   // x%
  relation,  // kids k0 op1 k1 op2 k2...; text = the ops separated by spaces ("=", "< <=")
  tuple,     // text = the brackets: "()", "[]", "[)", "(]"
  set,       // {a, b}
  list,      // a, b (no brackets)
  union_,    // A ∪ B
  matrix,    // kids row-major, cols = number of columns
};

struct Node {
  NodeKind kind = NodeKind::number;
  std::string text;
  std::vector<int32_t> kids;
  int32_t cols = 0;
};

struct MathExpr {
  std::vector<Node> nodes;
  int32_t root = -1;  // -1: the text did not parse
  bool ok() const { return root >= 0; }
  const Node& at(int32_t i) const { return nodes[static_cast<size_t>(i)]; }
  int32_t add(Node node) {
    nodes.push_back(std::move(node));
    return static_cast<int32_t>(nodes.size() - 1);
  }
};

// Never throws; returns an expression with ok() == false on a syntax error or when the input
// exceeds the size/nesting limits.
MathExpr parse_math_expr(std::string_view text);

// True for the multi-letter names the parser reads as one token (functions, Greek letters,
// constants); other letter runs are products of one-letter variables.
bool is_math_word(std::string_view word);

// True when a run of letters would be read as three or more one-letter variables in a row
// ("Monday", "abc"): such a run is a word of a text answer, not algebra ("xsinx", "pi r").
bool is_prose_run(std::string_view letters);

// Canonical text of a subtree, used when two values cannot be evaluated (equal text = equal).
std::string math_expr_text(const MathExpr& expr, int32_t node);

}  // namespace acerl::reward
