// JSON: values, escapes and numbers checked against Python's json module; error positions.
#include "support/catch.h"

#include <fstream>

#include "io/json.h"
#include "runtime/error.h"
#include "support/process.h"

using namespace acerl;
using Catch::Matchers::Contains;

TEST_CASE("parse and dump agree with Python's json module", "[json]") {
  const std::string doc =
      R"({"a": [1, -2, 3.5, 1e-7, 12345678901234567, -0.0, 1E+300], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",)"
      R"( "n": null, "t": true, "f": false, "o": {"nested": {"x": []}}, "u": "héllo 世界"})";
  json::Value v = json::parse(doc, "doc");
  CHECK(v.at("a").as_array()[0].as_int() == 1);
  CHECK(v.at("a").as_array()[4].as_int() == 12345678901234567);
  CHECK(v.at("a").as_array()[2].as_number() == 3.5);
  CHECK(v.at("s").as_string() == "q\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
  CHECK(v.at("n").is_null());
  CHECK(v.at("t").as_bool());
  std::string dir = test::scratch_dir("json");
  std::ofstream(dir + "/original.json") << doc;
  std::ofstream(dir + "/dumped.json") << json::dump(v);
  auto py = test::run_python("-c \"import json; a = json.load(open('" + dir + "/original.json')); b = json.load(open('" +
                             dir + "/dumped.json')); print(a == b)\"");
  INFO(py.err);
  CHECK(py.out == "True\n");
}

TEST_CASE("JSON errors give source, line and column", "[json]") {
  CHECK_THROWS_WITH(json::parse("{\"a\": 1,\n \"b\" 2}", "f.json"), Contains("f.json:2:6") && Contains("':'"));
  CHECK_THROWS_WITH(json::parse("[1, 2", "x"), Contains("x:1:6"));
  CHECK_THROWS_WITH(json::parse("\"abc", "x"), Contains("unterminated string"));
  CHECK_THROWS_WITH(json::parse("{} x", "x"), Contains("after the JSON value"));
  CHECK_THROWS_WITH(json::parse(std::string(10000, '['), "deep"), Contains("nesting"));
  CHECK_THROWS_WITH(json::parse("{}", "x").at("missing"), Contains("missing key \"missing\""));
  CHECK_THROWS_WITH(json::parse("[1]", "x").as_string(), Contains("expected a JSON string, found array"));
}

TEST_CASE("building values and dumping compact JSON", "[json]") {
  json::Value v;
  v.set("id", "p1");
  v.set("score", 1.0);
  v.set("n", int64_t(3));
  json::Value list;
  list.push_back(0.25);
  list.push_back(nullptr);
  v.set("xs", list);
  CHECK(json::dump(v) == R"({"id":"p1","score":1,"n":3,"xs":[0.25,null]})");
  CHECK(json::quote("a\x01") == "\"a\\u0001\"");
}
