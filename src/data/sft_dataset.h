// defines: the SFT dataset: JSONL records ({"prompt", "response"} or {"messages": [...]}, with
// optional "id", "source", "type"), the deterministic selection of the data-scaling study
// (sft.max_prompts distinct prompts, sft.responses_per_prompt responses each), and
// tokenization through the chat template into documents with a loss mask on response tokens.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace acerl::data {

struct SftExample {
  std::string prompt_key;  // "id" when given, else the prompt text: groups responses of one prompt
  std::vector<tokenizer::Message> messages;  // ends with the assistant's response
};

struct Document {
  std::vector<int32_t> ids;
  std::vector<uint8_t> loss_mask;  // 1 on response tokens (what the model learns to produce)
};

struct SftLoadStats {
  int64_t records = 0, bad_lines = 0, prompts = 0, kept = 0, truncated = 0;
  int64_t no_response = 0;  // cut so short that no response token is left (dropped)
};

std::vector<SftExample> load_sft_examples(const std::string& path, bool skip_bad_lines,
                                          SftLoadStats* stats, const tokenizer::ChatTemplate& chat);
// Keeps `max_prompts` distinct prompts (0 = all), chosen by a seeded shuffle of the prompts, and
// the first `responses_per_prompt` responses (0 = all) of each, in file order.
std::vector<SftExample> select_examples(const std::vector<SftExample>& examples,
                                        int64_t max_prompts, int64_t responses_per_prompt,
                                        uint64_t seed, SftLoadStats* stats);
// Tokenizes; documents longer than max_len are cut to max_len (counted in stats->truncated),
// and dropped when no response token is left (stats->no_response).
std::vector<Document> tokenize_examples(const std::vector<SftExample>& examples,
                                        const tokenizer::Tokenizer& tok,
                                        const tokenizer::ChatTemplate& chat, int64_t max_len,
                                        SftLoadStats* stats);

}  // namespace acerl::data
