// Safety of the math checker: random and adversarial inputs (fixed seed) never throw or crash and
// each call returns within a generous time bound (a safety bound, not a speed measurement).
#include "support/catch.h"

#include <chrono>
#include <random>

#include "math_cases.h"
#include "reward/math_answer.h"

using namespace acerl;

namespace {

constexpr double kBoundSeconds = 1.0;

// Checks one (response, reference) pair: a verdict from the documented set, within the bound.
void check_safe(const std::string& response, const std::string& reference, double* worst) {
  auto start = std::chrono::steady_clock::now();
  reward::MathVerdict v = reward::check_math(response, reference);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *worst = std::max(*worst, s);
  INFO("response of " << response.size() << " bytes: " << response.substr(0, 80));
  CHECK(s < kBoundSeconds);
  CHECK((v.reason == "correct" || v.reason == "wrong" || v.reason == "no_answer" ||
         v.reason == "unparsable"));
  CHECK((v.score == 0.0 || v.score == 1.0));
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("adversarial answers are safe and bounded", "[math]") {
  double worst = 0;
  std::vector<std::string> answers = {repeat("{", 5000) + "1" + repeat("}", 5000),
                                      repeat("(", 3000) + "1" + repeat(")", 3000),
                                      repeat("\\frac{", 500) + "1" + repeat("}{2}", 500),
                                      repeat("\\sqrt{", 1000) + "2" + repeat("}", 1000),
                                      "10^{10^{10}}",
                                      "10^{10^{10^{10}}}",
                                      "1e308*1e308",
                                      "1e308^{1e308}",
                                      "(1e308)!",
                                      "170!",
                                      "171!",
                                      "10000000!",
                                      "2^{2^{2^{2^{2}}}}",
                                      "\\binom{10^{18}}{10^{9}}",
                                      "0^{-1}",
                                      "\\frac{1}{0}",
                                      "\\ln 0",
                                      "\\tan\\frac{\\pi}{2}",
                                      repeat("9", 5000),
                                      "9" + repeat("0", 1900),
                                      repeat("x", 1500),
                                      repeat("x+", 900) + "x",
                                      repeat("1,", 900) + "1",
                                      repeat("\\pm 1", 300),
                                      repeat("[1,2)\\cup", 200) + "[3,4]",
                                      repeat("x=", 500) + "1",
                                      repeat("1<", 500) + "2",
                                      "\\begin{pmatrix}" + repeat("1&", 500) + "1\\end{pmatrix}",
                                      repeat("\\left(", 800),
                                      "\\frac{",
                                      "}}}}{{{{",
                                      "\\",
                                      "\\boxed",
                                      "$$$$",
                                      "\\text{",
                                      "^^^^",
                                      "____",
                                      "\\sqrt[",
                                      "1/0/0/0",
                                      "x^{x^{x^{x^{x^{x}}}}}",
                                      "\\gcd(0,0)",
                                      "\\sin^{1e9} x",
                                      std::string("\xff\xfe\x80\xc3(\xe2\x82", 8),
                                      std::string(300, '\0')};
  for (const auto& a : answers) {
    check_safe("</think>\\boxed{" + a + "}", "1", &worst);
    check_safe("</think>\\boxed{1}", a, &worst);
    check_safe("</think>\\boxed{" + a + "}", a, &worst);
  }
  // A 100 KB response with a think section and a box at the end, and one made of boxes.
  check_safe("<think>" + repeat("Let me compute 3 * 4 = 12. ", 4000) + "</think>\\boxed{12}", "12",
             &worst);
  check_safe(repeat("\\boxed{1}", 12000), "1", &worst);
  check_safe(repeat("{", 100000), "1", &worst);
  WARN("slowest adversarial call: " << worst * 1e3 << " ms");
}

TEST_CASE("random byte strings and mutated table answers are safe and bounded", "[math]") {
  std::mt19937_64 rng(20250611);
  std::vector<test::MathCase> cases = test::load_math_cases();
  REQUIRE(!cases.empty());
  const std::string alphabet = "0123456789+-*/^_{}()[]\\,.=<>|!%$&xyzepi \n\t";
  const std::vector<std::string> pieces = {
      "\\frac",  "\\sqrt",           "\\boxed", "\\left(", "\\right)", "\\pm", "\\cup",   "\\infty",
      "\\text{", "\\begin{pmatrix}", "\\\\",    "&",       "10^{",     "e308", "</think>"};
  double worst = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    int kind = round % 3;
    size_t length = std::uniform_int_distribution<size_t>(0, round % 50 == 0 ? 20000 : 200)(rng);
    if (kind == 0) {  // raw bytes, invalid UTF-8 included
      for (size_t i = 0; i < length; ++i) s += static_cast<char>(rng() & 0xff);
    } else if (kind == 1) {  // LaTeX-ish soup
      while (s.size() < length) {
        if (rng() % 4 == 0)
          s += pieces[rng() % pieces.size()];
        else
          s += alphabet[rng() % alphabet.size()];
      }
    } else {  // a table answer with a few characters deleted, duplicated or replaced
      s = cases[rng() % cases.size()].candidate;
      for (int m = 0; m < 3 && !s.empty(); ++m) {
        size_t at = rng() % s.size();
        int op = static_cast<int>(rng() % 3);
        if (op == 0)
          s.erase(at, 1);
        else if (op == 1)
          s.insert(at, s.substr(at, 1 + rng() % 4));
        else
          s[at] = alphabet[rng() % alphabet.size()];
      }
    }
    const std::string& reference = cases[rng() % cases.size()].reference;
    check_safe("</think>\\boxed{" + s + "}", reference, &worst);
    check_safe(s, reference, &worst);
    check_safe("</think>\\boxed{1}", s, &worst);
  }
  WARN("slowest random call: " << worst * 1e3 << " ms");
}
