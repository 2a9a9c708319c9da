// defines: CodeTest (one test case of a coding problem), parse_code_tests (the JSON forms data
// sets use), and the output comparisons: stdout_matches (token-wise, numbers with a tolerance)
// and json_matches (a function's JSON result). Sits between the problem record and the sandbox.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/json.h"

namespace acerl::reward {

struct CodeTest {
  enum class Kind { stdio, call };
  Kind kind = Kind::stdio;
  // stdio: the program reads `input` on stdin and must print `output`.
  std::string input, output;
  // call: `fn_name(*args)` (or `Solution().fn_name(*args)`) must return `expected`; an object
  // `args` is passed as keyword arguments.
  std::string fn_name;
  json::Value args, expected;
};

// Accepted forms (`source` names the data in errors):
//   [{"input": "1 2\n", "output": "3\n"}, {"fn_name": "f", "args": [1, 2], "expected": 3}, ...]
//   {"inputs": [...], "outputs": [...], "fn_name": "f"}   (APPS/TACO layout; without fn_name the
//                                                          entries are stdin/stdout strings)
// and either of them as a JSON string holding that text (how JSONL records often carry tests).
// Throws UsageError naming source, test index and what is wrong; an empty list is an error.
std::vector<CodeTest> parse_code_tests(const json::Value& tests, const std::string& source);
std::vector<CodeTest> parse_code_tests(std::string_view json_text, const std::string& source);

// The numeric tolerance of both comparisons: numbers a (actual) and e (expected) match when
// |a - e| <= abs or |a - e| <= rel * |e|.
struct Tolerance {
  double abs = 1e-6;
  double rel = 1e-6;
};

// Whitespace-separated tokens must match one for one (so trailing spaces, blank lines and line
// breaks do not matter). Two tokens match when they are the same text; when both are integer
// literals, when they denote the same integer ("007" = "7", "+5" = "5", exact at any size); when
// both are decimal numbers and at least one has a fraction or exponent, when they are within the
// tolerance. Words never match numbers ("inf", "nan", "0x1F" are words) and case matters.
bool stdout_matches(std::string_view actual, std::string_view expected, Tolerance tol = {});

// Structural equality: arrays element-wise, objects by key regardless of order, strings/bools/
// null exactly; numbers exactly when both are integers, else within the tolerance. A bool never
// equals a number (Python's True == 1 does not carry over).
bool json_matches(const json::Value& actual, const json::Value& expected, Tolerance tol = {});

// What the sandbox's function-call harness reads on stdin for a call test:
// {"fn_name": ..., "args": ...}. The expected value never enters the sandbox.
std::string call_request(const CodeTest& test);

// A short human-readable rendering of `text` for verdict details: at most `max_chars`
// characters, newlines shown as \n.
std::string excerpt(std::string_view text, size_t max_chars = 80);

}  // namespace acerl::reward
