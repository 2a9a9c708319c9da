// Added-token matching; see added_tokens.h. The rules follow HF tokenizers' AddedVocabulary:
// matches are found left to right without overlap (leftmost, then longest); a match that fails
// its single_word condition, or is a special token while special tokens are not parsed, is
// dropped without searching inside it again.
#include "tokenizer/added_tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/unicode.h"

namespace acerl::tokenizer {
namespace {

// The code point that ends at byte `end` (exclusive) of valid UTF-8 text.
uint32_t char_before(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
  uint32_t cp = 0;
  unicode::decode_utf8(text, start, cp);
  return cp;
}

uint32_t char_at(std::string_view text, size_t pos) {
  uint32_t cp = 0;
  unicode::decode_utf8(text, pos, cp);
  return cp;
}

bool is_word(uint32_t cp) { return unicode::properties(cp) & unicode::kWord; }
bool is_space(uint32_t cp) { return unicode::properties(cp) & unicode::kSpace; }

// Start of the white-space run that ends at `end`.
size_t space_run_before(std::string_view text, size_t end) {
  while (end > 0) {
    const uint32_t cp = char_before(text, end);
    if (!is_space(cp)) break;
    size_t start = end - 1;
    while (start > 0 && (static_cast<uint8_t>(text[start]) & 0xC0) == 0x80) --start;
    end = start;
  }
  return end;
}

// End of the white-space run that starts at `pos`.
size_t space_run_after(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    uint32_t cp = 0;
    const int n = unicode::decode_utf8(text, pos, cp);
    if (n == 0 || !is_space(cp)) break;
    pos += n;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Matcher::build() {
  for (auto& bucket : by_first_byte) bucket.clear();
  for (size_t i = 0; i < patterns.size(); ++i)
    by_first_byte[static_cast<uint8_t>(patterns[i].first[0])].push_back(i);
  for (auto& bucket : by_first_byte)
    std::stable_sort(bucket.begin(), bucket.end(), [&](size_t a, size_t b) {
      return patterns[a].first.size() > patterns[b].first.size();
    });
}

long AddedVocabulary::Matcher::find(std::string_view text, size_t from, size_t& start) const {
  for (size_t pos = from; pos < text.size(); ++pos) {
    const auto& bucket = by_first_byte[static_cast<uint8_t>(text[pos])];
    for (size_t index : bucket) {
      const std::string& p = patterns[index].first;
      if (p.size() <= text.size() - pos &&
          std::memcmp(text.data() + pos, p.data(), p.size()) == 0) {
        start = pos;
        return static_cast<long>(index);
      }
    }
  }
  return -1;
}

void AddedVocabulary::split(std::string_view text, bool normalized_text, bool parse_special,
                            std::vector<Segment>& out) const {
  const Matcher& matcher = normalized_text ? normalized_ : raw_;
  size_t done = 0;  // text before this offset is already in `out`
  size_t from = 0, start = 0;
  long index;
  while (!matcher.patterns.empty() && (index = matcher.find(text, from, start)) >= 0) {
    const AddedToken& token = tokens_[matcher.patterns[index].second];
    size_t stop = start + matcher.patterns[index].first.size();
    from = stop;
    if (token.special && !parse_special) continue;
    if (token.single_word) {
      const bool word_before = start > 0 && is_word(char_before(text, start));
      const bool word_after = stop < text.size() && is_word(char_at(text, stop));
      if (word_before || word_after) continue;
    }
    if (token.lstrip) start = std::max(space_run_before(text, start), done);
    if (token.rstrip) stop = space_run_after(text, stop);
    if (done < start) out.push_back({text.substr(done, start - done), -1});
    out.push_back({text.substr(start, stop - start), token.id});
    done = from = stop;
  }
  if (done < text.size()) out.push_back({text.substr(done), -1});
}

}  // namespace acerl::tokenizer
