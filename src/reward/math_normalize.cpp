// LaTeX --> plain expression syntax for the math reward; see math_normalize.h.
#include "reward/math_normalize.h"
#include "reward/text_util.h"

#include "reward/math_units.h"

#include <cctype>
#include <cstring>
#include <vector>

namespace acerl::reward {
namespace {

constexpr int kMaxDepth = 48;

struct Replacement {
  const char* from;
  const char* to;
};

// Commands that become plain tokens. Names not listed here and not handled in command() are kept
// as "\name" so the parser rejects them (and the text comparison still sees them).
constexpr Replacement kCommandTokens[] = {{"cdot", "*"},        {"times", "*"},
                                          {"ast", "*"},         {"div", "/"},
                                          {"pi", " pi "},       {"infty", " inf "},
                                          {"infin", " inf "},   {"pm", "#"},
                                          {"mp", "#"},          {"le", "<="},
                                          {"leq", "<="},        {"leqslant", "<="},
                                          {"ge", ">="},         {"geq", ">="},
                                          {"geqslant", ">="},   {"lt", "<"},
                                          {"gt", ">"},          {"ne", "!="},
                                          {"neq", "!="},        {"in", ":"},
                                          {"cup", "@"},         {"emptyset", "{}"},
                                          {"varnothing", "{}"}, {"lfloor", " floor("},
                                          {"rfloor", ")"},      {"lceil", " ceil("},
                                          {"rceil", ")"},       {"lvert", "|"},
                                          {"rvert", "|"},       {"vert", "|"},
                                          {"ldots", "..."},     {"dots", "..."},
                                          {"cdots", "..."},     {"quad", " "},
                                          {"qquad", " "},       {"enspace", " "},
                                          {"space", " "},       {"colon", ":"},
                                          {"lbrace", "{"},      {"rbrace", "}"},
                                          {"langle", "("},      {"rangle", ")"},
                                          {"approx", "="},      {"equiv", "="},
                                          {"cap", "~"},         {"setminus", "\\setminus"}};

// Functions and Greek letters pass through as words (the parser knows them).
constexpr const char* kWordCommands[] = {
    "sin",   "cos",      "tan",     "sec",   "csc",    "cot",     "arcsin",     "arccos", "arctan",
    "sinh",  "cosh",     "tanh",    "ln",    "log",    "exp",     "min",        "max",    "gcd",
    "lcm",   "alpha",    "beta",    "gamma", "delta",  "epsilon", "varepsilon", "zeta",   "eta",
    "theta", "vartheta", "iota",    "kappa", "lambda", "mu",      "nu",         "xi",     "rho",
    "sigma", "tau",      "upsilon", "phi",   "varphi", "chi",     "psi",        "omega",  "Gamma",
    "Delta", "Theta",    "Lambda",  "Xi",    "Sigma",  "Phi",     "Psi",        "Omega"};

// Commands dropped with no argument (sizing and style switches).
constexpr const char* kDropped[] = {
    "left",       "right",        "big",       "Big",         "bigg",      "Bigg",     "bigl",
    "bigr",       "Bigl",         "Bigr",      "biggl",       "biggr",     "Biggl",    "Biggr",
    "middle",     "displaystyle", "textstyle", "scriptstyle", "limits",    "nolimits", "bf",
    "it",         "rm",           "mathrm*",   "strut",       "circ",      "degree",   "dollar",
    "textdollar", "percent",      "nonumber",  "notag",       "textdegree"};

// Commands whose braced argument is kept as text.
constexpr const char* kTextWrappers[] = {"text",   "textbf",     "textit", "textrm", "textsf",
                                         "texttt", "textnormal", "mbox",   "hbox",   "mathrm",
                                         "mathit", "mathsf",     "mathtt", "emph"};
// Commands whose argument is kept as math (styling only).
constexpr const char* kMathWrappers[] = {"mathbf",    "boldsymbol", "bm",           "boxed",
                                         "fbox",      "mathcal",    "operatorname", "displaylines",
                                         "underline", "mathnormal", "pmb",          "ensuremath"};

template <size_t N>
bool in_list(const char* const (&list)[N], std::string_view name) {
  for (const char* item : list)
    if (name == item) return true;
  return false;
}

struct Converter {
  NormalizedAnswer* result;
  int matrix_depth = 0;

  // One macro argument at s[*i]: a braced group's content, a \command or one character.
  static std::string_view argument(std::string_view s, size_t* i) {
    while (*i < s.size() && is_space(s[*i])) ++*i;
    if (*i >= s.size()) return {};
    size_t start = *i;
    if (s[start] == '{') {
      int depth = 0;
      for (size_t k = start; k < s.size(); ++k) {
        if (s[k] == '\\') {
          ++k;
          continue;
        }
        if (s[k] == '{') ++depth;
        if (s[k] == '}' && --depth == 0) {
          *i = k + 1;
          return s.substr(start + 1, k - start - 1);
        }
      }
      *i = s.size();  // unbalanced: the rest is the argument
      return s.substr(start + 1);
    }
    if (s[start] == '\\') {
      size_t k = start + 1;
      while (k < s.size() && is_alpha(s[k])) ++k;
      if (k == start + 1 && k < s.size()) ++k;
      *i = k;
      return s.substr(start, k - start);
    }
    *i = start + 1;
    return s.substr(start, 1);
  }

  static bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
      if (!is_digit(c)) return false;
    return true;
  }

  // "2\frac{1}{3}" is the mixed number 2 + 1/3 when an integer stands right before the fraction.
  static void emit_fraction(std::string& out, const std::string& num, const std::string& den) {
    size_t end = out.size();
    while (end > 0 && out[end - 1] == ' ') --end;
    size_t begin = end;
    while (begin > 0 && is_digit(out[begin - 1])) --begin;
    bool integer_before =
        begin < end && (begin == 0 || std::strchr(" (+-,=[{:#;&<>@", out[begin - 1]));
    if (integer_before && all_digits(num) && all_digits(den)) {
      std::string whole = out.substr(begin, end - begin);
      out.erase(begin);
      out += "(" + whole + "+" + num + "/" + den + ")";
      return;
    }
    out += "((" + num + ")/(" + den + "))";
  }

  // A colon between two numbers ("3:4") is a ratio; other colons keep their "is in" meaning.
  static bool is_ratio_colon(std::string_view s, size_t i, const std::string& out) {
    size_t b = out.size();
    while (b > 0 && out[b - 1] == ' ') --b;
    size_t a = i + 1;
    while (a < s.size() && is_space(s[a])) ++a;
    return b > 0 && (is_digit(out[b - 1]) || out[b - 1] == ')') && a < s.size() &&
           (is_digit(s[a]) || s[a] == '(' || s[a] == '\\');
  }

  static bool is_degree_mark(std::string_view arg) {
    arg = trim(arg);
    return arg == "\\circ" || arg == "\\degree" || arg == "o";
  }

  void command(std::string_view s, size_t* i, std::string& out, int depth) {
    size_t start = *i + 1, k = start;
    while (k < s.size() && is_alpha(s[k])) ++k;
    if (k == start) {  // \, \; \{ and other one-character commands
      char c = k < s.size() ? s[k] : ' ';
      *i = k + 1;
      if (c == '{' || c == '}' || c == '%' || c == '|' || c == '&')
        out += c;
      else if (c == '\\')
        out += matrix_depth > 0 ? ';' : ',';
      else if (c == ' ')
        out += ' ';
      return;  // \, \; \! \: \$ vanish
    }
    std::string_view name = s.substr(start, k - start);
    *i = k;
    if (name == "frac" || name == "dfrac" || name == "tfrac" || name == "cfrac") {
      std::string num = convert(argument(s, i), depth + 1);
      std::string den = convert(argument(s, i), depth + 1);
      emit_fraction(out, num, den);
      return;
    }
    if (name == "sqrt") {
      std::string index;
      size_t j = *i;
      while (j < s.size() && is_space(s[j])) ++j;
      if (j < s.size() && s[j] == '[') {
        size_t close = s.find(']', j);
        if (close != std::string_view::npos) {
          index = convert(s.substr(j + 1, close - j - 1), depth + 1);
          *i = close + 1;
        }
      }
      std::string body = convert(argument(s, i), depth + 1);
      out += index.empty() ? " sqrt(" + body + ")" : " root(" + body + "," + index + ")";
      return;
    }
    if (name == "binom" || name == "dbinom" || name == "tbinom" || name == "choose") {
      if (name == "choose") {
        out += "\\choose";
        return;
      }
      std::string n = convert(argument(s, i), depth + 1);
      std::string r = convert(argument(s, i), depth + 1);
      out += " binom(" + n + "," + r + ")";
      return;
    }
    if (in_list(kTextWrappers, name)) {
      std::string body = convert(argument(s, i), depth + 1);
      result->had_text = true;
      out += std::string(" ") + kTextOpen + body + kTextClose + " ";
      return;
    }
    if (in_list(kMathWrappers, name)) {
      out += convert(argument(s, i), depth + 1);
      return;
    }
    if (name == "mathbb") {
      std::string_view arg = trim(argument(s, i));
      out += arg == "R" ? "(-inf,inf)" : std::string(arg);
      return;
    }
    if (name == "hspace" || name == "vspace" || name == "phantom" || name == "label") {
      argument(s, i);
      return;
    }
    if (name == "begin" || name == "end") {
      std::string_view env = trim(argument(s, i));
      bool matrix = env.find("matrix") != std::string_view::npos || env == "array";
      if (name == "begin" && env == "array") argument(s, i);  // column spec {cc}
      if (!matrix) return;
      if (name == "begin") {
        ++matrix_depth;
        out += "$M(";
      } else {
        if (matrix_depth > 0) --matrix_depth;
        out += ")";
      }
      return;
    }
    if (name == "not") {
      out += "!";
      return;
    }
    if (in_list(kDropped, name)) {
      if (name == "circ" || name == "degree" || name == "textdegree") result->unit = "degree";
      if (name == "percent") out += "%";
      if ((name == "left" || name == "right") && *i < s.size() && s[*i] == '.') ++*i;
      return;
    }
    for (const Replacement& r : kCommandTokens) {
      if (name == r.from) {
        out += r.to;
        return;
      }
    }
    if (in_list(kWordCommands, name)) {
      out += " " + std::string(name) + " ";
      return;
    }
    out += " \\" + std::string(name) + " ";
  }

  // Multi-byte characters models write instead of LaTeX commands.
  static bool unicode(std::string_view s, size_t* i, std::string& out, NormalizedAnswer* result) {
    static constexpr Replacement table[] = {
        {"\xC2\xB0", ""},          {"\xCF\x80", " pi "},   {"\xC3\x97", "*"},
        {"\xC2\xB7", "*"},         {"\xE2\x88\x92", "-"},  {"\xE2\x80\x93", "-"},
        {"\xE2\x89\xA4", "<="},    {"\xE2\x89\xA5", ">="}, {"\xE2\x89\xA0", "!="},
        {"\xE2\x88\x9E", " inf "}, {"\xC2\xB1", "#"},      {"\xE2\x88\xAA", "@"},
        {"\xE2\x88\x88", ":"},     {"\xC3\xB7", "/"},      {"\xE2\x80\x89", ""},
        {"\xC2\xA0", " "},         {"\xE2\x88\x85", "{}"}, {"\xE2\x88\x9A", " sqrt "}};
    for (const Replacement& r : table) {
      size_t n = std::strlen(r.from);
      if (s.substr(*i, n) != r.from) continue;
      if (r.from[0] == '\xC2' && r.from[1] == '\xB0') result->unit = "degree";
      out += r.to;
      *i += n;
      return true;
    }
    return false;
  }

  std::string convert(std::string_view s, int depth) {
    std::string out;
    if (depth > kMaxDepth) {
      result->truncated = true;
      return out;
    }
    size_t i = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '\\') {
        command(s, &i, out, depth);
      } else if (c == '{') {
        std::string inner = convert(argument(s, &i), depth + 1);
        if (trim(inner) == ",")
          out += ",";
        else if (!trim(inner).empty())
          out += "(" + inner + ")";
      } else if (c == '^') {
        ++i;
        std::string_view arg = argument(s, &i);
        if (is_degree_mark(arg)) {
          result->unit = "degree";
          continue;
        }
        out += "^(" + convert(arg, depth + 1) + ")";
      } else if (c == '_') {
        ++i;
        std::string sub;
        for (char ch : convert(argument(s, &i), depth + 1))
          if (is_alpha(ch) || is_digit(ch)) sub += ch;
        while (!out.empty() && out.back() == ' ') out.pop_back();  // " log _2" -> "log_2"
        if (!sub.empty()) out += "_" + sub + " ";  // the subscript ends here: log_{3}81
      } else if (c == '}' || c == '$') {
        ++i;
      } else if (c == ':' && is_ratio_colon(s, i, out)) {  // 3:4 is the ratio 3/4
        out += '/';
        ++i;
      } else if (c == '~') {
        out += ' ';
        ++i;
      } else if (static_cast<unsigned char>(c) >= 0x80 && unicode(s, &i, out, result)) {
      } else {
        out += c;
        ++i;
      }
    }
    return out;
  }
};

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

// Whole words "and"/"or" separate answers; "percent" is the % sign.
std::string replace_connectives(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (!is_alpha(s[i])) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_alpha(s[j])) ++j;
    std::string word = lower(std::string_view(s).substr(i, j - i));
    bool prev_backslash = i > 0 && s[i - 1] == '\\';
    if (!prev_backslash && (word == "and" || word == "or"))
      out += ",";
    else if (!prev_backslash && word == "percent")
      out += "%";
    else
      out.append(s, i, j - i);
    i = j;
  }
  return out;
}

// "1,000,000" -> "1000000": a comma followed by exactly three digits inside one number. A comma
// followed by a space separates list items instead.
std::string drop_thousands_separators(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    bool number_start =
        is_digit(s[i]) && (i == 0 || (!is_digit(s[i - 1]) && s[i - 1] != '.' && s[i - 1] != ','));
    if (!number_start) {
      out += s[i++];
      continue;
    }
    size_t j = i;
    while (j < s.size() && is_digit(s[j])) ++j;
    size_t lead = j - i, k = j;
    int groups = 0;
    while (k + 3 < s.size() && s[k] == ',' && is_digit(s[k + 1]) && is_digit(s[k + 2]) &&
           is_digit(s[k + 3]) && (k + 4 >= s.size() || !is_digit(s[k + 4]))) {
      k += 4;
      ++groups;
    }
    if (groups > 0 && lead <= 3) {
      for (size_t p = i; p < k; ++p)
        if (s[p] != ',') out += s[p];
    } else {
      out.append(s, i, j - i);
      k = j;
    }
    i = k;
  }
  return out;
}

}  // namespace

NormalizedAnswer normalize_math_answer(std::string_view latex) {
  NormalizedAnswer result;
  Converter converter{&result};
  std::string s = converter.convert(latex, 0);
  s = replace_connectives(s);
  std::string before_units = s;
  std::string unit = strip_trailing_units(s);
  if (trim(s).empty())
    s = before_units;  // the whole answer was words: keep it
  else if (!unit.empty())
    result.unit = result.unit.empty() ? unit : result.unit;
  for (char& c : s)
    if (c == kTextOpen || c == kTextClose) c = ' ';
  s = drop_thousands_separators(s);
  std::string_view view = trim(s);
  // A sentence mark after the answer ("2," / "1/2."), but not an ellipsis.
  if (view.size() >= 2 && (view.back() == '.' || view.back() == ',') &&
      view[view.size() - 2] != '.')
    view = trim(view.substr(0, view.size() - 1));
  result.expr = std::string(view);
  return result;
}

std::string math_text_key(std::string_view normalized) {
  std::string key;
  for (char c : normalized) {
    if (is_space(c) || c == '\\' || c == '$' || c == kTextOpen || c == kTextClose) continue;
    key += lower(c);
  }
  while (!key.empty() && key.back() == '.') key.pop_back();
  return key;
}

}  // namespace acerl::reward
