// defines: PromptRecord and load_prompts, the prompt files of generate, rl and eval:
// JSONL records {"id", "type": "math"|"code"|"plain", "prompt", "answer"} or {..., "tests": [...]}
// validated on load with errors naming file and line.
#pragma once

#include <string>
#include <vector>

#include "io/json.h"
#include "tokenizer/chat_template.h"

namespace acerl::data {

struct PromptRecord {
  std::string id;  // from "id", else "<file>:<line>"
  tokenizer::TaskKind kind = tokenizer::TaskKind::plain;
  std::string type;  // "math", "code" or "plain"
  std::string prompt;
  json::Value answer;  // math reference (string or number), null when absent
  json::Value tests;   // code test cases (array), null when absent
  std::string where;   // file:line, for messages
};

// `require_reference`: every record must carry what its reward needs ("answer" for math,
// "tests" for code) and a "type" (RL and evaluation); generation needs only "prompt".
std::vector<PromptRecord> load_prompts(const std::string& path, bool skip_bad_lines,
                                       bool require_reference);

}  // namespace acerl::data
