// defines: strip_trailing_units and the unit table of the math reward: "5\text{ cm}",
// "12 meters", "24 square units" lose their unit, which comes back in canonical form ("cm") so two
// answers naming different units can be told apart. Used by math_normalize.
#pragma once

#include <string>

namespace acerl::reward {

// normalize_math_answer brackets the contents of \text{...} with these two bytes, so a short
// unit ("m", "s") is only taken for a unit when it was written as text.
constexpr char kTextOpen = '\x01', kTextClose = '\x02';

// Removes trailing unit words (at most three rounds: "5 square feet") from `s` and returns their
// canonical names separated by spaces, or "" when there was none.
std::string strip_trailing_units(std::string& s);

}  // namespace acerl::reward
