// defines: extract_math_answer: the final answer of a model response, i.e. the last \boxed{..}
// (or \fbox) after </think>, else a "the answer is ..." / "Final Answer: ..." phrase. First step
// of the math reward: response text --> answer text (--> normalise --> compare).
#pragma once

#include <string>
#include <string_view>

namespace acerl::reward {

struct ExtractedAnswer {
  bool found = false;
  std::string text;    // the answer as written (LaTeX), without the \boxed wrapper
  std::string source;  // "boxed", "phrase" or "" when nothing was found
};

// Never throws. When the response contains </think>, only the text after the last one is
// searched (a box inside the reasoning is not the answer).
ExtractedAnswer extract_math_answer(std::string_view response);

// The content of the last complete \boxed/\fbox in `text`; empty optional-like result (found =
// false) when there is none. Exposed for references written as "\boxed{...}".
ExtractedAnswer last_boxed(std::string_view text);

}  // namespace acerl::reward
