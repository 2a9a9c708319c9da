// The case table against Hugging Face math-verify (run from the venv): every row where the two
// checkers disagree must carry a documented convention id (math_conventions.md, "mv:<id>"), and
// no row may carry one where they agree, so the documented set stays exactly true.
#include "support/catch.h"

#include <fstream>
#include <sstream>

#include "math_cases.h"
#include "reward/math_answer.h"

using namespace acerl;

TEST_CASE("disagreements with math-verify are exactly the documented conventions", "[math]") {
  std::vector<test::MathCase> cases = test::load_math_cases();
  auto py =
      test::run_python(test::quote(test::source_path("tests/reward/math_verify_table.py")), 600);
  INFO(py.err);
  REQUIRE(py.exit_code == 0);
  std::istringstream lines(py.out);
  std::vector<std::string> theirs;
  for (std::string line; std::getline(lines, line);) theirs.push_back(line);
  REQUIRE(theirs.size() == cases.size());

  std::ifstream doc_file(test::source_path("tests/reward/math_conventions.md"));
  std::stringstream doc;
  doc << doc_file.rdbuf();

  std::ostringstream problems;
  int disagreements = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    bool ours = reward::compare_math_answers(c.reference, c.candidate) == "correct";
    bool mv = theirs[i] == "1";
    std::string where = "math_cases.tsv:" + std::to_string(c.line) + ": [" + c.reference +
                        "] vs [" + c.candidate + "]: ";
    if (ours != mv) {
      ++disagreements;
      if (c.math_verify.empty())
        problems << where << "NEW disagreement (ours " << ours << ", math-verify " << theirs[i]
                 << "): fix it or document it\n";
      else if (doc.str().find("### " + c.math_verify) == std::string::npos)
        problems << where << c.math_verify << " is not a section of math_conventions.md\n";
    } else if (!c.math_verify.empty()) {
      problems << where << "listed as " << c.math_verify << " but the checkers now agree\n";
    }
  }
  INFO(problems.str());
  CHECK(problems.str().empty());
  WARN(disagreements << " documented disagreements with math-verify out of " << cases.size());
}
