// Point evaluation of math answer expressions; see math_eval.h.
#include "reward/math_eval.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace acerl::reward {
namespace {

using Complex = std::complex<double>;
constexpr int kMaxDepth = 200;
constexpr double kPi = 3.14159265358979323846;

__int128 gcd128(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

bool make_rational(__int128 num, __int128 den, Rational* out) {
  if (den == 0) return false;
  if (den < 0) {
    if (num == std::numeric_limits<__int128>::min() || den == std::numeric_limits<__int128>::min())
      return false;
    num = -num;
    den = -den;
  }
  __int128 g = gcd128(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  out->num = num;
  out->den = den;
  return true;
}

bool rat_add(const Rational& a, const Rational& b, Rational* out, bool subtract = false) {
  __int128 x, y, d, bn = b.num;
  if (subtract) {
    if (bn == std::numeric_limits<__int128>::min()) return false;
    bn = -bn;
  }
  if (__builtin_mul_overflow(a.num, b.den, &x) || __builtin_mul_overflow(bn, a.den, &y) ||
      __builtin_mul_overflow(a.den, b.den, &d) || __builtin_add_overflow(x, y, &x))
    return false;
  return make_rational(x, d, out);
}

bool rat_mul(const Rational& a, const Rational& b, Rational* out) {
  __int128 n, d;
  if (__builtin_mul_overflow(a.num, b.num, &n) || __builtin_mul_overflow(a.den, b.den, &d))
    return false;
  return make_rational(n, d, out);
}

bool rat_div(const Rational& a, const Rational& b, Rational* out) {
  if (b.num == 0) return false;
  return rat_mul(a, Rational{b.den, b.num}, out) && make_rational(out->num, out->den, out);
}

bool rat_pow(Rational base, int64_t n, Rational* out) {
  if (n < 0) {
    if (base.num == 0) return false;
    base = Rational{base.den, base.num};
    if (!make_rational(base.num, base.den, &base)) return false;
    n = -n;
  }
  Rational acc{1, 1};
  for (int64_t k = 0; k < n; ++k)
    if (!rat_mul(acc, base, &acc)) return false;
  *out = acc;
  return true;
}

double to_double(const Rational& q) {
  return static_cast<double>(q.num) / static_cast<double>(q.den);
}

bool is_integer(const MathValue& v, int64_t* out) {
  if (!v.exact || v.q.den != 1 || v.q.num > (int64_t(1) << 53) || v.q.num < -(int64_t(1) << 53))
    return false;
  *out = static_cast<int64_t>(v.q.num);
  return true;
}

bool is_real(const Complex& z) {
  return std::abs(z.imag()) <= 1e-12 * std::max(1.0, std::abs(z.real()));
}

MathValue invalid() {
  MathValue v;
  v.valid = false;
  return v;
}

MathValue from_complex(Complex z, bool approx) {
  MathValue v;
  v.z = z;
  v.approx = approx;
  v.valid = std::isfinite(z.real()) && std::isfinite(z.imag());
  return v;
}

MathValue from_rational(const Rational& q, bool approx) {
  MathValue v;
  v.exact = true;
  v.q = q;
  v.approx = approx;
  v.z = Complex(to_double(q), 0);
  return v;
}

// "2.50" -> 5/2 exactly; "1e-3" -> 1/1000; too many digits or a huge exponent -> double only.
MathValue number_literal(const std::string& text) {
  bool approx = text.find_first_of(".eE") != std::string::npos;
  __int128 mantissa = 0;
  int64_t scale = 0;  // value = mantissa * 10^scale
  bool fits = true, after_point = false;
  size_t i = 0;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      after_point = true;
      continue;
    }
    if (mantissa > (std::numeric_limits<__int128>::max() - 9) / 10) {
      fits = false;
      break;
    }
    mantissa = mantissa * 10 + (text[i] - '0');
    if (after_point) --scale;
  }
  size_t e = text.find_first_of("eE");
  if (e != std::string::npos) {
    const char* start = text.c_str() + e + 1;
    char* end = nullptr;
    long long exponent = std::strtoll(start, &end, 10);
    if (exponent > 60 || exponent < -60)
      fits = false;
    else
      scale += exponent;
  }
  double d = std::strtod(text.c_str(), nullptr);
  if (!fits || scale > 36 || scale < -36) return from_complex(Complex(d, 0), true);
  Rational q{mantissa, 1}, ten{10, 1};
  Rational p;
  if (!rat_pow(ten, scale < 0 ? -scale : scale, &p)) return from_complex(Complex(d, 0), true);
  bool ok = scale < 0 ? rat_div(q, p, &q) : rat_mul(q, p, &q);
  if (!ok) return from_complex(Complex(d, 0), true);
  return from_rational(q, approx);
}

class Evaluator {
 public:
  Evaluator(const MathExpr& e, const EvalPoint& p) : e_(e), p_(p) {}

  MathValue eval(int32_t id, int depth) {
    if (depth > kMaxDepth || id < 0 || static_cast<size_t>(id) >= e_.nodes.size()) return invalid();
    const Node& n = e_.at(id);
    switch (n.kind) {
      case NodeKind::number:
        return number_literal(n.text);
      case NodeKind::constant:
        return constant(n.text);
      case NodeKind::variable:
        for (const auto& [name, value] : p_.vars)
          if (name == n.text) return from_complex(value, false);
        return invalid();
      case NodeKind::neg: {
        MathValue v = eval(n.kids[0], depth + 1);
        if (!v.valid) return v;
        // -(-1 + 0i) must stay on the upper side of the branch cut: sqrt(-1) = i, not -i.
        v.z = Complex(-v.z.real(), v.z.imag() == 0 ? 0.0 : -v.z.imag());
        v.q.num = -v.q.num;
        return v;
      }
      case NodeKind::add:
      case NodeKind::sub:
      case NodeKind::mul:
      case NodeKind::div:
        return arithmetic(n.kind, eval(n.kids[0], depth + 1), eval(n.kids[1], depth + 1));
      case NodeKind::plus_minus: {
        // Only the first 32 ± of an expression have a sign choice; later ones read as plus.
        const int bit = p_.plus_minus_bits ? (*p_.plus_minus_bits)[id] : -1;
        const bool minus = bit >= 0 && bit < 32 && ((p_.plus_minus_mask >> bit) & 1u);
        MathValue right = eval(n.kids.back(), depth + 1);
        if (n.kids.size() == 1)
          return arithmetic(minus ? NodeKind::sub : NodeKind::add, from_rational({0, 1}, false),
                            right);
        return arithmetic(minus ? NodeKind::sub : NodeKind::add, eval(n.kids[0], depth + 1), right);
      }
      case NodeKind::pow:
        return power(eval(n.kids[0], depth + 1), eval(n.kids[1], depth + 1));
      case NodeKind::factorial:
        return factorial(eval(n.kids[0], depth + 1));
      case NodeKind::percent: {
        MathValue v = eval(n.kids[0], depth + 1);
        if (!p_.percent_as_fraction) return v;
        return arithmetic(NodeKind::div, v, from_rational({100, 1}, false));
      }
      case NodeKind::function: {
        std::vector<MathValue> args;
        for (int32_t k : n.kids) {
          args.push_back(eval(k, depth + 1));
          if (!args.back().valid) return invalid();
        }
        return function(n.text, args);
      }
      default:
        return invalid();  // structures have no single value
    }
  }

 private:
  const MathExpr& e_;
  const EvalPoint& p_;

  static MathValue constant(const std::string& name) {
    if (name == "pi") return from_complex(Complex(kPi, 0), false);
    if (name == "e") return from_complex(Complex(std::exp(1.0), 0), false);
    if (name == "i") return from_complex(Complex(0, 1), false);
    MathValue v;  // inf
    v.infinite = true;
    v.z = Complex(HUGE_VAL, 0);
    return v;
  }

  static MathValue arithmetic(NodeKind op, const MathValue& a, const MathValue& b) {
    if (!a.valid || !b.valid || a.infinite || b.infinite) return invalid();
    bool approx = a.approx || b.approx;
    if (a.exact && b.exact) {
      Rational q;
      bool ok = op == NodeKind::add   ? rat_add(a.q, b.q, &q)
                : op == NodeKind::sub ? rat_add(a.q, b.q, &q, true)
                : op == NodeKind::mul ? rat_mul(a.q, b.q, &q)
                                      : rat_div(a.q, b.q, &q);
      if (ok) return from_rational(q, approx);
      if (op == NodeKind::div && b.q.num == 0) return invalid();
    }
    if (op == NodeKind::div && std::abs(b.z) == 0) return invalid();
    Complex z = op == NodeKind::add   ? a.z + b.z
                : op == NodeKind::sub ? a.z - b.z
                : op == NodeKind::mul ? a.z * b.z
                                      : a.z / b.z;
    return from_complex(z, approx);
  }

  static MathValue power(const MathValue& a, const MathValue& b) {
    if (!a.valid || !b.valid || a.infinite || b.infinite) return invalid();
    bool approx = a.approx || b.approx;
    int64_t n = 0;
    if (a.exact && is_integer(b, &n) && n >= -256 && n <= 256) {
      Rational q;
      if (rat_pow(a.q, n, &q)) return from_rational(q, approx);
      if (a.q.num == 0 && n < 0) return invalid();
    }
    if (std::abs(b.z) > 1e6) return invalid();  // 10^(10^10) and friends
    if (is_real(a.z) && is_real(b.z)) {
      double x = a.z.real(), y = b.z.real();
      if (x == 0 && y < 0) return invalid();
      if (x >= 0) return from_complex(Complex(std::pow(x, y), 0), approx);
      // A negative base to an exact p/q with odd q is the real root: (-8)^(1/3) = -2.
      if (b.exact && (b.q.den & 1) == 1) {
        double magnitude = std::pow(-x, y);
        return from_complex(Complex((b.q.num & 1) ? -magnitude : magnitude, 0), approx);
      }
    }
    return from_complex(std::pow(a.z, b.z), approx);
  }

  static MathValue factorial(const MathValue& a) {
    if (!a.valid || a.infinite) return invalid();
    int64_t n = 0;
    if (is_integer(a, &n)) {
      if (n < 0 || n > 170) return invalid();
      Rational acc{1, 1};
      bool exact = true;
      for (int64_t k = 2; k <= n && exact; ++k) exact = rat_mul(acc, Rational{k, 1}, &acc);
      if (exact) return from_rational(acc, a.approx);
    }
    if (!is_real(a.z) || a.z.real() > 170) return invalid();
    return from_complex(Complex(std::tgamma(a.z.real() + 1), 0), a.approx);
  }

  static MathValue binomial(const MathValue& n, const MathValue& k) {
    int64_t ni = 0, ki = 0;
    if (is_integer(n, &ni) && is_integer(k, &ki) && ki >= 0 && ki <= 200 &&
        ni <= (int64_t(1) << 40)) {
      if (ni >= 0 && ki > ni) return from_rational({0, 1}, false);
      Rational acc{1, 1};
      bool ok = true;
      for (int64_t j = 0; j < ki && ok; ++j)
        ok = rat_mul(acc, Rational{ni - j, j + 1}, &acc) && make_rational(acc.num, acc.den, &acc);
      if (ok) return from_rational(acc, n.approx || k.approx);
    }
    if (!is_real(n.z) || !is_real(k.z)) return invalid();
    double x = n.z.real(), y = k.z.real();
    double v = std::exp(std::lgamma(x + 1) - std::lgamma(y + 1) - std::lgamma(x - y + 1));
    // lgamma drops the sign of gamma; recover it for negative arguments.
    double sign = std::tgamma(x + 1) * std::tgamma(y + 1) * std::tgamma(x - y + 1) < 0 ? -1 : 1;
    return from_complex(Complex(sign * v, 0), n.approx || k.approx);
  }

  static MathValue function(const std::string& f, const std::vector<MathValue>& args) {
    for (const MathValue& a : args)
      if (a.infinite) return invalid();
    if (f == "binom") return args.size() == 2 ? binomial(args[0], args[1]) : invalid();
    if (f == "min" || f == "max") return extremum(f == "max", args);
    if (f == "gcd" || f == "lcm") return gcd_lcm(f == "lcm", args);
    if (f == "log" && args.size() == 2) {  // log_b x
      MathValue x = function("ln", {args[0]}), b = function("ln", {args[1]});
      if (!x.valid || !b.valid || std::abs(b.z) == 0) return invalid();
      return from_complex(x.z / b.z, false);
    }
    if (f == "root" && args.size() == 2) {
      MathValue inv = arithmetic(NodeKind::div, from_rational({1, 1}, false), args[1]);
      return power(args[0], inv);
    }
    if (args.size() != 1) return invalid();
    const MathValue& a = args[0];
    Complex z = a.z;
    bool real = is_real(z);
    double x = z.real();
    if (f == "sqrt") {
      if (a.exact && a.q.num >= 0) {  // sqrt(4/9) stays exact
        double rn = std::round(std::sqrt(static_cast<double>(a.q.num)));
        double rd = std::round(std::sqrt(static_cast<double>(a.q.den)));
        __int128 n = static_cast<__int128>(rn), d = static_cast<__int128>(rd);
        if (rn < 1e18 && rd < 1e18 && n * n == a.q.num && d * d == a.q.den)
          return from_rational({n, d}, a.approx);
      }
      return from_complex(real && x >= 0 ? Complex(std::sqrt(x), 0) : std::sqrt(z), a.approx);
    }
    if (f == "abs") {
      if (a.exact) return from_rational({a.q.num < 0 ? -a.q.num : a.q.num, a.q.den}, a.approx);
      return from_complex(Complex(std::abs(z), 0), a.approx);
    }
    if (f == "floor" || f == "ceil") {
      if (!real) return invalid();
      double r = f == "floor" ? std::floor(x) : std::ceil(x);
      if (a.exact) {
        __int128 q = a.q.num / a.q.den;  // truncates toward zero
        if (f == "floor" && a.q.num < 0 && q * a.q.den != a.q.num) --q;
        if (f == "ceil" && a.q.num > 0 && q * a.q.den != a.q.num) ++q;
        return from_rational({q, 1}, a.approx);
      }
      return from_complex(Complex(r, 0), a.approx);
    }
    if (f == "ln" || f == "log") {  // \log without a base is base 10, as in competition math
      if (std::abs(z) == 0) return invalid();
      Complex ln = real && x > 0 ? Complex(std::log(x), 0) : std::log(z);
      return from_complex(f == "log" ? ln / std::log(10.0) : ln, false);
    }
    if (f == "exp") return from_complex(std::exp(z), false);
    if (f == "sin") return from_complex(std::sin(z), false);
    if (f == "cos") return from_complex(std::cos(z), false);
    if (f == "tan") return reciprocal_safe(std::sin(z), std::cos(z));
    if (f == "cot") return reciprocal_safe(std::cos(z), std::sin(z));
    if (f == "sec") return reciprocal_safe(Complex(1, 0), std::cos(z));
    if (f == "csc") return reciprocal_safe(Complex(1, 0), std::sin(z));
    if (f == "arcsin")
      return from_complex(real && std::abs(x) <= 1 ? Complex(std::asin(x), 0) : std::asin(z),
                          false);
    if (f == "arccos")
      return from_complex(real && std::abs(x) <= 1 ? Complex(std::acos(x), 0) : std::acos(z),
                          false);
    if (f == "arctan") return from_complex(std::atan(z), false);
    if (f == "sinh") return from_complex(std::sinh(z), false);
    if (f == "cosh") return from_complex(std::cosh(z), false);
    if (f == "tanh") return from_complex(std::tanh(z), false);
    return invalid();
  }

  static MathValue reciprocal_safe(Complex num, Complex den) {
    if (std::abs(den) < 1e-12) return invalid();
    return from_complex(num / den, false);
  }

  static MathValue extremum(bool want_max, const std::vector<MathValue>& args) {
    if (args.empty()) return invalid();
    const MathValue* best = &args[0];
    for (const MathValue& a : args) {
      if (!is_real(a.z)) return invalid();
      if (want_max ? a.z.real() > best->z.real() : a.z.real() < best->z.real()) best = &a;
    }
    return *best;
  }

  static MathValue gcd_lcm(bool lcm, const std::vector<MathValue>& args) {
    if (args.empty()) return invalid();
    __int128 acc = 0;
    for (size_t k = 0; k < args.size(); ++k) {
      int64_t v = 0;
      if (!is_integer(args[k], &v)) return invalid();
      __int128 x = v < 0 ? -v : v;
      if (k == 0)
        acc = x;
      else if (!lcm)
        acc = gcd128(acc, x);
      else {
        __int128 g = gcd128(acc, x);
        if (g == 0 || __builtin_mul_overflow(acc / g, x, &acc)) return invalid();
      }
    }
    return from_rational({acc, 1}, false);
  }
};

void collect(const MathExpr& e, int32_t id, std::vector<std::string>* vars, int depth) {
  if (depth > kMaxDepth || id < 0 || static_cast<size_t>(id) >= e.nodes.size()) return;
  const Node& n = e.at(id);
  if (n.kind == NodeKind::variable) vars->push_back(n.text);
  if (n.kind == NodeKind::function && n.text == "log" && n.kids.size() == 2 &&
      e.at(n.kids[1]).kind == NodeKind::variable)
    vars->push_back(e.at(n.kids[1]).text);
  for (int32_t k : n.kids) collect(e, k, vars, depth + 1);
}

bool contains(const MathExpr& e, int32_t id, NodeKind kind, int depth) {
  if (depth > kMaxDepth || id < 0 || static_cast<size_t>(id) >= e.nodes.size()) return false;
  const Node& n = e.at(id);
  if (n.kind == kind) return true;
  for (int32_t k : n.kids)
    if (contains(e, k, kind, depth + 1)) return true;
  return false;
}

}  // namespace

MathValue eval_math(const MathExpr& expr, int32_t node, const EvalPoint& point) {
  return Evaluator(expr, point).eval(node, 0);
}

std::vector<std::string> math_variables(const MathExpr& expr, int32_t node) {
  std::vector<std::string> vars;
  collect(expr, node, &vars, 0);
  std::sort(vars.begin(), vars.end());
  vars.erase(std::unique(vars.begin(), vars.end()), vars.end());
  return vars;
}

bool math_contains(const MathExpr& expr, int32_t node, NodeKind kind) {
  return contains(expr, node, kind, 0);
}

}  // namespace acerl::reward
