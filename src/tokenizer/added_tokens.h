// defines: AddedToken and AddedVocabulary: the tokens of tokenizer.json's `added_tokens`
// (<|im_start|>, <think>, ...) that are cut out of the text before normalisation and BPE, with
// the HF matching rules: leftmost-longest, `single_word`, `lstrip`/`rstrip` absorbing white space,
// and `normalized` tokens matched in the normalised text instead of the raw one.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace acerl::tokenizer {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false, single_word = false, lstrip = false, rstrip = false, normalized = false;
};

// A stretch of text: either an added token (id >= 0) or plain text to tokenize (id == -1).
struct Segment {
  std::string_view text;
  int32_t id = -1;
};

class AddedVocabulary {
 public:
  // `normalize` gives the form a `normalized` token is matched in.
  template <class Normalize>
  AddedVocabulary(std::vector<AddedToken> tokens, Normalize normalize);
  AddedVocabulary() = default;

  // Appends to `out` the segments of `text`, matching the tokens with `normalized` equal to
  // `normalized_text`. With `parse_special` false, special tokens are left as plain text.
  void split(std::string_view text, bool normalized_text, bool parse_special,
             std::vector<Segment>& out) const;
  bool has_normalized() const { return !normalized_.patterns.empty(); }
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  struct Matcher {
    std::vector<std::pair<std::string, size_t>> patterns;  // text, index into tokens_
    std::array<std::vector<size_t>, 256> by_first_byte;    // into patterns, longest first
    void build();
    // Leftmost-longest match at or after `from`: pattern index, or -1.
    long find(std::string_view text, size_t from, size_t& start) const;
  };
  std::vector<AddedToken> tokens_;
  Matcher raw_, normalized_;
};

template <class Normalize>
AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, Normalize normalize)
    : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const AddedToken& t = tokens_[i];
    if (t.content.empty()) continue;
    if (t.normalized) {
      normalized_.patterns.emplace_back(normalize(t.content), i);
    } else {
      raw_.patterns.emplace_back(t.content, i);
    }
  }
  raw_.build();
  normalized_.build();
}

}  // namespace acerl::tokenizer
