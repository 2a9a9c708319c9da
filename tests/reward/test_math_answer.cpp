// Math answer checker: the case table (tests/reward/math_cases.tsv) with verdicts checked by hand
// and with sympy, and check_math on whole responses.
#include "support/catch.h"

#include <sstream>

#include "math_cases.h"
#include "config/sections.h"
#include "reward/math_answer.h"

using namespace acerl;

TEST_CASE("every row of the case table gets its expected verdict", "[math]") {
  std::vector<test::MathCase> cases = test::load_math_cases();
  REQUIRE(cases.size() >= 300);
  std::ostringstream failures;
  int failed = 0;
  for (const auto& c : cases) {
    REQUIRE((c.expected == "correct" || c.expected == "wrong" || c.expected == "unparsable"));
    std::string got = reward::compare_math_answers(c.reference, c.candidate);
    if (got == c.expected) continue;
    ++failed;
    failures << "math_cases.tsv:" << c.line << ": [" << c.reference << "] vs [" << c.candidate
             << "]: expected " << c.expected << ", got " << got << "\n";
  }
  INFO(failures.str());
  CHECK(failed == 0);
}

TEST_CASE("check_math scores whole responses", "[math]") {
  auto v = reward::check_math(
      "<think>maybe \\boxed{3}</think>So the answer is \\boxed{\\frac{1}{2}}.", "0.5");
  CHECK(v.score == 1.0);
  CHECK(v.reason == "correct");
  CHECK(v.extracted == "\\frac{1}{2}");
  v = reward::check_math("<think>\\boxed{7}</think>I am not sure.", "7");
  CHECK(v.score == 0.0);
  CHECK(v.reason == "no_answer");
  CHECK(v.extracted.empty());
  v = reward::check_math("</think>\\boxed{8}", "\\boxed{7}");
  CHECK(v.reason == "wrong");
  CHECK(v.extracted == "8");
  v = reward::check_math("</think>\\boxed{\\frac{}", "7");
  CHECK(v.reason != "correct");
  v = reward::check_math("</think>The answer is \\boxed{}", "7");
  CHECK(v.reason == "no_answer");
  // The reference may itself be LaTeX with a box and dollar signs.
  v = reward::check_math("</think>\\boxed{x=2}", "$\\boxed{2}$");
  CHECK(v.reason == "correct");
}

TEST_CASE("[reward.math] keys load and set the tolerance the checker uses", "[math]") {
  using Catch::Matchers::Contains;
  config::Schema schema;
  config::MathRewardConfig c;
  config::describe_math_reward(schema, c);
  schema.load({{"reward.math.rel_tol", "0.01", "r.ini:2"},
               {"reward.math.max_answer_chars", "50", "r.ini:3"}});
  CHECK(c.rel_tol == 0.01);
  CHECK(c.max_answer_chars == 50);
  reward::MathCheckOptions loose{c.rel_tol, static_cast<size_t>(c.max_answer_chars)};
  // 0.667 is within 1% of 2/3 but not within the default 1e-6.
  CHECK(reward::compare_math_answers("\\frac{2}{3}", "0.667", loose) == "correct");
  CHECK(reward::compare_math_answers("\\frac{2}{3}", "0.667") == "wrong");
  CHECK(reward::compare_math_answers("1", std::string(60, '1'), loose) == "unparsable");
  config::Schema again;
  config::MathRewardConfig d;
  config::describe_math_reward(again, d);
  CHECK(d.rel_tol == 1e-6);
  CHECK_THROWS_WITH(again.load({{"reward.math.rel_tol", "-1", "r.ini:7"}}),
                    Contains("r.ini:7") && Contains("reward.math.rel_tol"));
}
