// `acerl data tokenize`: the acerl binary turns text into the ids HF tokenizers gives, per whole
// input or per line, and --decode turns them back into the same text; usage errors are clear.
#include "support/catch.h"

#include <fstream>
#include <sstream>

#include "io/json.h"
#include "support/process.h"
#include "tokenizer/hf_reference.h"

using namespace acerl;
using namespace acerl::test;
using Catch::Matchers::Contains;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("acerl data tokenize: text -> ids -> text, whole input and per line", "[tokenizer]") {
  const std::string dir = scratch_dir("data_tokenize");
  const std::string tok = quote(qwen_tokenizer_path());
  // The text ends in "\n" and has one inside a line's worth of chat markup.
  const std::string text =
      "Hello world! It's 2024.\n\n<|im_start|>user\n\u4eca\u5929 caf\u00e9 \U0001F600\n";
  const std::vector<std::string> per_line = {"Hello world! It's 2024.", "", "<|im_start|>user",
                                             "\u4eca\u5929 caf\u00e9 \U0001F600"};
  std::ofstream(dir + "/text.txt", std::ios::binary) << text;
  std::vector<std::string> texts = {text};
  texts.insert(texts.end(), per_line.begin(), per_line.end());
  json::Value request;
  request.set("encode", json_strings(texts));
  const json::Array ref = hf_reference(qwen_tokenizer_path(), request).at("encode").as_array();

  // Whole input from stdin: one array.
  auto r = run_process(quote(ACERL_EXE) + " data tokenize --tokenizer " + tok + " < " +
                       quote(dir + "/text.txt"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(ids_of(json::parse(r.out, "stdout")) == ids_of(ref[0]));
  std::ofstream(dir + "/ids.json", std::ios::binary) << r.out;

  // --decode gives the text back byte for byte.
  r = run_process(quote(ACERL_EXE) + " data tokenize --decode --tokenizer " + tok + " --input " +
                  quote(dir + "/ids.json") + " --output " + quote(dir + "/back.txt"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(slurp(dir + "/back.txt") == text);

  // --lines: one array per line, and back.
  r = run_process(quote(ACERL_EXE) + " data tokenize --lines --tokenizer " + tok + " --input " +
                  quote(dir + "/text.txt") + " --output " + quote(dir + "/lines.jsonl"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string out = slurp(dir + "/lines.jsonl");
  std::istringstream in(out);
  std::string line;
  size_t n = 0;
  for (; std::getline(in, line); ++n) {
    REQUIRE(n < per_line.size());
    CHECK(ids_of(json::parse(line, "line")) == ids_of(ref[n + 1]));
  }
  CHECK(n == per_line.size());
  r = run_process(quote(ACERL_EXE) + " data tokenize --decode --lines --tokenizer " + tok + " < " +
                  quote(dir + "/lines.jsonl"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == text);
}

TEST_CASE("acerl data tokenize reports usage errors", "[tokenizer]") {
  const std::string dir = scratch_dir("data_tokenize_errors");
  auto r = run_process("echo hi | " + quote(ACERL_EXE) + " data tokenize");
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("--tokenizer FILE"));
  r = run_process("echo hi | " + quote(ACERL_EXE) + " data tokenize --tokenizer " +
                  quote(dir + "/nope.json"));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains(dir + "/nope.json"));
  r = run_process("echo '[1, 2, \"x\"]' | " + quote(ACERL_EXE) +
                  " data tokenize --decode --tokenizer " + quote(qwen_tokenizer_path()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("token ids must be integers"));
  r = run_process("printf '[1, 2]\\n[3,' | " + quote(ACERL_EXE) +
                  " data tokenize --decode --lines --tokenizer " + quote(qwen_tokenizer_path()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("<stdin>:2"));
  r = run_process("printf 'ab\\377' | " + quote(ACERL_EXE) + " data tokenize --tokenizer " +
                  quote(qwen_tokenizer_path()));
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Contains("not valid UTF-8"));
}
