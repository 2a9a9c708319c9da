// Prompt files of rl and eval: a record whose reward could not score it is refused at load,
// naming file:line and what is missing, or skipped and counted with data.skip_bad_lines.
#include "support/catch.h"

#include <fstream>

#include "data/prompt_dataset.h"
#include "runtime/error.h"
#include "support/process.h"

using namespace acerl;
using Catch::Matchers::Contains;

namespace {

std::string write(const std::string& name, const std::string& text) {
  std::string path = test::scratch_dir("prompt_data_" + name) + "/prompts.jsonl";
  std::ofstream(path) << text;
  return path;
}

}  // namespace

TEST_CASE("a code test without its expected output is refused at load with file:line", "[data]") {
  const std::string good =
      R"({"id": "a", "type": "code", "prompt": "p", "tests": [{"input": "1\n", "output": "1\n"}]})";
  const std::string no_output =
      R"({"id": "b", "type": "code", "prompt": "p", "tests": [{"input": "1\n", "output": "1\n"}, {"input": "2\n"}]})";
  const std::string no_expected =
      R"({"id": "c", "type": "code", "prompt": "p", "tests": [{"fn_name": "f", "args": [1]}]})";
  const std::string path = write("code", good + "\n" + no_output + "\n" + no_expected + "\n");
  CHECK_THROWS_WITH(data::load_prompts(path, false, true),
                    Contains(path + ":2 \"tests\": test 1: missing \"output\""));
  // Skipped like any bad line: only the good record is left.
  const auto kept = data::load_prompts(path, true, true);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].id == "a");
  const std::string call_path = write("call", good + "\n" + no_expected + "\n");
  CHECK_THROWS_WITH(data::load_prompts(call_path, false, true),
                    Contains(call_path + ":2 \"tests\": test 0: missing \"expected\""));
  // Generation needs no reference: the same file loads for `acerl generate`.
  CHECK(data::load_prompts(path, false, false).size() == 3);
}
