// Structural, numeric and symbolic equivalence of parsed math answers; see math_compare.h.
#include "reward/math_compare.h"

#include <algorithm>
#include <cmath>

#include "reward/math_eval.h"

namespace acerl::reward {
namespace {

using Complex = std::complex<double>;
constexpr int kMaxDepth = 40;
constexpr size_t kMaxItems = 64;
constexpr size_t kMaxVariables = 10;
constexpr int kMaxPlusMinus = 4;
constexpr int64_t kBudget = 3000000;  // node evaluations per comparison

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

bool is_collection(NodeKind k) {
  return k == NodeKind::list || k == NodeKind::set || k == NodeKind::union_;
}

bool is_scalar(NodeKind k) {
  return !(is_collection(k) || k == NodeKind::tuple || k == NodeKind::matrix ||
           k == NodeKind::relation);
}

bool is_inequality(const std::string& op) {
  return op == "<" || op == "<=" || op == ">" || op == ">=";
}

class Comparer {
 public:
  Comparer(const MathExpr& ref, const MathExpr& cand, const MathCompareOptions& options)
      : options_(options) {
    e_[0] = ref;
    e_[1] = cand;
    for (int s = 0; s < 2; ++s) {
      bits_[s].assign(e_[s].nodes.size(), -1);
      int next = 0;
      number_plus_minus(s, e_[s].root, &next, 0);
    }
  }

  bool run() { return equiv({0, e_[0].root, 0, false}, {1, e_[1].root, 0, false}, 0); }

 private:
  struct Ref {
    int side;
    int32_t node;
    uint32_t mask;  // choice of signs for the ± under this node
    bool expanded;  // the ± have been chosen
  };

  MathCompareOptions options_;
  MathExpr e_[2];
  std::vector<int> bits_[2];
  int64_t budget_ = kBudget;

  const Node& node(const Ref& r) const { return e_[r.side].at(r.node); }

  int32_t add_node(int side, Node n) {
    bits_[side].push_back(-1);  // new nodes hold no ±
    return e_[side].add(std::move(n));
  }

  void number_plus_minus(int s, int32_t id, int* next, int depth) {
    if (id < 0 || depth > 200) return;
    if (e_[s].at(id).kind == NodeKind::plus_minus) bits_[s][static_cast<size_t>(id)] = (*next)++;
    for (int32_t k : e_[s].at(id).kids) number_plus_minus(s, k, next, depth + 1);
  }

  void plus_minus_bits_under(int s, int32_t id, std::vector<int>* out, int depth) const {
    if (id < 0 || depth > 200) return;
    int bit = bits_[s][static_cast<size_t>(id)];
    if (bit >= 0 && bit < 32) out->push_back(bit);
    for (int32_t k : e_[s].at(id).kids) plus_minus_bits_under(s, k, out, depth + 1);
  }

  // Lists, unions and sets become their items; an item with ± becomes its sign choices.
  void flatten(const Ref& r, std::vector<Ref>* out, int depth) const {
    if (out->size() > kMaxItems || depth > kMaxDepth) return;
    const Node& n = node(r);
    if (is_collection(n.kind)) {
      for (int32_t k : n.kids) flatten({r.side, k, 0, false}, out, depth + 1);
      return;
    }
    std::vector<int> bits;
    if (!r.expanded) plus_minus_bits_under(r.side, r.node, &bits, 0);
    if (bits.empty() || bits.size() > kMaxPlusMinus) {
      out->push_back({r.side, r.node, r.mask, true});
      return;
    }
    for (uint32_t combo = 0; combo < (1u << bits.size()); ++combo) {
      uint32_t mask = 0;
      for (size_t b = 0; b < bits.size(); ++b)
        if ((combo >> b) & 1) mask |= 1u << bits[b];
      out->push_back({r.side, r.node, mask, true});
    }
  }

  bool has_plus_minus(const Ref& r) const {
    if (r.expanded) return false;
    std::vector<int> bits;
    plus_minus_bits_under(r.side, r.node, &bits, 0);
    return !bits.empty();
  }

  bool equiv(const Ref& a, const Ref& b, int depth) {
    if (depth > kMaxDepth || budget_ <= 0) return false;
    NodeKind ka = node(a).kind, kb = node(b).kind;
    bool a_many = is_collection(ka) || has_plus_minus(a);
    bool b_many = is_collection(kb) || has_plus_minus(b);
    if (a_many || b_many) {
      // A tuple against a bare list of the same length is read in order: (1, 2) vs "1, 2".
      if (ka == NodeKind::tuple && kb == NodeKind::list) return ordered(a, b, depth);
      if (kb == NodeKind::tuple && ka == NodeKind::list) return ordered(a, b, depth);
      std::vector<Ref> fa, fb;
      flatten(a, &fa, 0);
      flatten(b, &fb, 0);
      return unordered(fa, fb, depth);
    }
    if (ka == NodeKind::relation || kb == NodeKind::relation) return relation(a, b, depth);
    if (ka == NodeKind::tuple && kb == NodeKind::tuple) {
      if (node(a).text != node(b).text) return false;
      return ordered(a, b, depth);
    }
    if (ka == NodeKind::matrix || kb == NodeKind::matrix) return matrix(a, b, depth);
    if (!is_scalar(ka) || !is_scalar(kb)) return false;
    return scalar(a, b);
  }

  bool ordered(const Ref& a, const Ref& b, int depth) {
    std::vector<int32_t> ka = node(a).kids, kb = node(b).kids;
    if (ka.size() != kb.size()) return false;
    for (size_t i = 0; i < ka.size(); ++i)
      if (!equiv({a.side, ka[i], 0, false}, {b.side, kb[i], 0, false}, depth + 1)) return false;
    return true;
  }

  bool unordered(const std::vector<Ref>& fa, const std::vector<Ref>& fb, int depth) {
    if (fa.size() != fb.size() || fa.size() > kMaxItems) return false;
    std::vector<bool> used(fb.size(), false);
    for (const Ref& x : fa) {
      bool found = false;
      for (size_t j = 0; j < fb.size() && !found; ++j) {
        if (used[j] || !equiv(x, fb[j], depth + 1)) continue;
        used[j] = found = true;
      }
      if (!found) return false;
    }
    return true;
  }

  // A column or row matrix also equals a tuple of its entries (a vector written either way).
  bool matrix(const Ref& a, const Ref& b, int depth) {
    const Node& na = node(a);
    const Node& nb = node(b);
    if (na.kind == NodeKind::matrix && nb.kind == NodeKind::matrix) {
      if (na.cols != nb.cols || na.kids.size() != nb.kids.size()) return false;
      return ordered(a, b, depth);
    }
    const Node& other = na.kind == NodeKind::matrix ? nb : na;
    const Node& mat = na.kind == NodeKind::matrix ? na : nb;
    bool vector = mat.cols == 1 || static_cast<size_t>(mat.cols) == mat.kids.size();
    if (other.kind != NodeKind::tuple || other.text != "()" || !vector) return false;
    return ordered(a, b, depth);
  }

  // ---- relations ----

  bool is_variable(int side, int32_t id) const {
    return e_[side].at(id).kind == NodeKind::variable;
  }

  bool relation(const Ref& a, const Ref& b, int depth) {
    const Node& na = node(a);
    const Node& nb = node(b);
    bool ra = na.kind == NodeKind::relation, rb = nb.kind == NodeKind::relation;
    if (ra && rb) return relation_pair(a, b, depth);
    const Ref& rel = ra ? a : b;
    const Ref& other = ra ? b : a;
    const Node& nr = node(rel);
    if (nr.kids.size() == 2 && (nr.text == "=" || nr.text == ":")) {
      // "x = 3" (or "f(2) = 3", "x \in [1, 2]") against a bare answer: compare the right side.
      int32_t lhs = nr.kids[0], rhs = nr.kids[1];
      bool lhs_name = is_variable(rel.side, lhs);
      bool rhs_constant = math_variables(e_[rel.side], rhs).empty();
      if (!lhs_name && !(nr.text == "=" && rhs_constant)) return false;
      Ref r{rel.side, rhs, 0, false};
      return ra ? equiv(r, other, depth + 1) : equiv(other, r, depth + 1);
    }
    int32_t interval = as_interval(rel);
    if (interval < 0) return false;
    Ref r{rel.side, interval, 0, false};
    return ra ? equiv(r, other, depth + 1) : equiv(other, r, depth + 1);
  }

  bool relation_pair(const Ref& a, const Ref& b, int depth) {
    const Node na = node(a), nb = node(b);  // copies: as_interval appends nodes
    if (na.kids.size() == 2 && nb.kids.size() == 2) {
      const std::string &oa = na.text, &ob = nb.text;
      if ((oa == "=" && ob == "=") || (oa == ":" && ob == ":")) {
        if (is_variable(a.side, na.kids[0]) && is_variable(b.side, nb.kids[0]) &&
            node({a.side, na.kids[0], 0, false}).text == node({b.side, nb.kids[0], 0, false}).text)
          return equiv({a.side, na.kids[1], 0, false}, {b.side, nb.kids[1], 0, false}, depth + 1);
        if (oa == ":") return false;
        return proportional(a, b, false, false);
      }
      if (oa == "!=" && ob == "!=") return proportional(a, b, false, false);
    }
    int32_t ia = as_interval(a), ib = as_interval(b);
    if (ia >= 0 && ib >= 0) return equiv({a.side, ia, 0, false}, {b.side, ib, 0, false}, depth + 1);
    if (na.kids.size() == 2 && nb.kids.size() == 2 && is_inequality(na.text) &&
        is_inequality(nb.text)) {
      // lhs < rhs and lhs' > rhs' agree when (rhs - lhs) is a positive multiple of the other.
      bool strict_a = na.text == "<" || na.text == ">", strict_b = nb.text == "<" || nb.text == ">";
      if (strict_a != strict_b) return false;
      bool flip_a = na.text[0] == '>', flip_b = nb.text[0] == '>';
      return proportional(a, b, true, flip_a != flip_b);
    }
    return false;
  }

  // "x < 3" -> (-inf, 3); "1 <= x < 2" -> [1, 2); "3 > x" -> (-inf, 3). -1 when not of that form.
  int32_t as_interval(const Ref& r) {
    const Node n = node(r);
    if (n.kind != NodeKind::relation) return -1;
    std::vector<std::string> ops;
    for (size_t p = 0, q; p <= n.text.size(); p = q + 1) {
      q = n.text.find(' ', p);
      if (q == std::string::npos) q = n.text.size();
      ops.push_back(n.text.substr(p, q - p));
    }
    for (const std::string& op : ops)
      if (!is_inequality(op)) return -1;
    MathExpr& e = e_[r.side];
    auto constant_side = [&](int32_t id) { return math_variables(e, id).empty(); };
    auto infinity = [&](bool negative) {
      int32_t inf = add_node(r.side, Node{NodeKind::constant, "inf", {}, 0});
      return negative ? add_node(r.side, Node{NodeKind::neg, "", {inf}, 0}) : inf;
    };
    int32_t lo = -1, hi = -1;
    bool lo_closed = false, hi_closed = false;
    if (n.kids.size() == 2) {
      bool var_left = is_variable(r.side, n.kids[0]) && constant_side(n.kids[1]);
      bool var_right = is_variable(r.side, n.kids[1]) && constant_side(n.kids[0]);
      if (!var_left && !var_right) return -1;
      int32_t bound = var_left ? n.kids[1] : n.kids[0];
      bool less = ops[0][0] == '<';
      bool upper = var_left == less;  // x < c or c > x: c is the upper bound
      bool closed = ops[0].size() == 2;
      if (upper) {
        lo = infinity(true);
        hi = bound;
        hi_closed = closed;
      } else {
        lo = bound;
        hi = infinity(false);
        lo_closed = closed;
      }
    } else if (n.kids.size() == 3 && ops.size() == 2 && ops[0][0] == ops[1][0] &&
               is_variable(r.side, n.kids[1]) && constant_side(n.kids[0]) &&
               constant_side(n.kids[2])) {
      bool less = ops[0][0] == '<';
      lo = less ? n.kids[0] : n.kids[2];
      hi = less ? n.kids[2] : n.kids[0];
      lo_closed = (less ? ops[0] : ops[1]).size() == 2;
      hi_closed = (less ? ops[1] : ops[0]).size() == 2;
    } else {
      return -1;
    }
    std::string brackets = std::string(lo_closed ? "[" : "(") + (hi_closed ? "]" : ")");
    return add_node(r.side, Node{NodeKind::tuple, brackets, {lo, hi}, 0});
  }

  // ---- values ----

  EvalPoint point_for(int attempt, const std::vector<std::string>& vars) const {
    EvalPoint p;
    for (size_t v = 0; v < vars.size(); ++v) {
      uint64_t h = splitmix64(static_cast<uint64_t>(attempt) * 1000003ull + v);
      double u = static_cast<double>(h >> 11) / 9007199254740992.0;
      double x = 0.3 + 2.6 * u;
      if (attempt % 3 == 2 && (h & 1)) x = -x;  // a third of the points may be negative
      p.vars.emplace_back(vars[v], Complex(x, 0));
    }
    return p;
  }

  MathValue eval(const Ref& r, EvalPoint& p) {
    budget_ -= static_cast<int64_t>(e_[r.side].nodes.size()) + 1;
    if (budget_ <= 0) {
      MathValue none;
      none.valid = false;
      return none;
    }
    p.plus_minus_mask = r.mask;
    p.plus_minus_bits = &bits_[r.side];
    return eval_math(e_[r.side], r.node, p);
  }

  bool close(Complex a, Complex b, double abs_tol) const {
    double diff = std::abs(a - b), scale = std::max(std::abs(a), std::abs(b));
    return diff <= options_.rel_tol * (1 + 1e-6) * scale || diff <= abs_tol;
  }

  bool numbers_equal(const MathValue& a, const MathValue& b) const {
    if (a.infinite || b.infinite)
      return a.infinite && b.infinite && (a.z.real() > 0) == (b.z.real() > 0);
    if (a.exact && b.exact && !a.approx && !b.approx)
      return a.q.num == b.q.num && a.q.den == b.q.den;
    bool irrational = !a.exact || !b.exact;  // round-off of sin(pi) must still equal 0
    return close(a.z, b.z, irrational ? 1e-12 : 0.0);
  }

  std::vector<std::string> variables(const Ref& a, const Ref& b) const {
    std::vector<std::string> v = math_variables(e_[a.side], a.node);
    std::vector<std::string> w = math_variables(e_[b.side], b.node);
    v.insert(v.end(), w.begin(), w.end());
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  }

  bool scalar(const Ref& a, const Ref& b) {
    bool percent = math_contains(e_[a.side], a.node, NodeKind::percent) ||
                   math_contains(e_[b.side], b.node, NodeKind::percent);
    // x% reads as x and as x/100 (same reading on both sides): 50% = 50 = 50\%, 50% = 0.5.
    for (int mode = 0; mode < (percent ? 2 : 1); ++mode)
      if (scalar_in_mode(a, b, mode == 1)) return true;
    return false;
  }

  bool same_text(const Ref& a, const Ref& b) const {
    return !math_contains(e_[a.side], a.node, NodeKind::plus_minus) &&
           !math_contains(e_[b.side], b.node, NodeKind::plus_minus) &&
           math_expr_text(e_[a.side], a.node) == math_expr_text(e_[b.side], b.node);
  }

  bool scalar_in_mode(const Ref& a, const Ref& b, bool percent_as_fraction) {
    std::vector<std::string> vars = variables(a, b);
    if (vars.size() > kMaxVariables) return same_text(a, b);
    if (vars.empty()) {
      EvalPoint p;
      p.percent_as_fraction = percent_as_fraction;
      MathValue va = eval(a, p), vb = eval(b, p);
      if (!va.valid || !vb.valid) return same_text(a, b);
      return numbers_equal(va, vb);
    }
    int valid = 0;
    for (int attempt = 0; attempt < 4 * options_.points && valid < options_.points; ++attempt) {
      EvalPoint p = point_for(attempt, vars);
      p.percent_as_fraction = percent_as_fraction;
      MathValue va = eval(a, p), vb = eval(b, p);
      if (budget_ <= 0) return false;
      if (!va.valid || !vb.valid || va.infinite || vb.infinite) continue;
      if (!close(va.z, vb.z, 1e-9)) return false;
      ++valid;
    }
    if (valid >= 3) return true;
    return same_text(a, b);  // undefined almost everywhere: only identical text counts
  }

  // Equations: lhs - rhs of one is a constant nonzero multiple of the other's (positive for
  // inequalities, negative when one of them is flipped).
  bool proportional(const Ref& a, const Ref& b, bool sign_matters, bool flipped) {
    const Node na = node(a), nb = node(b);
    std::vector<std::string> vars = variables(a, b);
    if (vars.empty() || vars.size() > kMaxVariables) return same_text(a, b);
    int valid = 0, nonzero = 0;
    Complex ratio0;
    for (int attempt = 0; attempt < 4 * options_.points && valid < options_.points + 2; ++attempt) {
      EvalPoint p = point_for(attempt, vars);
      MathValue la = eval({a.side, na.kids[0], 0, false}, p),
                ra = eval({a.side, na.kids[1], 0, false}, p);
      MathValue lb = eval({b.side, nb.kids[0], 0, false}, p),
                rb = eval({b.side, nb.kids[1], 0, false}, p);
      if (budget_ <= 0) return false;
      if (!la.valid || !ra.valid || !lb.valid || !rb.valid) continue;
      Complex da = la.z - ra.z, db = lb.z - rb.z;
      bool za = std::abs(da) <= 1e-9 * std::max(1.0, std::abs(la.z) + std::abs(ra.z));
      bool zb = std::abs(db) <= 1e-9 * std::max(1.0, std::abs(lb.z) + std::abs(rb.z));
      ++valid;
      if (za != zb) return false;
      if (za) continue;
      Complex ratio = da / db;
      if (nonzero++ == 0)
        ratio0 = ratio;
      else if (!close(ratio, ratio0, 1e-9))
        return false;
    }
    if (valid < 3) return same_text(a, b);
    if (nonzero == 0) return true;
    if (!sign_matters) return true;
    double want = flipped ? -1 : 1;
    return std::abs(ratio0.imag()) <= 1e-9 * std::abs(ratio0) && ratio0.real() * want > 0;
  }
};

}  // namespace

bool math_expr_equivalent(const MathExpr& reference, const MathExpr& candidate,
                          const MathCompareOptions& options) {
  if (!reference.ok() || !candidate.ok()) return false;
  return Comparer(reference, candidate, options).run();
}

}  // namespace acerl::reward
