// defines: SplitPattern and split(): the two pre-tokenizer regexes byte-level BPE tokenizers use
// (Qwen2's and GPT-2's), as hand-written matchers with the regex's leftmost-first, backtracking
// semantics. They cut normalised text into the pieces that BPE then encodes one at a time.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace acerl::tokenizer {

enum class SplitPattern { qwen2, gpt2 };

// The pattern a Split pre-tokenizer's regex denotes; throws UsageError naming `source` and the
// pattern when it is neither of the two supported ones.
SplitPattern parse_split_pattern(const std::string& regex, const std::string& source);
const char* pattern_text(SplitPattern pattern);

// Calls `emit` with the consecutive matches of `pattern` over `text` (valid UTF-8); together
// they cover `text` (every character matches some alternative of both patterns).
void split(SplitPattern pattern, std::string_view text,
           const std::function<void(std::string_view)>& emit);
// The same, appending the matches to `pieces`.
void split(SplitPattern pattern, std::string_view text, std::vector<std::string_view>& pieces);

}  // namespace acerl::tokenizer
