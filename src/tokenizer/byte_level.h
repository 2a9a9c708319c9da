// defines: the GPT-2 byte-to-unicode map of byte-level BPE: every byte is shown as a printable
// character so that vocabulary entries are text ("Ġthe" = " the"). Encoding maps the bytes of a
// pre-tokenized piece to these characters; decoding maps vocabulary entries back to bytes.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace acerl::tokenizer {

// The character that stands for byte b: printable Latin-1 bytes stand for themselves, the other
// 68 bytes for U+0100 onwards in byte order.
uint32_t byte_to_char(uint8_t b);
// The byte that code point cp stands for, or -1 when cp is not one of the 256 characters.
int char_to_byte(uint32_t cp);
// UTF-8 of the characters standing for `bytes`.
std::string byte_level_encode(std::string_view bytes);
// The bytes a vocabulary entry stands for. As the HF ByteLevel decoder does, an entry with any
// character outside the map (an added token such as "<tool call>") gives its own UTF-8 bytes.
std::string byte_level_decode(std::string_view token);

}  // namespace acerl::tokenizer
