// SFT records, selection and tokenization; see sft_dataset.h.
#include "data/sft_dataset.h"

#include <algorithm>
#include <map>
#include <random>

#include "data/jsonl.h"
#include "runtime/error.h"

namespace acerl::data {
namespace {

const std::string& string_field(const json::Value& record, const char* key,
                                const std::string& where) {
  const json::Value* v = record.find(key);
  ACERL_USAGE_CHECK(v, where, ": missing key \"", key, "\"");
  ACERL_USAGE_CHECK(v->is_string(), where, ": \"", key, "\" must be a string, found ",
                    json::Value::type_name(v->type()));
  return v->as_string();
}

SftExample parse_record(const json::Value& record, const std::string& where,
                        const tokenizer::ChatTemplate& chat) {
  SftExample ex;
  if (const json::Value* messages = record.find("messages")) {
    ACERL_USAGE_CHECK(messages->is_array() && !messages->as_array().empty(), where,
                      ": \"messages\" must be a non-empty array of {\"role\", \"content\"}");
    std::string prompt_text;
    for (const auto& m : messages->as_array()) {
      ACERL_USAGE_CHECK(m.is_object(), where, ": every message must be an object");
      tokenizer::Message msg{string_field(m, "role", where), string_field(m, "content", where)};
      ACERL_USAGE_CHECK(msg.role == "system" || msg.role == "user" || msg.role == "assistant",
                        where, ": message role '", msg.role, "' is not system, user or assistant");
      if (msg.role != "assistant") prompt_text += msg.role + ":" + msg.content + "\n";
      ex.messages.push_back(std::move(msg));
    }
    ACERL_USAGE_CHECK(ex.messages.back().role == "assistant", where,
                      ": the last message must be the assistant's response");
    ex.prompt_key = prompt_text;
  } else {
    const std::string& prompt = string_field(record, "prompt", where);
    const std::string& response = string_field(record, "response", where);
    tokenizer::TaskKind kind = tokenizer::TaskKind::plain;
    if (const json::Value* type = record.find("type"))
      kind = tokenizer::parse_task_kind(type->is_string() ? type->as_string() : json::dump(*type),
                                        where + " \"type\"");
    ex.messages = {{"user", chat.user_content(prompt, kind)}, {"assistant", response}};
    ex.prompt_key = prompt;
  }
  if (const json::Value* id = record.find("id")) {
    ACERL_USAGE_CHECK(id->is_string() || id->is_int(), where,
                      ": \"id\" must be a string or an integer");
    ex.prompt_key = id->is_string() ? id->as_string() : std::to_string(id->as_int());
  }
  return ex;
}

}  // namespace

std::vector<SftExample> load_sft_examples(const std::string& path, bool skip_bad_lines,
                                          SftLoadStats* stats,
                                          const tokenizer::ChatTemplate& chat) {
  std::vector<SftExample> out;
  JsonlStats js =
      read_jsonl(path, skip_bad_lines, [&](const json::Value& record, const std::string& where) {
        out.push_back(parse_record(record, where, chat));
      });
  ACERL_USAGE_CHECK(!out.empty(), "no usable records in '", path, "'");
  if (stats) {
    stats->records = js.records;
    stats->bad_lines = js.bad;
  }
  return out;
}

std::vector<SftExample> select_examples(const std::vector<SftExample>& examples,
                                        int64_t max_prompts, int64_t responses_per_prompt,
                                        uint64_t seed, SftLoadStats* stats) {
  // Prompts in first-appearance order, each with its responses in file order.
  std::vector<std::string> prompts;
  std::map<std::string, std::vector<size_t>> responses;
  for (size_t i = 0; i < examples.size(); ++i) {
    auto& list = responses[examples[i].prompt_key];
    if (list.empty()) prompts.push_back(examples[i].prompt_key);
    list.push_back(i);
  }
  if (max_prompts > 0 && max_prompts < static_cast<int64_t>(prompts.size())) {
    std::mt19937_64 rng(seed);
    std::shuffle(prompts.begin(), prompts.end(), rng);
    prompts.resize(static_cast<size_t>(max_prompts));
  }
  std::vector<size_t> keep;
  for (const auto& p : prompts) {
    const auto& list = responses[p];
    size_t n = responses_per_prompt > 0
                   ? std::min(list.size(), static_cast<size_t>(responses_per_prompt))
                   : list.size();
    keep.insert(keep.end(), list.begin(), list.begin() + static_cast<std::ptrdiff_t>(n));
  }
  std::sort(keep.begin(), keep.end());  // file order
  std::vector<SftExample> out;
  for (size_t i : keep) out.push_back(examples[i]);
  if (stats) {
    stats->prompts = static_cast<int64_t>(prompts.size());
    stats->kept = static_cast<int64_t>(out.size());
  }
  return out;
}

std::vector<Document> tokenize_examples(const std::vector<SftExample>& examples,
                                        const tokenizer::Tokenizer& tok,
                                        const tokenizer::ChatTemplate& chat, int64_t max_len,
                                        SftLoadStats* stats) {
  std::vector<Document> docs;
  docs.reserve(examples.size());
  for (const auto& ex : examples) {
    tokenizer::MaskedTokens t = chat.encode_conversation(tok, ex.messages);
    if (static_cast<int64_t>(t.ids.size()) > max_len) {
      t.ids.resize(static_cast<size_t>(max_len));
      t.loss_mask.resize(static_cast<size_t>(max_len));
      if (stats) ++stats->truncated;
      // A document whose response was cut away entirely teaches nothing: leave it out.
      if (std::find(t.loss_mask.begin() + 1, t.loss_mask.end(), 1) == t.loss_mask.end()) {
        if (stats) ++stats->no_response;
        continue;
      }
    }
    docs.push_back({std::move(t.ids), std::move(t.loss_mask)});
  }
  return docs;
}

}  // namespace acerl::data
