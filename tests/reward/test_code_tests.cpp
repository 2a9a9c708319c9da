// Code reward test cases: the JSON forms they come in, and how outputs are compared.
#include "support/catch.h"

#include "io/json.h"
#include "reward/code_tests.h"
#include "runtime/error.h"

using namespace acerl;
using namespace acerl::reward;
using Catch::Matchers::Contains;

TEST_CASE("test lists: stdin/stdout and function-call objects", "[code]") {
  auto tests = parse_code_tests(std::string_view(R"([{"input": "1 2\n", "output": "3\n"},
                           {"fn_name": "add", "args": [1, 2], "expected": 3},
                           {"fn_name": "add", "args": {"a": 1, "b": 2}, "expected": 3.0}])"),
                                "p1");
  REQUIRE(tests.size() == 3);
  CHECK(tests[0].kind == CodeTest::Kind::stdio);
  CHECK(tests[0].input == "1 2\n");
  CHECK(tests[0].output == "3\n");
  CHECK(tests[1].kind == CodeTest::Kind::call);
  CHECK(tests[1].fn_name == "add");
  CHECK(json::dump(tests[1].args) == "[1,2]");
  CHECK(tests[2].args.is_object());
  // The request the harness reads carries the call but never the expected value.
  CHECK(call_request(tests[1]) == R"({"fn_name":"add","args":[1,2]})");
}

TEST_CASE("APPS-style columns and tests stored as a JSON string", "[code]") {
  auto stdio = parse_code_tests(
      json::Value(std::string(R"({"inputs": ["5\n", "7\n"], "outputs": ["25\n", "49\n"]})")), "s");
  REQUIRE(stdio.size() == 2);
  CHECK(stdio[1].input == "7\n");
  CHECK(stdio[1].output == "49\n");
  auto call = parse_code_tests(
      std::string_view(R"({"fn_name": "sq", "inputs": [[2], [3]], "outputs": [4, 9]})"), "c");
  REQUIRE(call.size() == 2);
  CHECK(call[0].kind == CodeTest::Kind::call);
  CHECK(json::dump(call[1].args) == "[3]");
  CHECK(call[1].expected.as_int() == 9);
}

TEST_CASE("bad tests name the source, the test and the problem", "[code]") {
  CHECK_THROWS_WITH(parse_code_tests(std::string_view("[]"), "p"), Contains("p: no test cases"));
  CHECK_THROWS_WITH(parse_code_tests(std::string_view(R"([{"input": "1"}])"), "p"),
                    Contains("p: test 0: missing \"output\""));
  CHECK_THROWS_WITH(parse_code_tests(std::string_view(R"([{"input": 1, "output": "2"}])"), "p"),
                    Contains("\"input\" must be a string"));
  CHECK_THROWS_WITH(
      parse_code_tests(std::string_view(R"([{"fn_name": "f", "args": 3, "expected": 1}])"), "p"),
      Contains("\"args\" must be an array"));
  CHECK_THROWS_WITH(parse_code_tests(std::string_view(R"({"inputs": [], "outputs": ["1"]})"), "p"),
                    Contains("0 inputs but 1 outputs"));
  CHECK_THROWS_WITH(parse_code_tests(std::string_view("[1, 2"), "p"), Contains("p:1:6"));
  CHECK_THROWS_AS(parse_code_tests(json::Value(3), "p"), UsageError);
}

TEST_CASE("stdout comparison is token-wise", "[code]") {
  CHECK(stdout_matches("1 2 3\n", "1 2 3"));
  CHECK(stdout_matches("1\n2\n3\n\n", "1 2   3"));
  CHECK(stdout_matches("  YES  \r\n", "YES"));
  CHECK_FALSE(stdout_matches("yes", "YES"));
  CHECK_FALSE(stdout_matches("1 2", "1 2 3"));
  CHECK_FALSE(stdout_matches("", "0"));
  CHECK(stdout_matches("", "\n"));
  CHECK_FALSE(stdout_matches("12", "1 2"));
}

TEST_CASE("integers compare exactly at any size, decimals within 1e-6", "[code]") {
  CHECK(stdout_matches("007 +5 -0", "7 5 0"));
  // 2^64 + 1 vs 2^64: equal as doubles, but different integers.
  CHECK_FALSE(stdout_matches("18446744073709551617", "18446744073709551616"));
  CHECK(stdout_matches("123456789012345678901234567890", "123456789012345678901234567890"));
  CHECK(stdout_matches("0.3333333", "0.333333333333"));   // |diff| = 3.3e-8
  CHECK(stdout_matches("3.0000005", "3"));                // |diff| = 5e-7 <= 1e-6
  CHECK_FALSE(stdout_matches("3.00001", "3"));            // 1e-5
  CHECK(stdout_matches("1000000.5", "1000000.0"));        // rel: 0.5 <= 1e-6 * 1e6 = 1
  CHECK_FALSE(stdout_matches("1000002.5", "1000000.0"));  // rel: 2.5 > 1
  CHECK(stdout_matches("1e-9", "0"));
  CHECK(stdout_matches("2.5E+3", "2500.0000001"));
  CHECK_FALSE(stdout_matches("inf", "1e400"));
  CHECK_FALSE(stdout_matches("nan", "nan0"));
  CHECK_FALSE(stdout_matches("0x10", "16"));
  CHECK_FALSE(stdout_matches("1.5", "1.5x"));
  CHECK(stdout_matches("0.5 a 2", "0.5000000001 a 2.0"));
}

TEST_CASE("JSON results: structure exact, numbers with tolerance, bool is not a number", "[code]") {
  auto j = [](const char* text) { return json::parse(text, "t"); };
  CHECK(json_matches(j("[1, [2, 3], {\"a\": null}]"), j("[1, [2, 3], {\"a\": null}]")));
  CHECK(json_matches(j("{\"b\": 1, \"a\": 2}"), j("{\"a\": 2, \"b\": 1}")));
  CHECK_FALSE(json_matches(j("{\"a\": 2}"), j("{\"a\": 2, \"b\": 1}")));
  CHECK(json_matches(j("0.30000000000000004"), j("0.3")));
  CHECK(json_matches(j("2.0000001"), j("2")));
  CHECK_FALSE(json_matches(j("2.001"), j("2")));
  CHECK_FALSE(json_matches(j("3"), j("4")));
  CHECK_FALSE(json_matches(j("true"), j("1")));
  CHECK_FALSE(json_matches(j("\"1\""), j("1")));
  CHECK_FALSE(json_matches(j("[1, 2]"), j("[2, 1]")));
  CHECK_FALSE(json_matches(j("[1]"), j("[1, 1]")));
  CHECK(json_matches(j("null"), j("null")));
}

TEST_CASE("excerpt shortens and shows newlines", "[code]") {
  CHECK(excerpt("a\nb", 10) == "a\\nb");
  CHECK(excerpt(std::string(100, 'x'), 5) == "xxxxx...");
}
