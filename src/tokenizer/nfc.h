// defines: nfc(), Unicode Normalization Form C of UTF-8 text: the "NFC" normalizer of a
// tokenizer.json, applied to the text between added tokens before it is pre-tokenized.
#pragma once

#include <string>
#include <string_view>

namespace acerl::tokenizer {

// NFC of `text` (valid UTF-8). Returns `text` itself when it is already NFC by the quick check
// (the common case: no character of it can change), else the normalised text written into
// `buffer`, which the result then points into.
std::string_view nfc(std::string_view text, std::string& buffer);

}  // namespace acerl::tokenizer
