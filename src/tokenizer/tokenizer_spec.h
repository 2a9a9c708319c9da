// defines: TokenizerSpec and read_tokenizer_spec: what acerl takes from a Hugging Face
// tokenizer.json (vocabulary, merges in either form, added tokens, normalizer, pre-tokenizer
// steps), checked against what the byte-level BPE pipeline supports. Tokenizer is built from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/pre_tokenizer.h"

namespace acerl::tokenizer {

// One step of the pre-tokenizer, applied to every piece the previous steps produced.
struct PreTokenizerStep {
  enum class Kind { split, prefix_space } kind = Kind::split;
  SplitPattern pattern = SplitPattern::qwen2;  // for split
};

struct TokenizerSpec {
  std::string source;  // the file, for messages
  bool nfc = false;
  std::vector<PreTokenizerStep> pre_tokenizer;
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  bool ignore_merges = false;
  std::vector<AddedToken> added_tokens;
};

// Parses tokenizer.json text. Throws UsageError "<source>: <what is wrong> (<what is supported>)".
TokenizerSpec read_tokenizer_spec(std::string_view json_text, const std::string& source);

}  // namespace acerl::tokenizer
