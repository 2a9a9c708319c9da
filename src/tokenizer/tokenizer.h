// defines: Tokenizer, a Hugging Face tokenizer.json with a byte-level BPE model: text -> token ids
// (added tokens, NFC, Qwen2/GPT-2 split, BPE) and ids -> text. Everything in acerl that turns
// text into model input (SFT data, RL prompts, `acerl data tokenize`) goes through it.
// Copies share one immutable model; encode/decode are const and safe to call from many threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace acerl::tokenizer {

class TokenizerModel;

class Tokenizer {
 public:
  // Loads a tokenizer.json; throws UsageError naming the file and the unsupported or malformed
  // part (model type, normalizer, pre-tokenizer pattern, missing merges, ...).
  static Tokenizer from_file(const std::string& path);
  // The same from JSON text; `source` names it in errors.
  static Tokenizer from_json(std::string_view text, const std::string& source);

  // Token ids of `text` (UTF-8; UsageError if ill-formed), without any BOS/EOS: like HF
  // `encode(text, add_special_tokens=False)`. With `parse_special` false, special added tokens in
  // the text are encoded as plain text (non-special added tokens are still matched).
  std::vector<int32_t> encode(std::string_view text, bool parse_special = true) const;
  // Appends the ids of `text` to `out`.
  void encode_into(std::string_view text, std::vector<int32_t>& out,
                   bool parse_special = true) const;

  // Text of `ids`; byte sequences that are not valid UTF-8 (a character split across the end)
  // become U+FFFD, as in HF. Throws UsageError for an id outside the vocabulary.
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;
  std::string decode(const int32_t* ids, size_t count, bool skip_special = false) const;
  // The raw bytes token `id` stands for (for streaming output that splits characters).
  const std::string& token_bytes(int32_t id) const;

  // Id of a vocabulary entry or added token, e.g. "<|im_end|>"; UsageError when absent.
  int32_t token_id(std::string_view token) const;
  std::optional<int32_t> find_token(std::string_view token) const;
  bool is_special(int32_t id) const;
  // Number of ids: the largest id + 1 (HF get_vocab_size(with_added_tokens=True)).
  int64_t vocab_size() const;
  const std::string& source() const;

 private:
  explicit Tokenizer(std::shared_ptr<const TokenizerModel> model) : model_(std::move(model)) {}
  std::shared_ptr<const TokenizerModel> model_;
};

}  // namespace acerl::tokenizer
