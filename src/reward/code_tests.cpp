// Test-case parsing and output comparison for the code reward; see code_tests.h.
#include "reward/code_tests.h"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "runtime/error.h"

namespace acerl::reward {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [+-]?[0-9]+
bool is_integer_literal(std::string_view t) {
  size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
  if (i == t.size()) return false;
  for (; i < t.size(); ++i)
    if (!is_digit(t[i])) return false;
  return true;
}

// [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?  -- no inf, nan or hex, unlike strtod.
bool is_decimal_literal(std::string_view t) {
  size_t i = (!t.empty() && (t[0] == '+' || t[0] == '-')) ? 1 : 0;
  size_t digits = 0;
  while (i < t.size() && is_digit(t[i])) ++i, ++digits;
  if (i < t.size() && t[i] == '.') {
    ++i;
    while (i < t.size() && is_digit(t[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < t.size() && is_digit(t[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == t.size();
}

// Sign and magnitude without leading zeros, so equal integers compare equal as text.
std::string canonical_integer(std::string_view t) {
  bool negative = t[0] == '-';
  if (t[0] == '+' || t[0] == '-') t.remove_prefix(1);
  size_t nz = t.find_first_not_of('0');
  if (nz == std::string_view::npos) return "0";
  return (negative ? "-" : "") + std::string(t.substr(nz));
}

bool numbers_close(double a, double e, Tolerance tol) {
  if (!std::isfinite(a) || !std::isfinite(e)) return a == e;
  double diff = std::fabs(a - e);
  return diff <= tol.abs || diff <= tol.rel * std::fabs(e);
}

bool tokens_match(std::string_view a, std::string_view e, Tolerance tol) {
  if (a == e) return true;
  if (is_integer_literal(a) && is_integer_literal(e))
    return canonical_integer(a) == canonical_integer(e);
  if (!is_decimal_literal(a) || !is_decimal_literal(e)) return false;
  return numbers_close(std::strtod(std::string(a).c_str(), nullptr),
                       std::strtod(std::string(e).c_str(), nullptr), tol);
}

std::vector<std::string_view> split_tokens(std::string_view s) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t start = i;
    while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i > start) tokens.push_back(s.substr(start, i - start));
  }
  return tokens;
}

const json::Value& member(const json::Value& test, const char* key, const std::string& where) {
  const json::Value* v = test.find(key);
  ACERL_USAGE_CHECK(v, where, ": missing \"", key, "\"");
  return *v;
}

const std::string& string_member(const json::Value& test, const char* key,
                                 const std::string& where) {
  const json::Value& v = member(test, key, where);
  ACERL_USAGE_CHECK(v.is_string(), where, ": \"", key, "\" must be a string, found ",
                    json::Value::type_name(v.type()));
  return v.as_string();
}

CodeTest call_test(std::string fn_name, json::Value args, json::Value expected,
                   const std::string& where) {
  ACERL_USAGE_CHECK(!fn_name.empty(), where, ": \"fn_name\" is empty");
  ACERL_USAGE_CHECK(args.is_array() || args.is_object(), where,
                    ": \"args\" must be an array (positional) or an object (keywords), found ",
                    json::Value::type_name(args.type()));
  CodeTest t;
  t.kind = CodeTest::Kind::call;
  t.fn_name = std::move(fn_name);
  t.args = std::move(args);
  t.expected = std::move(expected);
  return t;
}

CodeTest test_from_object(const json::Value& test, const std::string& where) {
  ACERL_USAGE_CHECK(test.is_object(), where, ": a test must be an object, found ",
                    json::Value::type_name(test.type()));
  if (test.find("fn_name")) {
    return call_test(string_member(test, "fn_name", where), member(test, "args", where),
                     member(test, "expected", where), where);
  }
  ACERL_USAGE_CHECK(test.find("input") || test.find("output"), where,
                    ": expected {\"input\", \"output\"} or {\"fn_name\", \"args\", \"expected\"}");
  CodeTest t;
  t.input = string_member(test, "input", where);
  t.output = string_member(test, "output", where);
  return t;
}

std::vector<CodeTest> tests_from_columns(const json::Value& tests, const std::string& source) {
  const json::Value& inputs = member(tests, "inputs", source);
  const json::Value& outputs = member(tests, "outputs", source);
  ACERL_USAGE_CHECK(inputs.is_array() && outputs.is_array(), source,
                    ": \"inputs\" and \"outputs\" must be arrays");
  ACERL_USAGE_CHECK(inputs.as_array().size() == outputs.as_array().size(), source, ": ",
                    inputs.as_array().size(), " inputs but ", outputs.as_array().size(),
                    " outputs");
  const json::Value* fn = tests.find("fn_name");
  std::vector<CodeTest> out;
  for (size_t i = 0; i < inputs.as_array().size(); ++i) {
    std::string where = str(source, ": test ", i);
    const json::Value& in = inputs.as_array()[i];
    const json::Value& expected = outputs.as_array()[i];
    if (fn) {
      ACERL_USAGE_CHECK(fn->is_string(), source, ": \"fn_name\" must be a string");
      out.push_back(call_test(fn->as_string(), in, expected, where));
      continue;
    }
    ACERL_USAGE_CHECK(in.is_string() && expected.is_string(), where,
                      ": stdin/stdout tests need string inputs and outputs");
    CodeTest t;
    t.input = in.as_string();
    t.output = expected.as_string();
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace

std::vector<CodeTest> parse_code_tests(const json::Value& tests, const std::string& source) {
  if (tests.is_string()) return parse_code_tests(std::string_view(tests.as_string()), source);
  std::vector<CodeTest> out;
  if (tests.is_array()) {
    for (size_t i = 0; i < tests.as_array().size(); ++i)
      out.push_back(test_from_object(tests.as_array()[i], str(source, ": test ", i)));
  } else if (tests.is_object()) {
    out = tests_from_columns(tests, source);
  } else {
    throw UsageError(str(source, ": tests must be an array of test objects or an object with ",
                         "\"inputs\" and \"outputs\", found ",
                         json::Value::type_name(tests.type())));
  }
  ACERL_USAGE_CHECK(!out.empty(), source, ": no test cases");
  return out;
}

std::vector<CodeTest> parse_code_tests(std::string_view json_text, const std::string& source) {
  return parse_code_tests(json::parse(json_text, source), source);
}

bool stdout_matches(std::string_view actual, std::string_view expected, Tolerance tol) {
  std::vector<std::string_view> a = split_tokens(actual), e = split_tokens(expected);
  if (a.size() != e.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (!tokens_match(a[i], e[i], tol)) return false;
  return true;
}

bool json_matches(const json::Value& actual, const json::Value& expected, Tolerance tol) {
  using Type = json::Value::Type;
  if (actual.type() != expected.type()) return false;
  switch (expected.type()) {
    case Type::null:
      return true;
    case Type::boolean:
      return actual.as_bool() == expected.as_bool();
    case Type::string:
      return actual.as_string() == expected.as_string();
    case Type::number:
      if (actual.is_int() && expected.is_int()) return actual.as_int() == expected.as_int();
      return numbers_close(actual.as_number(), expected.as_number(), tol);
    case Type::array: {
      const json::Array &a = actual.as_array(), &e = expected.as_array();
      if (a.size() != e.size()) return false;
      for (size_t i = 0; i < a.size(); ++i)
        if (!json_matches(a[i], e[i], tol)) return false;
      return true;
    }
    case Type::object: {
      const json::Object &a = actual.as_object(), &e = expected.as_object();
      if (a.size() != e.size()) return false;
      for (const auto& [key, value] : e) {
        const json::Value* other = actual.find(key);
        if (!other || !json_matches(*other, value, tol)) return false;
      }
      return true;
    }
  }
  return false;
}

std::string call_request(const CodeTest& test) {
  json::Value request;
  request.set("fn_name", test.fn_name);
  request.set("args", test.args);
  return json::dump(request);
}

std::string excerpt(std::string_view text, size_t max_chars) {
  std::string out;
  for (char c : text) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace acerl::reward
