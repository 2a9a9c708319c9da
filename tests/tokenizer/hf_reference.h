// defines: helpers of the tokenizer tests: the real tokenizer files (Qwen, and GPT-2 built into
// tokenizer.json variants by make_gpt2_tokenizer.py), loaded once per test process, and
// hf_reference(), which asks the HF `tokenizers` library (tests/tokenizer/hf_tokenizer_ref.py).
#pragma once

#include <string>

#include "io/json.h"
#include "tokenizer/tokenizer.h"

namespace acerl::test {

// The directory holding qwen-tokenizer/ and gpt2-bpe/ (the project's shared data).
std::string tokenizer_data_dir();
std::string qwen_tokenizer_path();
// Path of a GPT-2 variant: "gpt2_pairs", "gpt2_strings", "gpt2_split" or "gpt2_added".
std::string gpt2_tokenizer_path(const std::string& variant);
// The tokenizer at `path`, loaded once and shared by the tests.
const tokenizer::Tokenizer& load_tokenizer(const std::string& path);
// Runs the reference script on `request` (see hf_tokenizer_ref.py) and returns its answer.
json::Value hf_reference(const std::string& tokenizer_path, const json::Value& request);
// A JSON array of strings / of id arrays.
json::Value json_strings(const std::vector<std::string>& texts);
json::Value json_ids(const std::vector<std::vector<int32_t>>& ids);
std::vector<int32_t> ids_of(const json::Value& array);

}  // namespace acerl::test
