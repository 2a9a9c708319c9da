// The unit table and trailing-unit stripping of the math reward; see math_units.h.
#include "reward/math_units.h"
#include "reward/text_util.h"

#include <cctype>
#include <cstring>
#include <string_view>

namespace acerl::reward {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct UnitWord {
  const char* word;
  const char* canonical;
  bool text_only;  // too short to strip unless written as \text{..}
};

constexpr UnitWord kUnits[] = {{"mm", "mm", false},
                               {"millimeter", "mm", false},
                               {"millimeters", "mm", false},
                               {"cm", "cm", false},
                               {"centimeter", "cm", false},
                               {"centimeters", "cm", false},
                               {"centimetre", "cm", false},
                               {"centimetres", "cm", false},
                               {"m", "m", true},
                               {"meter", "m", false},
                               {"meters", "m", false},
                               {"metre", "m", false},
                               {"metres", "m", false},
                               {"km", "km", false},
                               {"kilometer", "km", false},
                               {"kilometers", "km", false},
                               {"in", "in", true},
                               {"inch", "in", false},
                               {"inches", "in", false},
                               {"ft", "ft", false},
                               {"foot", "ft", false},
                               {"feet", "ft", false},
                               {"yd", "yd", false},
                               {"yard", "yd", false},
                               {"yards", "yd", false},
                               {"mi", "mi", true},
                               {"mile", "mi", false},
                               {"miles", "mi", false},
                               {"s", "s", true},
                               {"sec", "s", false},
                               {"second", "s", false},
                               {"seconds", "s", false},
                               {"min", "min", true},
                               {"minute", "min", false},
                               {"minutes", "min", false},
                               {"h", "h", true},
                               {"hr", "h", false},
                               {"hrs", "h", false},
                               {"hour", "h", false},
                               {"hours", "h", false},
                               {"day", "day", false},
                               {"days", "day", false},
                               {"week", "week", false},
                               {"weeks", "week", false},
                               {"month", "month", false},
                               {"months", "month", false},
                               {"year", "year", false},
                               {"years", "year", false},
                               {"g", "g", true},
                               {"gram", "g", false},
                               {"grams", "g", false},
                               {"kg", "kg", false},
                               {"kilogram", "kg", false},
                               {"kilograms", "kg", false},
                               {"lb", "lb", false},
                               {"lbs", "lb", false},
                               {"pound", "lb", false},
                               {"pounds", "lb", false},
                               {"ounce", "oz", false},
                               {"ounces", "oz", false},
                               {"oz", "oz", false},
                               {"l", "l", true},
                               {"liter", "l", false},
                               {"liters", "l", false},
                               {"litre", "l", false},
                               {"litres", "l", false},
                               {"ml", "ml", false},
                               {"dollar", "dollar", false},
                               {"dollars", "dollar", false},
                               {"cent", "cent", false},
                               {"cents", "cent", false},
                               {"degree", "degree", false},
                               {"degrees", "degree", false},
                               {"deg", "degree", false},
                               {"unit", "unit", false},
                               {"units", "unit", false},
                               {"mph", "mph", false},
                               {"sq", "square", false},
                               {"square", "square", false},
                               {"cubic", "cubic", false},
                               {"radians", "radian", false},
                               {"radian", "radian", false},
                               {"rad", "radian", false}};

const UnitWord* find_unit(std::string_view word) {
  std::string low = lower(word);
  for (const UnitWord& u : kUnits)
    if (low == u.word || word == u.word) return &u;
  return nullptr;
}

// Canonical form of a phrase made only of unit words ("square centimeters" -> "square cm"), or
// "" when some word is not a unit (or a short unit outside \text).
std::string unit_phrase(std::string_view phrase, bool in_text) {
  std::string canonical;
  size_t i = 0;
  bool any = false;
  while (i < phrase.size()) {
    if (is_space(phrase[i]) || phrase[i] == '.') {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < phrase.size() && is_alpha(phrase[j])) ++j;
    if (j == i) {
      // a power of the unit: "cm^(2)" / "cm^2"
      std::string_view rest = phrase.substr(i);
      if (any && (rest == "^(2)" || rest == "^2" || rest == "^(3)" || rest == "^3")) {
        canonical += rest.find('2') != std::string_view::npos ? "^2" : "^3";
        return canonical;
      }
      return "";
    }
    const UnitWord* u = find_unit(phrase.substr(i, j - i));
    if (!u || (u->text_only && !in_text)) return "";
    if (any) canonical += ' ';
    canonical += u->canonical;
    any = true;
    i = j;
  }
  return canonical;
}

bool ends_like_value(std::string_view before) {
  before = trim(before);
  if (before.empty()) return false;
  char c = before.back();
  return is_digit(c) || c == ')' || c == '%' || c == '}' || c == 'i' || c == '.';
}

// Removes trailing units ("5\text{ cm}", "12 meters", "3 square units") and returns their
// canonical names.
}  // namespace

std::string strip_trailing_units(std::string& s) {
  std::string unit;
  for (int round = 0; round < 3; ++round) {
    std::string_view view = trim(s);
    while (!view.empty() && view.back() == '.') view = trim(view.substr(0, view.size() - 1));
    if (view.empty()) break;
    size_t cut = std::string_view::npos;
    std::string canonical, power;
    for (std::string_view p : {"^(2)", "^(3)", "^2", "^3"}) {  // \text{ cm}^2
      if (view.size() <= p.size() || view.substr(view.size() - p.size()) != p) continue;
      std::string_view base = trim(view.substr(0, view.size() - p.size()));
      if (base.empty() || base.back() != kTextClose) continue;
      power = p.find('2') != std::string_view::npos ? "^2" : "^3";
      view = base;
      break;
    }
    if (view.back() == kTextClose) {
      size_t open = view.rfind(kTextOpen);
      if (open == std::string_view::npos) break;
      std::string_view body = view.substr(open + 1, view.size() - open - 2);
      std::string_view before = view.substr(0, open);
      if (!ends_like_value(before)) break;
      canonical = unit_phrase(body, true);
      if (canonical.empty()) {
        // Any plain words after a value are a unit ("5 \text{ apples}").
        bool words = !trim(body).empty();
        for (char c : body)
          if (!is_alpha(c) && !is_space(c)) words = false;
        if (!words) break;
        canonical = lower(trim(body));
      }
      cut = open;
    } else {
      size_t start = view.size();
      while (start > 0 && (is_alpha(view[start - 1]) || std::strchr("^()23", view[start - 1])))
        --start;
      while (start < view.size() && !is_alpha(view[start])) ++start;
      if (start >= view.size()) break;
      std::string_view word = view.substr(start);
      std::string_view before = view.substr(0, start);
      if (before.empty() || !(is_space(before.back()) || is_digit(before.back()))) break;
      canonical = unit_phrase(word, false);
      if (canonical.empty() || !ends_like_value(before)) break;
      cut = start;
    }
    s = std::string(view.substr(0, cut));
    canonical += power;
    unit = unit.empty() ? canonical : canonical + " " + unit;
  }
  return unit;
}

}  // namespace acerl::reward
