// The byte-to-unicode map; see byte_level.h.
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode.h"

namespace acerl::tokenizer {
namespace {

bool printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

struct ByteMap {
  std::array<uint32_t, 256> to_char{};
  std::array<int16_t, 0x144> to_byte{};  // every mapped character is below U+0144
  ByteMap() {
    to_byte.fill(-1);
    uint32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      to_char[b] = printable(b) ? b : next++;
      to_byte[to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

uint32_t byte_to_char(uint8_t b) { return byte_map().to_char[b]; }

int char_to_byte(uint32_t cp) {
  return cp < byte_map().to_byte.size() ? byte_map().to_byte[cp] : -1;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) unicode::append_utf8(out, byte_to_char(static_cast<uint8_t>(b)));
  return out;
}

std::string byte_level_decode(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  uint32_t cp = 0;
  for (size_t pos = 0; pos < token.size();) {
    const int n = unicode::decode_utf8(token, pos, cp);
    const int b = n > 0 ? char_to_byte(cp) : -1;
    if (b < 0) return std::string(token);
    out += static_cast<char>(b);
    pos += n;
  }
  return out;
}

}  // namespace acerl::tokenizer
