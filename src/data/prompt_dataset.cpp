// Prompt records; see prompt_dataset.h.
#include "data/prompt_dataset.h"

#include <set>

#include "data/jsonl.h"
#include "reward/code_tests.h"
#include "runtime/error.h"

namespace acerl::data {

std::vector<PromptRecord> load_prompts(const std::string& path, bool skip_bad_lines,
                                       bool require_reference) {
  std::vector<PromptRecord> out;
  std::set<std::string> ids;
  read_jsonl(path, skip_bad_lines, [&](const json::Value& v, const std::string& where) {
    PromptRecord r;
    r.where = where;
    const json::Value* prompt = v.find("prompt");
    ACERL_USAGE_CHECK(prompt && prompt->is_string(), where, ": \"prompt\" (a string) is required");
    r.prompt = prompt->as_string();
    if (const json::Value* id = v.find("id")) {
      ACERL_USAGE_CHECK(id->is_string() || id->is_int(), where,
                        ": \"id\" must be a string or an integer");
      r.id = id->is_string() ? id->as_string() : std::to_string(id->as_int());
    } else {
      ACERL_USAGE_CHECK(!require_reference, where, ": \"id\" is required");
      r.id = where;
    }
    const json::Value* type = v.find("type");
    if (type) {
      ACERL_USAGE_CHECK(type->is_string(), where,
                        ": \"type\" must be \"math\", \"code\" or \"plain\"");
      r.type = type->as_string();
      r.kind = tokenizer::parse_task_kind(r.type, where + " \"type\"");
    } else {
      ACERL_USAGE_CHECK(!require_reference, where, ": \"type\" (\"math\" or \"code\") is required");
      r.type = "plain";
    }
    if (const json::Value* answer = v.find("answer")) r.answer = *answer;
    if (const json::Value* tests = v.find("tests")) {
      ACERL_USAGE_CHECK(tests->is_array() && !tests->as_array().empty(), where,
                        ": \"tests\" must be a non-empty array of test cases");
      r.tests = *tests;
    }
    if (require_reference) {
      if (r.kind == tokenizer::TaskKind::math)
        ACERL_USAGE_CHECK(r.answer.is_string() || r.answer.is_number(), where,
                          ": a math record needs \"answer\" (a string or a number)");
      if (r.kind == tokenizer::TaskKind::code) {
        ACERL_USAGE_CHECK(!r.tests.is_null(), where, ": a code record needs \"tests\"");
        // Each test parsed now, so a malformed one is named by its line before any rollout.
        reward::parse_code_tests(r.tests, where + " \"tests\"");
      }
      ACERL_USAGE_CHECK(
          r.kind != tokenizer::TaskKind::plain, where,
          ": \"type\" must be \"math\" or \"code\" (a reward must be able to score it)");
    }
    ACERL_USAGE_CHECK(ids.insert(r.id).second, where, ": id \"", r.id, "\" appears twice");
    out.push_back(std::move(r));
  });
  ACERL_USAGE_CHECK(!out.empty(), "no usable prompt records in '", path, "'");
  return out;
}

}  // namespace acerl::data
