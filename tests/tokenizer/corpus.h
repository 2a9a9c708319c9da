// defines: tokenizer_corpus(), the varied texts the tokenizer tests compare against HF
// `tokenizers`: prose, code, LaTeX, numbers, white-space runs, CJK, emoji, combining marks,
// special tokens inside text, contractions, edge cases; and random_utf8_texts() (fixed seed).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace acerl::test {

std::vector<std::string> tokenizer_corpus();
// `count` random strings of characters drawn from many scripts, marks, emoji and white space.
std::vector<std::string> random_utf8_texts(int count, uint64_t seed);

}  // namespace acerl::test
