// defines: the Unicode primitives of the tokenizer: strict UTF-8 decoding/encoding, character
// properties (\p{L}, \p{N}, \s, \w, NFC-unsafe) in a flat table built once from the generated
// ranges, combining classes, canonical decomposition and composition (with Hangul), and lossy
// UTF-8 repair for decoded token bytes. Used by nfc.cpp, pre_tokenizer.cpp and added_tokens.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace acerl::tokenizer::unicode {

enum Property : uint8_t {
  kLetter = 1,      // General_Category L*
  kNumber = 2,      // General_Category N*
  kSpace = 4,       // White_Space
  kWord = 8,        // \w (Alphabetic, Mark, Nd, Pc, Join_Control)
  kNfcUnsafe = 16,  // may change, or change a neighbour, under NFC
};

// Property bits of a code point (0 for unassigned and out-of-range values).
uint8_t properties(uint32_t cp);
// The table behind properties(): 0x110000 entries, for loops that look up every character.
const uint8_t* property_table();
constexpr uint32_t kMaxCodePoint = 0x10FFFF;

// Decodes the UTF-8 sequence starting at text[pos] into cp and returns its length (1-4), or 0
// when it is not well-formed (overlong, surrogate, above U+10FFFF, truncated).
int decode_utf8(std::string_view text, size_t pos, uint32_t& cp);
void append_utf8(std::string& out, uint32_t cp);
// Byte offset of the first ill-formed sequence, or npos when `text` is valid UTF-8.
size_t find_invalid_utf8(std::string_view text);
// Appends `bytes` with every maximal ill-formed subsequence replaced by U+FFFD (the policy of
// Rust's String::from_utf8_lossy, which the HF decoders use).
void append_utf8_lossy(std::string& out, std::string_view bytes);

uint8_t combining_class(uint32_t cp);
// Appends the full canonical decomposition of cp (cp itself when it has none).
void decompose(uint32_t cp, std::vector<uint32_t>& out);
// The primary composite of (first, second), or 0 when they do not compose.
uint32_t compose(uint32_t first, uint32_t second);

const char* version();  // Unicode version of the tables

}  // namespace acerl::tokenizer::unicode
