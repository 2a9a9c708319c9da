// Final-answer extraction from whole responses: boxes, nesting, </think>, phrase fallbacks.
#include "support/catch.h"

#include "reward/math_extract.h"

using namespace acerl;

namespace {
std::string answer(const std::string& response) {
  reward::ExtractedAnswer a = reward::extract_math_answer(response);
  return a.found ? a.text : "<none>";
}
}  // namespace

TEST_CASE("the last box is the answer, with nested braces", "[math]") {
  CHECK(answer("so \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}");
  CHECK(answer("\\boxed{\\left\\{1, \\frac{2}{3}\\right\\}}") ==
        "\\left\\{1, \\frac{2}{3}\\right\\}");
  CHECK(answer("first \\boxed{1} then \\boxed{2}.") == "2");
  CHECK(answer("\\boxed{ 12 }") == "12");
  CHECK(answer("The result is $\\boxed 5$.") == "5");
  CHECK(answer("\\fbox{7}") == "7");
  CHECK(answer("\\boxed{\\text{(B)}}") == "\\text{(B)}");
  CHECK(reward::extract_math_answer("\\boxed{3}").source == "boxed");
  // \boxedx is not a box command; an unclosed last box falls back to the previous one.
  CHECK(answer("\\boxedx") == "<none>");
  CHECK(answer("\\boxed{4} and finally \\boxed{\\frac{1}{") == "4");
  CHECK(answer("\\boxed{\\{1,2\\}}") == "\\{1,2\\}");
}

TEST_CASE("after </think> only the final part counts", "[math]") {
  CHECK(answer("<think>try \\boxed{3}</think>The answer is \\boxed{4}") == "4");
  CHECK(answer("<think>try \\boxed{3}</think>I cannot decide.") == "<none>");
  CHECK(answer("<think>a</think>x<think>b \\boxed{1}</think>\\boxed{2}") == "2");
  // Without </think> the whole response is searched.
  CHECK(answer("<think>still thinking \\boxed{9}") == "9");
}

TEST_CASE("phrase fallbacks when there is no box", "[math]") {
  CHECK(answer("</think>The answer is $\\frac{3}{4}$.") == "\\frac{3}{4}");
  CHECK(answer("</think>**Final Answer:** 42\nThanks") == "42");
  CHECK(answer("Final answer: 3.5.") == "3.5");
  CHECK(answer("so the final answer is 17") == "17");
  CHECK(answer("The answer is: \\( x = 2 \\)") == "x = 2");
  CHECK(reward::extract_math_answer("the answer is 3").source == "phrase");
  CHECK(answer("I have no idea.") == "<none>");
  CHECK(answer("") == "<none>");
  CHECK(answer("The answer is .") == "<none>");
}
