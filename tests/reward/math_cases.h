// defines: load_math_cases: the rows of tests/reward/math_cases.tsv (reference, candidate,
// expected verdict, note, math-verify convention id), shared by the table test, the math-verify
// comparison, the fuzz seeds and the benchmark.
#pragma once

#include <fstream>
#include <string>
#include <vector>

#include "support/process.h"

namespace acerl::test {

struct MathCase {
  int line = 0;
  std::string reference, candidate, expected, note;
  std::string math_verify;  // "mv:<id>" where math-verify disagrees, else empty
};

inline std::vector<MathCase> load_math_cases() {
  std::ifstream in(source_path("tests/reward/math_cases.tsv"));
  std::vector<MathCase> cases;
  std::string row;
  for (int line = 1; std::getline(in, row); ++line) {
    if (row.empty() || row[0] == '#') continue;
    std::vector<std::string> fields;
    size_t start = 0;
    for (size_t tab; (tab = row.find('\t', start)) != std::string::npos; start = tab + 1)
      fields.push_back(row.substr(start, tab - start));
    fields.push_back(row.substr(start));
    fields.resize(5);
    cases.push_back({line, fields[0], fields[1], fields[2], fields[3], fields[4]});
  }
  return cases;
}

}  // namespace acerl::test
