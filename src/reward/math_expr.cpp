// Tokenizer and recursive-descent parser of normalised math answers; see math_expr.h.
#include "reward/math_expr.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace acerl::reward {
namespace {

constexpr size_t kMaxNodes = 4096;
constexpr int kMaxDepth = 150;

constexpr const char* kFunctions[] = {
    "sqrt",   "root",   "sin",   "cos",  "tan",  "sec", "csc", "cot", "arcsin",
    "arccos", "arctan", "sinh",  "cosh", "tanh", "ln",  "log", "exp", "abs",
    "floor",  "ceil",   "binom", "min",  "max",  "gcd", "lcm"};
constexpr const char* kConstants[] = {"pi", "inf", "e", "i"};
constexpr const char* kGreek[] = {
    "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",  "eta",   "theta",
    "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",    "rho",   "sigma",
    "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega", "Gamma", "Delta",
    "Theta",    "Lambda",  "Xi",    "Sigma",  "Phi",     "Psi",        "Omega"};

template <size_t N>
bool in_list(const char* const (&list)[N], std::string_view name) {
  for (const char* item : list)
    if (name == item) return true;
  return false;
}

bool is_function(std::string_view w) { return in_list(kFunctions, w); }

std::string word_stem(const std::string& word) { return word.substr(0, word.find('_')); }

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

enum class Tok : uint8_t { end, number, word, op, bad };

struct Token {
  Tok type = Tok::end;
  std::string text;  // number literal, word (with "_sub"), or operator
};

// Splits a letter run into known words (longest match) and single letters: "xsin" -> x, sin.
void split_letters(std::string_view run, std::vector<Token>* out) {
  size_t i = 0;
  while (i < run.size()) {
    size_t best = 1;
    constexpr size_t kLongestWord = 10;  // "varepsilon"
    for (size_t len = std::min(run.size() - i, kLongestWord); len >= 2; --len) {
      if (is_math_word(run.substr(i, len))) {
        best = len;
        break;
      }
    }
    out->push_back({Tok::word, std::string(run.substr(i, best))});
    i += best;
  }
}

std::vector<Token> tokenize(std::string_view s) {
  std::vector<Token> tokens;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
      continue;
    }
    if (is_digit(c) || (c == '.' && i + 1 < s.size() && is_digit(s[i + 1]))) {
      size_t j = i;
      while (j < s.size() && is_digit(s[j])) ++j;
      if (j < s.size() && s[j] == '.' && !(j + 1 < s.size() && s[j + 1] == '.')) {
        ++j;
        while (j < s.size() && is_digit(s[j])) ++j;
      }
      if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {  // 1e-3, but "2e" is 2 times e
        size_t k = j + 1;
        if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
        if (k < s.size() && is_digit(s[k])) {
          while (k < s.size() && is_digit(s[k])) ++k;
          j = k;
        }
      }
      tokens.push_back({Tok::number, std::string(s.substr(i, j - i))});
      i = j;
      continue;
    }
    if (is_alpha(c)) {
      size_t j = i;
      while (j < s.size() && is_alpha(s[j])) ++j;
      split_letters(s.substr(i, j - i), &tokens);
      i = j;
      if (i < s.size() && s[i] == '_') {  // subscript: attaches to the last letter/word
        size_t k = i + 1;
        while (k < s.size() && (is_alpha(s[k]) || is_digit(s[k]))) ++k;
        if (k > i + 1) tokens.back().text += std::string(s.substr(i, k - i));
        i = k;
      }
      continue;
    }
    if (c == '$' && s.substr(i, 3) == "$M(") {
      tokens.push_back({Tok::op, "$M("});
      i += 3;
      continue;
    }
    std::string_view two = s.substr(i, 2);
    if (two == "<=" || two == ">=" || two == "!=" || two == "=<" || two == "=>") {
      std::string op(two);
      if (op == "=<") op = "<=";
      if (op == "=>") op = ">=";
      tokens.push_back({Tok::op, op});
      i += 2;
      continue;
    }
    if (std::strchr("+-*/^!%()[]{},|=<>#@:&;", c)) {
      tokens.push_back({Tok::op, std::string(1, c)});
      ++i;
      continue;
    }
    tokens.push_back({Tok::bad, std::string(1, c)});
    ++i;
  }
  tokens.push_back({Tok::end, ""});
  return tokens;
}

bool is_relation_op(const Token& t) {
  return t.type == Tok::op && (t.text == "=" || t.text == "<" || t.text == ">" || t.text == "<=" ||
                               t.text == ">=" || t.text == "!=" || t.text == ":");
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  MathExpr run() {
    int32_t root = list();
    if (failed_ || peek().type != Tok::end) return {};
    expr_.root = root;
    return std::move(expr_);
  }

 private:
  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  bool failed_ = false;
  MathExpr expr_;

  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return tokens_[i < tokens_.size() ? i : tokens_.size() - 1];
  }
  bool at_op(const char* op) const { return peek().type == Tok::op && peek().text == op; }
  bool accept(const char* op) {
    if (!at_op(op)) return false;
    ++pos_;
    return true;
  }
  int32_t fail() {
    failed_ = true;
    return -1;
  }
  int32_t make(NodeKind kind, std::string text, std::vector<int32_t> kids) {
    if (failed_ || expr_.nodes.size() >= kMaxNodes) return fail();
    for (int32_t k : kids)
      if (k < 0) return fail();
    Node n;
    n.kind = kind;
    n.text = std::move(text);
    n.kids = std::move(kids);
    return expr_.add(std::move(n));
  }

  // RAII guard on recursion depth: deep nesting fails the parse instead of the stack.
  struct Depth {
    Parser* p;
    explicit Depth(Parser* parser) : p(parser) {
      if (++p->depth_ > kMaxDepth) p->failed_ = true;
    }
    ~Depth() { --p->depth_; }
  };

  int32_t list() {
    Depth guard(this);
    std::vector<int32_t> items{union_expr()};
    while (!failed_ && accept(",")) items.push_back(union_expr());
    if (items.size() == 1) return items[0];
    return make(NodeKind::list, "", std::move(items));
  }

  int32_t union_expr() {
    std::vector<int32_t> parts{relation()};
    while (!failed_ && accept("@")) parts.push_back(relation());
    if (parts.size() == 1) return parts[0];
    return make(NodeKind::union_, "", std::move(parts));
  }

  int32_t relation() {
    std::vector<int32_t> kids{additive()};
    std::string ops;
    while (!failed_ && is_relation_op(peek())) {
      if (!ops.empty()) ops += ' ';
      ops += peek().text;
      ++pos_;
      kids.push_back(additive());
    }
    if (kids.size() == 1) return kids[0];
    return make(NodeKind::relation, ops, std::move(kids));
  }

  int32_t additive() {
    Depth guard(this);
    int32_t left = term();
    while (!failed_) {
      if (accept("+"))
        left = make(NodeKind::add, "", {left, term()});
      else if (accept("-"))
        left = make(NodeKind::sub, "", {left, term()});
      else if (accept("#"))
        left = make(NodeKind::plus_minus, "", {left, term()});
      else
        break;
    }
    return left;
  }

  bool starts_implicit_factor() const {
    const Token& t = peek();
    if (t.type == Tok::number || t.type == Tok::word) return true;
    return t.type == Tok::op && (t.text == "(" || t.text == "$M(");
  }

  int32_t term() {
    int32_t left = unary();
    while (!failed_) {
      if (accept("*"))
        left = make(NodeKind::mul, "", {left, unary()});
      else if (accept("/"))
        left = make(NodeKind::div, "", {left, unary()});
      else if (starts_implicit_factor())
        left = make(NodeKind::mul, "", {left, power()});
      else
        break;
    }
    return left;
  }

  int32_t unary() {
    Depth guard(this);
    if (failed_) return -1;
    if (accept("-")) return make(NodeKind::neg, "", {unary()});
    if (accept("+")) return unary();
    if (accept("#")) return make(NodeKind::plus_minus, "", {unary()});
    return power();
  }

  int32_t power() {
    Depth guard(this);
    int32_t base = postfix();
    if (!failed_ && accept("^")) return make(NodeKind::pow, "", {base, unary()});
    return base;
  }

  int32_t postfix() {
    int32_t value = primary();
    while (!failed_) {
      if (accept("!"))
        value = make(NodeKind::factorial, "", {value});
      else if (accept("%"))
        value = make(NodeKind::percent, "", {value});
      else
        break;
    }
    return value;
  }

  int32_t function_call(std::string name) {
    std::string base;
    size_t underscore = name.find('_');
    if (underscore != std::string::npos) {  // log_2
      base = name.substr(underscore + 1);
      name = name.substr(0, underscore);
    }
    int32_t exponent = -1;  // sin^2 x
    if (accept("^")) exponent = postfix();
    std::vector<int32_t> args;
    if (at_op("(")) {
      ++pos_;
      int32_t inside = list();
      if (!accept(")")) return fail();
      if (inside >= 0 && expr_.at(inside).kind == NodeKind::list)
        args = expr_.at(inside).kids;
      else
        args.push_back(inside);
    } else {
      // \sin 2x is sin(2x): the argument takes the following numbers and variables, and stops at
      // an operator, a bracket or the next function (\sin x \cos x).
      int32_t arg = power();
      while (!failed_ && (peek().type == Tok::number ||
                          (peek().type == Tok::word && !is_function(word_stem(peek().text)))))
        arg = make(NodeKind::mul, "", {arg, power()});
      args.push_back(arg);
    }
    if (!base.empty()) {
      if (name != "log") return fail();
      NodeKind kind = is_digit(base[0]) ? NodeKind::number : NodeKind::variable;
      args.push_back(make(kind, base, {}));
    }
    int32_t call = make(NodeKind::function, name, std::move(args));
    return exponent >= 0 ? make(NodeKind::pow, "", {call, exponent}) : call;
  }

  int32_t bracketed(const std::string& open) {
    if (open == "{" && accept("}")) return make(NodeKind::set, "", {});
    int32_t inside = list();
    if (failed_) return -1;
    bool is_list = expr_.at(inside).kind == NodeKind::list;
    std::vector<int32_t> items = is_list ? expr_.at(inside).kids : std::vector<int32_t>{inside};
    if (open == "{") {
      if (!accept("}")) return fail();
      return make(NodeKind::set, "", std::move(items));
    }
    std::string close = peek().text;
    if (peek().type != Tok::op || (close != ")" && close != "]")) return fail();
    ++pos_;
    if (!is_list) {
      if ((open == "(" && close == ")") || (open == "[" && close == "]")) return inside;
      return fail();
    }
    return make(NodeKind::tuple, open + close, std::move(items));
  }

  int32_t matrix() {
    std::vector<int32_t> cells;
    int32_t cols = -1, row_cols = 0;
    while (!failed_) {
      if (at_op(")") || at_op(";")) {
        bool end = at_op(")");
        ++pos_;
        if (row_cols > 0) {
          if (cols >= 0 && cols != row_cols) return fail();
          cols = row_cols;
        }
        row_cols = 0;
        if (end) break;
        continue;
      }
      if (peek().type == Tok::end) return fail();
      if (row_cols > 0 && !accept("&")) return fail();
      cells.push_back(additive());
      ++row_cols;
    }
    if (failed_ || cells.empty() || cols <= 0) return fail();
    int32_t id = make(NodeKind::matrix, "", std::move(cells));
    if (id >= 0) expr_.nodes[static_cast<size_t>(id)].cols = cols;
    return id;
  }

  int32_t primary() {
    Depth guard(this);
    if (failed_) return -1;
    Token t = peek();
    if (t.type == Tok::number) {
      ++pos_;
      return make(NodeKind::number, t.text, {});
    }
    if (t.type == Tok::word) {
      ++pos_;
      std::string stem = word_stem(t.text);
      if (is_function(stem)) return function_call(t.text);
      if (in_list(kConstants, t.text)) return make(NodeKind::constant, t.text, {});
      return make(NodeKind::variable, t.text, {});
    }
    if (t.type != Tok::op) return fail();
    ++pos_;
    if (t.text == "(" || t.text == "[" || t.text == "{") return bracketed(t.text);
    if (t.text == "$M(") return matrix();
    if (t.text == "|") {
      int32_t inside = additive();
      if (!accept("|")) return fail();
      return make(NodeKind::function, "abs", {inside});
    }
    return fail();
  }
};

void append_text(const MathExpr& e, int32_t id, std::string* out, int depth) {
  if (depth > kMaxDepth || out->size() > 100000) return;
  const Node& n = e.at(id);
  static const char* names[] = {"num",   "const", "var",  "+",     "-",  "*", "/",
                                "^",     "neg",   "pm",   "fn",    "!",  "%", "rel",
                                "tuple", "set",   "list", "union", "mat"};
  *out += names[static_cast<int>(n.kind)];
  *out += '[';
  *out += n.text;
  for (int32_t k : n.kids) {
    *out += ' ';
    append_text(e, k, out, depth + 1);
  }
  *out += ']';
}

}  // namespace

bool is_math_word(std::string_view word) {
  return in_list(kFunctions, word) || in_list(kConstants, word) || in_list(kGreek, word);
}

bool is_prose_run(std::string_view letters) {
  std::vector<Token> pieces;
  split_letters(letters, &pieces);
  int singles = 0;
  for (const Token& t : pieces) {
    singles = t.text.size() == 1 ? singles + 1 : 0;
    if (singles >= 3) return true;
  }
  return false;
}

MathExpr parse_math_expr(std::string_view text) {
  if (text.size() > 20000) return {};
  std::vector<Token> tokens = tokenize(text);
  for (const Token& t : tokens)
    if (t.type == Tok::bad) return {};
  return Parser(std::move(tokens)).run();
}

std::string math_expr_text(const MathExpr& expr, int32_t node) {
  std::string out;
  if (node >= 0 && static_cast<size_t>(node) < expr.nodes.size()) append_text(expr, node, &out, 0);
  return out;
}

}  // namespace acerl::reward
